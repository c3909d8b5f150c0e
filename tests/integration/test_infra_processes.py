"""The process helper the harnesses share: it waits for an answer and always leaves nothing behind."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.infra.processes import LOOPBACK, free_port, http_answers, program, started, tcp_answers

SERVE = [sys.executable, "-m", "http.server", "--bind", LOOPBACK]


def gone(pid: int) -> bool:
    """Whether no process `pid` exists any more (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


async def gone_within(pid: int, seconds: float) -> bool:
    """Whether process `pid` is gone within `seconds`."""
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_it_waits_until_the_program_answers_and_stops_it_on_exit(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}/"
    async with started(
        [*SERVE, str(port)], ready=http_answers(url), output=tmp_path / "out", cwd=tmp_path
    ) as server:
        assert await tcp_answers(port)()
    assert server.process.returncode is not None
    assert not await tcp_answers(port)()


async def test_a_failing_test_leaves_neither_the_program_nor_its_children(tmp_path: Path) -> None:
    port = free_port()
    # The shell starts a child, then becomes the server: both are in the program's group.
    script = f"sleep 300 & echo $! > child.pid; exec {' '.join(SERVE)} {port}"
    pids: list[int] = []
    with pytest.raises(ZeroDivisionError):
        await fail_while_running(["sh", "-c", script], port, tmp_path, pids)
    server, child = pids
    assert gone(server)
    assert await gone_within(child, 5)


async def fail_while_running(argv: list[str], port: int, tmp: Path, pids: list[int]) -> None:
    """Start `argv`, note its pid and its child's, and fail as a test would."""
    async with started(argv, ready=tcp_answers(port), output=tmp / "out", cwd=tmp) as server:
        pids += [server.pid, int((tmp / "child.pid").read_text())]
        assert not any(gone(pid) for pid in pids)
        raise ZeroDivisionError


async def test_a_program_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    port = free_port()
    script = f"trap '' TERM; exec {' '.join(SERVE)} {port}"
    async with started(
        ["sh", "-c", script],
        ready=tcp_answers(port),
        output=tmp_path / "out",
        cwd=tmp_path,
        stop_within=0.5,
    ) as server:
        pass
    assert server.process.returncode == -9


async def test_a_program_that_exits_early_is_reported_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"(?s)sh exited with 3 before it answered:.*no config"):
        async with started(
            ["sh", "-c", "echo no config >&2; exit 3"],
            ready=tcp_answers(free_port()),
            output=tmp_path / "out",
        ):
            pass


async def test_a_program_that_never_answers_is_reported_and_stopped(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match=r"did not answer within 0\.3 s"):
        async with started(
            ["sh", "-c", "echo $$ > pid; exec sleep 300"],
            ready=tcp_answers(free_port()),
            output=tmp_path / "out",
            cwd=tmp_path,
            start_within=0.3,
        ):
            pass
    assert gone(int((tmp_path / "pid").read_text()))


def test_a_missing_program_skips_the_test_locally_and_fails_it_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(
        pytest.skip.Exception, match=r"^absent is not installed \(Debian package x\)"
    ):
        program("absent", package="x")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        program("absent", package="x")
    assert program("sh", package="dash").endswith("/sh")
