"""The real `taskservice serve` process: SIGTERM drains in-flight requests, frees the pool, exits 0.

Alone, and as WEB_CONCURRENCY workers under one port: then every worker drains its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import pytest

from tests.faulty_proxy import LOOPBACK, FaultyProxy
from tests.infra.processes import free_port
from tests.infra.service import service
from tests.infra.service import service_environment as production_environment
from tests.integration.sql_backends import migrated_postgres
from tests.tokens import SECRET, hs256

BURST: Final = 8
WORKERS: Final = 2
ROUND_TRIP_DELAY: Final = 0.3
START_WITHIN: Final = 15.0


def service_environment(database_url: str, port: int) -> dict[str, str]:
    """A production-like environment for the child process, and nothing from ours but PATH."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "ENV": "production",
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": SECRET.decode(),
        "HOST": LOOPBACK,
        "PORT": str(port),
        "DB_POOL_SIZE": str(BURST + 2),
        "SHUTDOWN_TIMEOUT": "15",
        "LOG_LEVEL": "INFO",
    }


@asynccontextmanager
async def serving(env: dict[str, str], tmp: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`taskservice serve` in a child process with stdout in `tmp/stdout`, killed if left running."""
    with (tmp / "stdout").open("wb") as out, (tmp / "stderr").open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "taskservice.cli",
            "serve",
            cwd=tmp,
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_until_healthy(base_url: str) -> None:
    """Polls /healthz until the child answers."""
    deadline = time.monotonic() + START_WITHIN
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail("the service did not start")


def connection_refused(port: int) -> bool:
    """Whether a new TCP connection to the port is refused."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((LOOPBACK, port)) != 0


async def refused_within(port: int, seconds: float) -> bool:
    """Whether new connections to the port are refused within `seconds`."""
    for _ in range(int(seconds / 0.05)):
        if connection_refused(port):
            return True
        await asyncio.sleep(0.05)
    return False


async def sessions_on(database_url: str) -> int:
    """How many server sessions are connected to the database of `database_url`."""
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return count


def log_lines(tmp: Path) -> list[dict[str, object]]:
    """Every line the child wrote to stdout, each parsed as JSON."""
    return [json.loads(line) for line in (tmp / "stdout").read_text().splitlines()]


@pytest.mark.postgres
async def test_sigterm_drains_admitted_requests_releases_the_pool_and_exits_0(
    tmp_path: Path,
) -> None:
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    user = "shutdown-user"
    headers = {"Authorization": f"Bearer {hs256(user)}"}
    async with (
        migrated_postgres() as url,
        FaultyProxy.to(url) as proxy,
        serving(service_environment(proxy.url(url), port), tmp_path) as process,
    ):
        await wait_until_healthy(base_url)
        # Every request of the burst is slow: each of its round trips to the database waits.
        proxy.delay = ROUND_TRIP_DELAY
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            burst = [
                asyncio.create_task(client.get(f"/api/{user}/tasks", headers=headers))
                for _ in range(BURST)
            ]
            # Admitted: each request has reached the database, so the app is working on it.
            async with asyncio.timeout(10):
                await proxy.wait_for_links(BURST)
            process.send_signal(signal.SIGTERM)
            assert await refused_within(port, 2)
            assert not all(task.done() for task in burst), "the burst ended before the signal"
            proxy.delay = 0
            async with asyncio.timeout(20):
                responses = await asyncio.gather(*burst)
        async with asyncio.timeout(20):
            exit_code = await process.wait()

        assert [r.status_code for r in responses] == [200] * BURST
        assert exit_code == 0, (tmp_path / "stderr").read_text()
        # The pool said goodbye on every connection, rather than the process just vanishing.
        assert proxy.clean_closes >= BURST
        assert proxy.dirty_closes == 0
        # PostgreSQL ends a session's backend shortly after its client has gone.
        for _ in range(100):
            if not await sessions_on(url):
                break
            await asyncio.sleep(0.05)
        assert await sessions_on(url) == 0
    events = [line["event"] for line in log_lines(tmp_path)]
    assert events.count("request") >= BURST
    assert "service stopped" in events


async def test_production_without_a_secret_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "ENV": "production", "HOST": LOOPBACK}
    env["PORT"] = str(free_port())
    async with serving(env, tmp_path) as process, asyncio.timeout(START_WITHIN):
        exit_code = await process.wait()

    assert exit_code != 0
    assert "BETTER_AUTH_SECRET" in (tmp_path / "stderr").read_text()


@pytest.mark.postgres
async def test_sigterm_drains_every_worker_refuses_newcomers_at_once_and_exits_0(
    tmp_path: Path, redis_url: str
) -> None:
    user = "shutdown-workers-user"
    headers = {"Authorization": f"Bearer {hs256(user)}"}
    async with migrated_postgres() as url, FaultyProxy.to(url) as proxy:
        env = production_environment(
            proxy.url(url),
            WEB_CONCURRENCY=str(WORKERS),
            RATE_LIMIT_STORAGE=redis_url,
            DB_POOL_SIZE=str(BURST + 2),
            SHUTDOWN_TIMEOUT="15",
        )
        async with (
            service(env, tmp_path) as served,
            served.clients_per_worker(WORKERS, BURST // WORKERS) as clients,
        ):
            proxy.delay = ROUND_TRIP_DELAY
            burst = {
                f"burst-{pid}-{n}": asyncio.create_task(
                    client.get(
                        f"/api/{user}/tasks",
                        headers={**headers, "X-Request-ID": f"burst-{pid}-{n}"},
                    )
                )
                for pid, workers_clients in clients.items()
                for n, client in enumerate(workers_clients)
            }
            # Admitted: each request has reached the database, in both workers.
            async with asyncio.timeout(10):
                await proxy.wait_for_links(BURST)
            served.process.process.send_signal(signal.SIGTERM)
            # The arbiter closes its listening socket before it signals the workers: a newcomer
            # is refused (a balancer retries it elsewhere), not accepted and left unanswered.
            assert await refused_within(int(env["PORT"]), 2)
            assert not any(task.done() for task in burst.values()), "the burst ended early"
            proxy.delay = 0
            async with asyncio.timeout(20):
                responses = await asyncio.gather(*burst.values())
            async with asyncio.timeout(25):
                exit_code = await served.process.process.wait()

        assert [r.status_code for r in responses] == [200] * BURST
        assert exit_code == 0, served.process.output()
        assert proxy.clean_closes >= BURST
        assert proxy.dirty_closes == 0
        for _ in range(100):
            if not await sessions_on(url):
                break
            await asyncio.sleep(0.05)
        assert await sessions_on(url) == 0
    # Every line says which process wrote it: the arbiter's own, and each worker's.
    lines = served.lines()
    assert all(isinstance(line["pid"], int) for line in lines)
    drained = {line["pid"] for line in lines if line.get("request_id") in burst}
    stopped = {line["pid"] for line in served.events("service stopped")}
    assert drained == stopped == set(clients)
    assert {line["pid"] for line in lines} == {served.process.pid, *clients}
