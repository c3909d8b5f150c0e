"""The real `better-auth` npm package for tests: installed once per lock file, run with Node.

`tests/js` holds the package manifest, its pinned lock file and one script. `tests.infra.npm`
installs the lock file into a cache outside the repository, once per lock file on the machine; each
run then copies the script beside a link to those packages and runs its commands with `node`,
offline.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from tests.infra.npm import node_modules
from tests.infra.processes import program, unavailable

HARNESS: Final = Path(__file__).parent / "js"
SCRIPT: Final = "better_auth.mjs"
MIN_NODE: Final = 20
RUN_TIMEOUT_S: Final = 120


def _node() -> str:
    node = program("node", package="nodejs")
    version = subprocess.run(  # noqa: S603 - our own fixed command
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major[1]) < MIN_NODE:
        unavailable(f"Node {MIN_NODE} or newer is needed, not {version.strip() or 'unknown'}")
    return node


@attrs.frozen
class BetterAuthJs:
    """Runs the commands of `tests/js/better_auth.mjs` against the installed better-auth."""

    node: str
    workdir: Path

    @classmethod
    def prepare(cls, workdir: Path) -> BetterAuthJs:
        """The harness in `workdir`: the script, beside a link to the cached packages."""
        node = _node()
        modules = node_modules(HARNESS)
        shutil.copy2(HARNESS / SCRIPT, workdir / SCRIPT)
        (workdir / "node_modules").symlink_to(modules, target_is_directory=True)
        return cls(node, workdir)

    async def run(self, command: str, payload: Mapping[str, Any]) -> Any:
        """The JSON answer of `command` to `payload`; AssertionError if the script fails."""
        process = await asyncio.create_subprocess_exec(
            self.node,
            SCRIPT,
            command,
            cwd=self.workdir,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Not "production": Better Auth would then name its cookies `__Secure-…`.
            env={**os.environ, "NODE_ENV": "test"},
        )
        try:
            async with asyncio.timeout(RUN_TIMEOUT_S):
                out, err = await process.communicate(json.dumps(payload).encode())
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise AssertionError(f"`node {SCRIPT} {command}` failed: {err.decode()[-2000:]}")
        return json.loads(out)
