"""Programs a test starts: on a free loopback port, awaited until they answer, always stopped.

`started(...)` runs a program in a process group of its own with its output in a file, waits until
a readiness probe (`tcp_answers`, `http_answers`) says yes, and on exit, also when the test fails,
stops the whole group with SIGTERM, then SIGKILL. `program(...)` finds an installed program or
skips the test, and fails it in CI (`CI=true`), where every program must be there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, NoReturn

import attrs
import httpx
import pytest

LOOPBACK: Final = "127.0.0.1"
START_WITHIN: Final = 20.0
STOP_WITHIN: Final = 5.0
_POLL_S: Final = 0.02
# Root's PATH has the sbin directories; a developer's may not, and Debian puts daemons there.
_SBIN: Final = ("/usr/sbin", "/sbin")

Ready = Callable[[], Awaitable[bool]]
"""A readiness probe: answers True once the program serves."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def unavailable(reason: str) -> NoReturn:
    """Skip the test for something missing from this machine; in CI, fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason}; CI must run this test (.ci/run installs or starts it)", pytrace=False
        )
    pytest.skip(reason)


def installed(name: str) -> str | None:
    """The path of the program `name` on PATH or in the sbin directories; None when missing."""
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN]))


def program(name: str, *, package: str) -> str:
    """The path of the installed program `name`, or the test skips (fails in CI) naming `package`."""
    found = installed(name)
    if found is None:
        unavailable(f"{name} is not installed (Debian package {package})")
    return found


def tcp_answers(port: int, host: str = LOOPBACK) -> Ready:
    """A probe: does a TCP connection to `host:port` succeed?"""

    async def probe() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    return probe


def http_answers(url: str, status: int = 200) -> Ready:
    """A probe: does a GET of `url` answer `status`?"""

    async def probe() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                return (await client.get(url)).status_code == status
        except httpx.TransportError:
            return False

    return probe


@attrs.frozen
class Started:
    """A running program, the process group it leads, and the file its output goes to."""

    argv: tuple[str, ...]
    process: asyncio.subprocess.Process
    output_file: Path

    @property
    def pid(self) -> int:
        """The program's process id, which is also its process group's."""
        return self.process.pid

    def output(self) -> str:
        """Everything the program wrote to stdout and stderr so far."""
        return self.output_file.read_text(errors="replace")

    async def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash would, and reap the program."""
        _signal_group(self.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self, within: float = STOP_WITHIN) -> int | None:
        """SIGTERM the group; SIGKILL what is left after `within` seconds. The exit code."""
        if self.process.returncode is None:
            _signal_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), within)
        # Also children the program left behind in its group.
        _signal_group(self.pid, signal.SIGKILL)
        await self.process.wait()
        return self.process.returncode


@asynccontextmanager
async def started(
    argv: Sequence[str | Path],
    *,
    ready: Ready,
    output: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    start_within: float = START_WITHIN,
    stop_within: float = STOP_WITHIN,
) -> AsyncIterator[Started]:
    """Run `argv` (as `user`, if given) until `ready`; stop it and its children on exit."""
    command = tuple(str(part) for part in argv)
    # As another user, only that user's own groups: no supplementary groups inherited from root.
    identity = {} if user is None else _identity(user)
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=env,
            **identity,
            # A group of its own: stopping it reaches whatever the program started.
            process_group=0,
        )
    running = Started(command, process, output)
    try:
        await _wait_until_ready(running, ready, start_within)
        yield running
    finally:
        await running.stop(stop_within)


async def _wait_until_ready(running: Started, ready: Ready, within: float) -> None:
    deadline = time.monotonic() + within
    name = Path(running.argv[0]).name
    while not await ready():
        if running.process.returncode is not None:
            raise RuntimeError(
                f"{name} exited with {running.process.returncode} before it answered:\n"
                f"{running.output()}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not answer within {within} s:\n{running.output()}")
        await asyncio.sleep(_POLL_S)


def _identity(user: str) -> dict[str, Any]:
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _signal_group(pid: int, signum: signal.Signals) -> None:
    # The group is gone once all its members have exited.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
