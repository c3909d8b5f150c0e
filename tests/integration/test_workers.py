"""`taskservice serve` with WEB_CONCURRENCY workers (SPEC §9): one /metrics for all of them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Final

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.infra.service import Service, service, service_environment
from tests.integration.sql_backends import migrated_postgres, migrated_sqlite
from tests.tokens import hs256

WORKERS: Final = 2
POOL: Final = 3
REQUESTS_PER_CLIENT: Final = 3
LIST: Final = "/api/{user_id}/tasks"
REPLACED_WITHIN: Final = 20.0


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of the one sample `name` with `labels` among them, from /metrics' text."""
    found = [
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    ]
    assert len(found) == 1, f"{len(found)} samples {name} {labels}"
    return found[0]


async def scrape(served: Service) -> str:
    """/metrics as whichever worker takes a new connection answers it."""
    async with httpx.AsyncClient(base_url=served.url) as client:
        response = await client.get("/metrics")
    response.raise_for_status()
    return response.text


async def replaced(served: Service, dead: int, survivor: int) -> int:
    """The pid of the worker gunicorn starts in place of `dead`, once it answers."""
    deadline = time.monotonic() + REPLACED_WITHIN
    while time.monotonic() < deadline:
        async with httpx.AsyncClient(base_url=served.url) as client:
            pid = await served.worker_of(client)
        if pid not in {dead, survivor}:
            return pid
    raise TimeoutError(f"no new worker within {REPLACED_WITHIN} s:\n{served.process.output()}")


@pytest.mark.postgres
async def test_metrics_add_up_every_worker_and_forget_the_pool_of_a_killed_one(
    tmp_path: Path, redis_url: str
) -> None:
    user = "metrics-workers-user"
    headers = {"Authorization": f"Bearer {hs256(user)}"}
    async with migrated_postgres() as url:
        env = service_environment(
            url, WEB_CONCURRENCY=str(WORKERS), DB_POOL_SIZE=str(POOL), RATE_LIMIT_STORAGE=redis_url
        )
        async with service(env, tmp_path) as served:
            async with served.clients_per_worker(WORKERS, 2) as clients:
                for worker_clients in clients.values():
                    for client in worker_clients:
                        for _ in range(REQUESTS_PER_CLIENT):
                            (
                                await client.get(f"/api/{user}/tasks", headers=headers)
                            ).raise_for_status()
            listed = WORKERS * 2 * REQUESTS_PER_CLIENT
            before = await scrape(served)

            assert sample(before, "taskservice_http_requests_total", route=LIST) == listed
            assert (
                sample(before, "taskservice_http_request_duration_seconds_count", route=LIST)
                == listed
            )
            assert sample(before, "taskservice_db_pool_connections", state="size") == WORKERS * POOL

            # A worker dies as in a crash; gunicorn starts another in its place.
            dead, survivor = sorted(clients)
            os.kill(dead, signal.SIGKILL)
            newcomer = await replaced(served, dead, survivor)
            after = await scrape(served)

            # The dead worker's requests stay counted; its pool no longer is.
            assert sample(after, "taskservice_http_requests_total", route=LIST) == listed
            assert sample(after, "taskservice_db_pool_connections", state="size") == WORKERS * POOL
            assert newcomer in {line["pid"] for line in served.events("service starting")}


async def test_development_workers_on_memory_warn_once_that_they_count_sign_ins_apart(
    tmp_path: Path,
) -> None:
    env = service_environment(
        await migrated_sqlite(tmp_path), ENV="development", WEB_CONCURRENCY=str(WORKERS)
    )
    async with service(env, tmp_path) as served:
        async with served.clients_per_worker(WORKERS, 1):
            pass
        warnings = [
            line for line in served.lines() if "RATE_LIMIT_STORAGE=memory://" in line["event"]
        ]

    assert [line["level"] for line in warnings] == ["warning"]
    assert warnings[0]["pid"] == served.process.pid


async def test_a_worker_count_with_memory_limits_stops_production_start_up(tmp_path: Path) -> None:
    env = service_environment(
        await migrated_sqlite(tmp_path),
        WEB_CONCURRENCY=str(WORKERS),
        RATE_LIMIT_STORAGE="memory://",
    )
    with pytest.raises(RuntimeError, match="exited with 2") as refused:
        async with asyncio.timeout(30), service(env, tmp_path):
            pass
    assert "configuration error: WEB_CONCURRENCY=2 with RATE_LIMIT_STORAGE=memory://" in str(
        refused.value
    )


async def test_workers_that_cannot_start_stop_the_service_with_the_cause_logged(
    tmp_path: Path, redis_url: str
) -> None:
    (tmp_path / "file").touch()
    env = service_environment(
        await migrated_sqlite(tmp_path),
        WEB_CONCURRENCY=str(WORKERS),
        RATE_LIMIT_STORAGE=redis_url,
        # Settings accept it; each worker fails to make its data folder there.
        DATA_DIR=str(tmp_path / "file" / "data"),
    )
    # Stopped, rather than workers started again and again.
    with pytest.raises(RuntimeError, match=r"exited with [1-9]") as stopped:
        async with asyncio.timeout(30), service(env, tmp_path):
            pass
    # gunicorn also prints each worker's exception message to stderr, as plain text.
    output = str(stopped.value).splitlines()[1:]
    lines = [json.loads(line) for line in output if line.startswith("{")]
    assert any("Not a directory" in line.get("exception", "") for line in lines)
