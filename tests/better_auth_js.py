"""The real `better-auth` npm package for tests: installed once per lock file, run with Node.

`tests/js` holds the package manifest, its pinned lock file and one script. `npm ci` installs the
lock file into a cache outside the repository (`$XDG_CACHE_HOME/taskservice-tests`, keyed by the
manifest and lock file), once for every test run on the machine; each run then copies the script
beside a link to those packages and runs its commands with `node`, offline.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, NoReturn

import attrs
import pytest

HARNESS: Final = Path(__file__).parent / "js"
SCRIPT: Final = "better_auth.mjs"
MANIFESTS: Final = ("package.json", "package-lock.json")
MIN_NODE: Final = 20
INSTALL_TIMEOUT_S: Final = 600
RUN_TIMEOUT_S: Final = 120


def _unavailable(reason: str) -> NoReturn:
    # The packages are an external service of sorts: skipped on a laptop without them, never in CI.
    if os.environ.get("CI") == "true":
        pytest.fail(f"The better-auth harness is required in CI: {reason}")
    pytest.skip(f"The better-auth harness is unavailable: {reason}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _unavailable(f"`{name}` is not on PATH")
    return path


def _node() -> str:
    node = _tool("node")
    version = subprocess.run(  # noqa: S603 - our own fixed command
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major[1]) < MIN_NODE:
        _unavailable(f"Node {MIN_NODE} or newer is needed, not {version.strip() or 'unknown'}")
    return node


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    # Several test runs on one machine may install at once; one does, the others wait.
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def installed_packages() -> Path:
    """The `node_modules` of the harness's lock file, installed by `npm ci` if not yet cached."""
    digest = hashlib.sha256(b"".join((HARNESS / name).read_bytes() for name in MANIFESTS))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskservice-tests"
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / f"better-auth-{digest.hexdigest()[:16]}"
    with _exclusive(cache / f"{root.name}.lock"):
        if not (root / ".installed").exists():
            _install(root)
    return root / "node_modules"


def _install(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
    try:
        for name in MANIFESTS:
            shutil.copy2(HARNESS / name, staging / name)
        command = [_tool("npm"), "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        try:
            done = subprocess.run(  # noqa: S603 - our own fixed command
                command,
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            _unavailable(f"`npm ci` took longer than {INSTALL_TIMEOUT_S} s")
        if done.returncode != 0:
            _unavailable(f"`npm ci` failed ({done.returncode}): {done.stderr[-2000:]}")
        (staging / ".installed").touch()
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@attrs.frozen
class BetterAuthJs:
    """Runs the commands of `tests/js/better_auth.mjs` against the installed better-auth."""

    node: str
    workdir: Path

    @classmethod
    def prepare(cls, workdir: Path) -> BetterAuthJs:
        """The harness in `workdir`: the script, beside a link to the cached packages."""
        node = _node()
        modules = installed_packages()
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
