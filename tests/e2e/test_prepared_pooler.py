"""The service as deployed behind a PgBouncer that keeps prepared statements, told so with
DB_POOLER_PREPARED_STATEMENTS=true: every request works, and its statements are named on the
server, which parses each once per connection (tests/integration/test_pooler.py shows why the
flag needs such a pooler; the repository behaviour suite runs through one)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.infra.pgbouncer import pgbouncer
from tests.infra.service import service, service_environment
from tests.integration.sql_backends import hinted, migrated_postgres
from tests.tokens import hs256

pytestmark = pytest.mark.postgres


async def test_the_service_names_its_statements_through_a_pooler_that_keeps_them(
    tmp_path: Path,
) -> None:
    async with (
        migrated_postgres() as url,
        # One server connection: whatever the service prepared is on the one the probe gets.
        pgbouncer(url, pool_size=1, prepared_statements=True) as bouncer,
        service(
            service_environment(hinted(bouncer.url), DB_POOLER_PREPARED_STATEMENTS="true"),
            tmp_path,
        ) as running,
    ):
        user = "pooled-ada"
        tasks = f"/api/{user}/tasks"
        headers = {"Authorization": f"Bearer {hs256(user)}"}
        async with httpx.AsyncClient(base_url=running.url, headers=headers) as client:
            created = [
                (await client.post(tasks, json={"title": f"Task {n}"})).raise_for_status()
                for n in range(3)
            ]
            first = created[0].json()["data"]
            page = (await client.get(tasks)).raise_for_status().json()
            assert [t["title"] for t in page["data"]] == ["Task 2", "Task 1", "Task 0"]
            done = await client.patch(f"{tasks}/{first['id']}/complete")
            assert done.raise_for_status().json()["data"]["completed"] is True
            (await client.delete(f"{tasks}/{first['id']}")).raise_for_status()
            again = (await client.get(tasks)).raise_for_status().json()
            assert [t["title"] for t in again["data"]] == ["Task 2", "Task 1"]
        started = next(line for line in running.lines() if "db_pooler_prepared_statements" in line)
        assert started["db_pooler_prepared_statements"] is True

        probe = await asyncpg.connect(bouncer.url, statement_cache_size=0)
        try:
            named = [
                row["name"] for row in await probe.fetch("SELECT name FROM pg_prepared_statements")
            ]
        finally:
            await probe.close()
        assert named
        assert all(name.startswith("PGBOUNCER_") for name in named)
