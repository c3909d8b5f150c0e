"""The service itself as a real process: `taskservice serve` on a free loopback port.

`service(env, workdir)` starts it in a process group of its own (tests.infra.processes), waits
for `/healthz`, and stops the group on exit. `service_environment(...)` is a production-like
environment holding nothing of ours but PATH. The running `Service` reads its JSON log lines,
and tells which worker process answered a request on a connection (`worker_of`), by the `pid`
of the request's log line.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import httpx

from tests.infra.processes import LOOPBACK, Started, free_port, http_answers, started
from tests.tokens import SECRET

LOG_WITHIN: Final = 5.0
FIND_WORKERS_WITHIN: Final = 20.0


def service_environment(database_url: str, **settings: str) -> dict[str, str]:
    """A production-like environment on a free port, plus `settings`; of ours only PATH."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "ENV": "production",
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": SECRET.decode(),
        "HOST": LOOPBACK,
        "PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        **settings,
    }


@attrs.frozen
class Service:
    """A running `taskservice serve`: where it listens, its process group and its output."""

    url: str
    address: str
    """`host:port`, as a load balancer names its servers."""
    process: Started

    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far, each parsed as JSON (a line that is not JSON fails)."""
        return [json.loads(line) for line in self.process.output().splitlines()]

    def events(self, event: str) -> list[dict[str, Any]]:
        """The log lines of one `event`."""
        return [line for line in self.lines() if line.get("event") == event]

    async def pid_of(self, request_id: str) -> int:
        """The pid on the `request` log line of `request_id`, waiting for it to be written."""
        deadline = time.monotonic() + LOG_WITHIN
        while time.monotonic() < deadline:
            for line in self.events("request"):
                if line["request_id"] == request_id:
                    pid: int = line["pid"]
                    return pid
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no request line for {request_id}:\n{self.process.output()}")

    async def worker_of(self, client: httpx.AsyncClient) -> int:
        """The pid of the worker that answers `client` on its connection (kept alive)."""
        request_id = f"probe-{secrets.token_hex(8)}"
        response = await client.get("/healthz", headers={"X-Request-ID": request_id})
        response.raise_for_status()
        return await self.pid_of(request_id)

    @asynccontextmanager
    async def clients_per_worker(
        self, workers: int, per_worker: int
    ) -> AsyncIterator[dict[int, list[httpx.AsyncClient]]]:
        """`per_worker` clients, each on one kept-alive connection, for each of `workers` pids.

        Which worker accepts a new connection is up to the kernel, so new connections are
        made until every worker has enough; the rest are closed.
        """
        found: dict[int, list[httpx.AsyncClient]] = defaultdict(list)
        deadline = time.monotonic() + FIND_WORKERS_WITHIN
        async with AsyncExitStack() as stack:
            while len(found) < workers or any(len(c) < per_worker for c in found.values()):
                if time.monotonic() > deadline:
                    counts = {pid: len(c) for pid, c in found.items()}
                    raise TimeoutError(
                        f"connections by worker after {FIND_WORKERS_WITHIN} s: {counts}"
                    )
                client = httpx.AsyncClient(
                    base_url=self.url, timeout=30, limits=httpx.Limits(max_connections=1)
                )
                stack.push_async_callback(client.aclose)
                pid = await self.worker_of(client)
                if len(found[pid]) < per_worker:
                    found[pid].append(client)
                else:
                    await client.aclose()
            if len(found) != workers:
                raise AssertionError(f"expected {workers} workers, found {sorted(found)}")
            yield dict(found)


@asynccontextmanager
async def service(
    env: dict[str, str], workdir: Path, name: str = "service"
) -> AsyncIterator[Service]:
    """`taskservice serve` with `env` in `workdir`, answering /healthz; its group stopped on exit."""
    url = f"http://{env['HOST']}:{env['PORT']}"
    async with started(
        [sys.executable, "-m", "taskservice.cli", "serve"],
        ready=http_answers(f"{url}/healthz"),
        output=workdir / f"{name}.log",
        cwd=workdir,
        env=env,
        stop_within=float(env.get("SHUTDOWN_TIMEOUT", "20")) + 5,
    ) as process:
        yield Service(url, f"{env['HOST']}:{env['PORT']}", process)
