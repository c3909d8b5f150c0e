"""The processes under test: the service and the reference app, each pinned to its core(s)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Final

import httpx

REPO: Final = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
# Settings the service reads; scrubbed from the inherited environment so that a developer's
# shell cannot change what is measured (a .env is avoided by running in an empty directory).
_SERVICE_VARIABLES: Final = (
    "ENV",
    "DATABASE_",
    "DATA_DIR",
    "BETTER_AUTH_",
    "CORS_ORIGINS",
    "ALLOW_SIGNUP",
    "COOKIE_SECURE",
    "FORWARDED_ALLOW_IPS",
    "LOG_LEVEL",
    "HOST",
    "PORT",
    "SHUTDOWN_TIMEOUT",
    "DB_",
    "RATE_LIMIT_",
    "METRICS_TOKEN",
    "WEB_CONCURRENCY",
    "PROMETHEUS_MULTIPROC_DIR",
)
Cores = int | Sequence[int] | None
"""One core, several, or None: wherever the kernel likes."""


class ServerFailed(RuntimeError):
    """A server did not start or died; the message ends with the tail of its log."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: Sequence[str], cpu: Cores) -> list[str]:
    """`argv` run on its core(s) with taskset, or as it is when there is no core to spare."""
    if cpu is None:
        return list(argv)
    cores = [cpu] if isinstance(cpu, int) else list(cpu)
    return ["taskset", "-c", ",".join(map(str, cores)), *argv]


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment without the service's settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVICE_VARIABLES)}
    env.update(extra)
    return env


class Server:
    """One HTTP server process on a loopback port, in a process group of its own."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log
        self.port = int(self.env["BENCH_PORT"])
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs, so it is the Python process)."""
        if self.process is None:
            raise ServerFailed(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        """Launch the process; its output goes to its log file."""
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the harness only; it stops us in order
        )

    async def wait_ready(self, path: str = "/healthz") -> None:
        """Poll `path` until it answers 200; ServerFailed if the process dies or time runs out."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                self.check_alive()
                try:
                    if (await client.get(path)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise ServerFailed(f"{self.name} was not ready within {READY_TIMEOUT_S:.0f} s{self.tail()}")

    def check_alive(self) -> None:
        """ServerFailed, with the log's tail, if the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ServerFailed(f"{self.name} exited with {self.process.returncode}{self.tail()}")

    def processes(self) -> list[int]:
        """The server's process and its workers: every process of its group, alive now."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = _stat_fields(int(entry.name))
                except (FileNotFoundError, ProcessLookupError):
                    continue
                # pgrp is field 5 of stat(5); the server leads a session (and group) of its own.
                if int(fields[2]) == self.pid:
                    found.append(int(entry.name))
        return found

    def rss_mb(self) -> float:
        """Resident memory now of all its processes, from /proc/<pid>/status (VmRSS)."""
        total = 0
        for pid in self.processes():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        if not total:
            raise ServerFailed(f"no VmRSS for {self.name}")
        return total / 1024

    def cpu_seconds(self) -> float:
        """User plus system CPU time its processes have used so far (/proc/<pid>/stat)."""
        return sum(process_cpu_seconds(pid) for pid in self.processes())

    def loaded(self, library: str) -> bool:
        """Whether a shared object whose path contains `library` is mapped (e.g. uvloop)."""
        for pid in self.processes():
            maps = Path(f"/proc/{pid}/maps").read_text()
            if any(library in line for line in maps.splitlines() if line.endswith(".so")):
                return True
        return False

    def tail(self, lines: int = 30) -> str:
        """The last lines of the server's log, for error messages."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n--- last lines of " + str(self.log_path) + " ---\n" + "\n".join(text)

    def stop(self) -> None:
        """SIGTERM, a grace period, then SIGKILL to the server's own process group."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time one process has used so far (/proc/<pid>/stat)."""
    fields = _stat_fields(pid)
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # After the command name, which may hold spaces and parentheses; fields[0] is field 3.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def service(
    *,
    database_url: str,
    secret: str,
    log_level: str,
    workdir: Path,
    cpu: Cores,
    name: str = "service",
    extra_env: Mapping[str, str] | None = None,
) -> Server:
    """The service as deployed (`taskservice serve`: uvicorn, uvloop and httptools; 1 worker
    unless `extra_env` sets WEB_CONCURRENCY)."""
    port = free_port()
    env = clean_environment(
        {
            "BENCH_PORT": str(port),
            "DATABASE_URL": database_url,
            "BETTER_AUTH_SECRET": secret,
            "LOG_LEVEL": log_level,
            "DATA_DIR": str(workdir / "data"),
            "SHUTDOWN_TIMEOUT": "3",
            **(extra_env or {}),
        }
    )
    argv = [sys.executable, "-m", "taskservice.cli", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port)]
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    return Server(name, pinned(argv, cpu), env, home, workdir / f"{name}.log")


def reference(*, database_url: str, secret: str, workdir: Path, cpu: int | None) -> Server:
    """The reference app under the same uvicorn settings."""
    port = free_port()
    env = clean_environment(
        {"BENCH_PORT": str(port), "BENCH_DATABASE_URL": database_url, "BETTER_AUTH_SECRET": secret}
    )
    argv = [sys.executable, "-m", "uvicorn", "--factory", "bench.reference:create_app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    argv += ["--timeout-graceful-shutdown", "3"]
    return Server("reference", pinned(argv, cpu), env, REPO, workdir / "reference.log")
