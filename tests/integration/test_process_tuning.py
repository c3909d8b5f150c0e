"""The served process: the app factory tunes the garbage collector for many small requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from taskservice.asgi import YOUNG_GC_THRESHOLD

_PROBE = """
import gc, json
before = gc.get_freeze_count()
from taskservice.asgi import create_app
create_app()
print(json.dumps({"threshold": gc.get_threshold()[0], "frozen": gc.get_freeze_count() - before}))
"""


def test_the_app_factory_freezes_start_up_objects_and_raises_the_young_threshold(
    tmp_path: Path,
) -> None:
    # In a process of its own: the settings are process-wide.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tasks.db'}",
        "DATA_DIR": str(tmp_path),
    }
    probe = [sys.executable, "-c", _PROBE]
    # Our own interpreter and a fixed script: no outside input reaches the command line.
    run = subprocess.run(probe, check=False, env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["threshold"] == YOUNG_GC_THRESHOLD
    # Every module and object of start-up is kept out of later collections.
    assert seen["frozen"] > 10_000
