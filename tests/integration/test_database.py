"""The Database hands out every connection: borrowed, dedicated, refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.persistence import Database, SqlReadiness, SqlUnitOfWorkFactory, head_revision
from domain.errors import StorageUnavailable
from domain.queries import TaskQuery
from domain.types import UserId
from tests.integration.sql_backends import database_for, migrated_postgres, migrated_sqlite

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/tasks"


def as_role(url: str, role: str) -> str:
    """`url` with another role signing in."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


@pytest.mark.postgres
async def test_a_borrowed_connection_reads_and_refuses_to_write(postgres_url: str) -> None:
    async with database_for(postgres_url) as database, database.connection() as connection:
        assert await connection.scalar(text("SELECT 1")) == 1
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await connection.execute(text("CREATE TABLE written (x int)"))


@pytest.mark.postgres
async def test_a_dedicated_connection_takes_nothing_from_the_pool(postgres_url: str) -> None:
    async with database_for(postgres_url, pool_size=1, pool_timeout=0.2) as database:
        async with (
            SqlUnitOfWorkFactory(database)(),  # holds the pool's only connection
            database.dedicated() as connection,
        ):
            settings = await connection.fetchrow(
                "SELECT current_setting('application_name'),"
                " current_setting('default_transaction_read_only'),"
                " current_setting('statement_timeout')"
            )
            assert tuple(settings or ()) == ("taskservice", "on", "10s")
            assert database.usage()["checked_out"] == 1
        assert database.usage()["checked_out"] == 0


@pytest.mark.postgres
async def test_a_dedicated_connection_hears_notifications(postgres_url: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with (
        database_for(postgres_url) as database,
        database.dedicated() as listener,
        database.dedicated() as speaker,
    ):
        await listener.add_listener("changes", lambda *args: heard.put_nowait(args[-1]))
        await speaker.execute("NOTIFY changes, 'task 1'")
        async with asyncio.timeout(2):
            assert await heard.get() == "task 1"


@pytest.mark.postgres
async def test_closing_the_database_closes_the_dedicated_connections(postgres_url: str) -> None:
    database = Database(postgres_url)
    held = database.dedicated()
    connection = await held.__aenter__()
    await database.close()
    assert connection.is_closed()
    await held.__aexit__(None, None, None)


async def test_sqlite_has_no_dedicated_connections(tmp_path: Path) -> None:
    async with database_for(await migrated_sqlite(tmp_path)) as database:
        with pytest.raises(RuntimeError, match="only PostgreSQL"):
            async with database.dedicated():
                pass


async def test_an_unreachable_server_is_storage_unavailable_for_every_connection() -> None:
    async with database_for(UNREACHABLE) as database:
        await assert_refused(database)


@pytest.mark.postgres
async def test_a_login_the_server_refuses_is_storage_unavailable(postgres_url: str) -> None:
    # SQLSTATE 28000, as for a wrong password or a missing client certificate (test_database_tls):
    # the deployment's trouble, a 503 until it is mended, not a bug answered 500.
    async with database_for(as_role(postgres_url, "nobody_at_all")) as database:
        await assert_refused(database)


async def assert_refused(database: Database) -> None:
    """Every way of getting a connection fails as StorageUnavailable, and readiness says no."""
    with pytest.raises(StorageUnavailable):
        async with SqlUnitOfWorkFactory(database)():
            pass
    with pytest.raises(StorageUnavailable):
        async with database.connection():
            pass
    with pytest.raises(StorageUnavailable):
        async with database.dedicated():
            pass
    assert not await SqlReadiness(database, head_revision()).is_ready()


@pytest.mark.postgres
async def test_a_page_statement_is_planned_once_and_not_per_execution(postgres_url: str) -> None:
    # PostgreSQL's default would plan it anew at each of its first executions (and keep doing so
    # when it judges the generic plan dearer), which costs as much as running it.
    async with migrated_postgres() as url, database_for(url, pool_size=1) as database:
        factory = SqlUnitOfWorkFactory(database)
        query = TaskQuery(limit=20)
        for _ in range(8):
            async with factory() as work:
                await work.tasks.page_with_counts(UserId("someone"), query)
        # The pool's one connection, which holds the statements the unit of work prepared.
        connection = await database.checkout()
        try:
            result = await connection.exec_driver_sql(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%FROM tasks%' AND generic_plans + custom_plans > 0"
            )
            rows = result.all()
        finally:
            await database.checkin(connection, keep=True)
    assert rows, "the page statement ran as a prepared statement"
    assert all(row.custom_plans == 0 for row in rows)
