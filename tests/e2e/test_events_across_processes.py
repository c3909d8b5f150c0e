"""Live events across service processes on one PostgreSQL database (SPEC §8, §9), all real
processes: a write through one reaches a stream held by the other, also when the listeners'
connections are killed and cannot come back for a while (nothing written meanwhile is lost)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import pytest

from adapters.persistence.notify import LISTENER
from tests.conftest import PG_ADMIN_DSN
from tests.e2e.sse import Stream, opened
from tests.infra.service import service, service_environment
from tests.integration.sql_backends import migrated_postgres
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

ACROSS_WITHIN: Final = 5.0
"""Seconds a change may take to reach the other process's stream before the test fails; it
comes within a second, and streams re-read on their own only every 15 s."""


def bearer(user: str) -> dict[str, str]:
    """The Authorization header of a sign-in token of `user`."""
    return {"Authorization": f"Bearer {hs256(user)}"}


async def create(client: httpx.AsyncClient, user: str, title: str) -> int:
    """A new task of `user`'s, through `client`'s process; its id."""
    response = await client.post(f"/api/{user}/tasks", json={"title": title}, headers=bearer(user))
    assert response.status_code == 201, response.text
    task_id: int = response.json()["data"]["id"]
    return task_id


async def task_event(stream: Stream, task_id: int) -> None:
    """Until the stream sends the upsert of task `task_id` (other entries skipped)."""
    received = await stream.entry_where(ACROSS_WITHIN, kind="task", id=task_id)
    assert received.entry["op"] == "upsert"


async def listeners(admin: asyncpg.Connection, database: str, of: int | None = None) -> list[int]:
    """The backends of the services' LISTEN connections to `database` (of process `of` only)."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE $2",
        database,
        f"{LISTENER} {'%' if of is None else of}",
    )
    return [row["pid"] for row in rows]


async def both_listening(admin: asyncpg.Connection, database: str) -> set[int]:
    """The backends of both services' LISTEN connections, once both are up."""
    async with asyncio.timeout(ACROSS_WITHIN * 2):
        while True:
            found = await listeners(admin, database)
            if len(found) >= 2:
                return set(found)
            await asyncio.sleep(0.05)


async def test_a_write_through_one_process_reaches_a_stream_on_the_other(tmp_path: Path) -> None:
    user = f"across-{uuid.uuid4().hex[:8]}"
    async with migrated_postgres() as url:
        database = url.rsplit("/", 1)[1].split("?")[0]
        homes = [tmp_path / name for name in ("a", "b")]
        for home in homes:
            home.mkdir()
        env = {"SHUTDOWN_TIMEOUT": "2"}
        async with (
            service(service_environment(url, **env), homes[0], "a") as a,
            service(service_environment(url, **env), homes[1], "b") as b,
            httpx.AsyncClient(base_url=a.url, timeout=10) as writer,
            httpx.AsyncClient(base_url=b.url, timeout=30) as reader,
        ):
            first = await create(writer, user, "before")
            async with opened(reader, f"/api/{user}/events", bearer(user)) as stream:
                await task_event(stream, first)
                live = await create(writer, user, "through a")
                await task_event(stream, live)

                admin = await asyncpg.connect(PG_ADMIN_DSN)
                try:
                    await both_listening(admin, database)
                    # No connection to the database can be made for a while, and the reading
                    # process's listener loses its own: a write through the other now is
                    # notified at once, and heard by nobody.
                    await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                    try:
                        killed = await listeners(admin, database, of=b.process.pid)
                        assert len(killed) == 1
                        await admin.fetch(
                            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", killed
                        )
                        unheard = await create(writer, user, "during the outage")
                    finally:
                        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
                    # The listener comes back and wakes every stream, which catches up.
                    await task_event(stream, unheard)
                    back = await both_listening(admin, database)
                    assert back.isdisjoint(killed)
                finally:
                    await admin.close()


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_ends_the_open_streams_and_the_process_without_waiting(
    tmp_path: Path, workers: int
) -> None:
    user = f"drain-{uuid.uuid4().hex[:8]}"
    async with migrated_postgres() as url:
        # Were open streams waited for, the process would take all of SHUTDOWN_TIMEOUT and be
        # killed by `stop` long before. (Workers count sign-ins apart: development only.)
        env = service_environment(
            url, SHUTDOWN_TIMEOUT="30", WEB_CONCURRENCY=str(workers), ENV="development"
        )
        async with (
            service(env, tmp_path) as running,
            httpx.AsyncClient(base_url=running.url, timeout=30) as client,
        ):
            task_id = await create(client, user, "before")
            async with opened(client, f"/api/{user}/events", bearer(user)) as stream:
                await task_event(stream, task_id)
                stopping = asyncio.create_task(running.process.stop(within=10))
                while await stream.next(ACROSS_WITHIN) is not None:
                    pass
                assert await stopping == 0, running.process.output()
