"""npm packages that a harness runs with node, installed outside the repository.

`node_modules(directory)` installs `directory`'s committed package.json and package-lock.json with
`npm ci --ignore-scripts` into `~/.cache/taskservice-tests/npm/<hash of both files>/` (or under
`$XDG_CACHE_HOME`) once, and returns that `node_modules`: a changed lock file gets a directory of
its own, and concurrent test runs each install into a staging directory and rename it into place.
`python -m tests.infra.npm DIRECTORY…` does the same (`.ci/run` calls it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from tests.infra.processes import program

MANIFESTS: Final = ("package.json", "package-lock.json")
INSTALL_WITHIN: Final = 300


def node_modules(directory: Path) -> Path:
    """The installed `node_modules` for the npm package in `directory`."""
    digest = hashlib.sha256()
    for name in MANIFESTS:
        digest.update((directory / name).read_bytes())
    cache = _cache_root()
    installed = cache / digest.hexdigest()[:20]
    if not (installed / "node_modules").is_dir():
        npm = program("npm", package="npm")
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=cache))
        try:
            for name in MANIFESTS:
                shutil.copyfile(directory / name, staging / name)
            done = subprocess.run(  # noqa: S603 (npm from PATH, fixed arguments)
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=staging,
                check=False,
                capture_output=True,
                text=True,
                timeout=INSTALL_WITHIN,
            )
            if done.returncode != 0:
                raise RuntimeError(f"npm ci for {directory} failed:\n{done.stderr}{done.stdout}")
            # Atomic: another run that installed the same lock file first keeps its copy.
            os.rename(staging, installed)
        except OSError:
            if not (installed / "node_modules").is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return installed / "node_modules"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "taskservice-tests" / "npm"


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(node_modules(Path(argument)))
