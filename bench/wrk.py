"""Driving a server with wrk (Debian's package) and reading the numbers its Lua scripts print."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from bench.servers import pinned

LUA_DIR: Final = Path(__file__).resolve().parent / "lua"
_MARKER: Final = "BENCH_RESULT "
TIMEOUT_S: Final = 5


class WrkFailed(RuntimeError):
    """wrk could not be run or printed no result."""


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk is missing; installing it with apt-get")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise WrkFailed("apt-get install wrk did not provide a wrk command")
    return found


@attrs.frozen(kw_only=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles, statuses and socket errors."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    server_cpu_s: float = 0.0
    """CPU the server used during the run (set by the caller, who knows the process)."""

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per request: steadier than req/s on a shared machine."""
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def errors(self, expected: int) -> int:
        """Answers with another status than `expected`, plus socket errors and timeouts."""
        unexpected = sum(n for status, n in self.statuses.items() if status != expected)
        return unexpected + sum(self.socket_errors.values())

    def as_json(self, expected: int) -> dict[str, Any]:
        """The run as plain data for the results file."""
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "server_cpu_s": round(self.server_cpu_s, 3),
            "cpu_us_per_request": round(self.cpu_us, 1),
            "errors": self.errors(expected),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
        }


def parse(output: str) -> WrkResult:
    """The result line our Lua `done` prints; WrkFailed when there is none."""
    line = next((x for x in output.splitlines() if x.startswith(_MARKER)), None)
    if line is None:
        raise WrkFailed(f"wrk printed no result:\n{output}")
    raw = json.loads(line.removeprefix(_MARKER))
    latency = raw["latency_us"]
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        statuses={int(k): v for k, v in raw["statuses"].items()},
        socket_errors=raw["socket_errors"],
    )


@attrs.frozen(kw_only=True)
class Load:
    """How hard and how long to drive: the same for every run of a benchmark."""

    connections: int = 32
    seconds: float = 5.0
    threads: int = 1
    cpu: int | None = None


async def run(url: str, script: str, args: Sequence[str], load: Load) -> WrkResult:
    """Drive `url` with `bench/lua/<script>.lua` for `load.seconds`; the parsed result."""
    argv = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{load.seconds:g}s",
        f"--timeout={TIMEOUT_S}s",
        "-s",
        str(LUA_DIR / f"{script}.lua"),
        url,
        "--",
        *args,
    ]
    env = os.environ | {"BENCH_LUA_DIR": str(LUA_DIR)}
    process = await asyncio.create_subprocess_exec(
        *pinned(argv, load.cpu),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        stdout, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = stdout.decode(errors="replace")
    if process.returncode != 0:
        raise WrkFailed(f"wrk exited with {process.returncode}:\n{output}")
    return parse(output)
