"""The PgBouncer harness, and what transaction pooling does to a client: asyncpg against 1.18,
and against a PgBouncer that keeps prepared statements."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.infra.pgbouncer import pgbouncer
from tests.infra.pgbouncer_source import TRACKS_PREPARED, prepared_pgbouncer, version_of
from tests.integration.sql_backends import fresh_postgres

pytestmark = pytest.mark.postgres

CLIENTS = 10
ROUNDS = 5


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """An empty database of this test's own."""
    async with fresh_postgres() as url:
        yield url


async def test_statements_and_transactions_run_through_the_bouncer_without_a_statement_cache(
    pgbouncer_url: str,
) -> None:
    clients = [await asyncpg.connect(pgbouncer_url, statement_cache_size=0) for _ in range(CLIENTS)]
    setup = clients[0]
    await setup.execute("CREATE TABLE note (client int, round int)")

    async def work(number: int, connection: asyncpg.Connection) -> set[int]:
        backends = set()
        for round_ in range(ROUNDS):
            async with connection.transaction():
                backends.add(await connection.fetchval("SELECT pg_backend_pid()"))
                await connection.execute("INSERT INTO note VALUES ($1, $2)", number, round_)
            undone = connection.transaction()
            await undone.start()
            await connection.execute("INSERT INTO note VALUES ($1, -1)", number)
            await undone.rollback()
        return backends

    try:
        # In session mode, the clients beyond the pool's five would wait here for good.
        async with asyncio.timeout(20):
            backends = await asyncio.gather(*(work(*client) for client in enumerate(clients)))
        rows = await setup.fetch("SELECT client, round FROM note ORDER BY client, round")
    finally:
        for connection in clients:
            await connection.close()
    assert [tuple(row) for row in rows] == [(c, r) for c in range(CLIENTS) for r in range(ROUNDS)]
    # Ten open clients on at most five server connections: they took turns, one transaction each.
    assert len(set().union(*backends)) <= 5


@pytest.mark.parametrize(("cache_size", "fails"), [(100, True), (0, False)])
async def test_asyncpg_statement_cache_breaks_when_another_client_holds_the_server_it_prepared_on(
    database_url: str, cache_size: int, fails: bool
) -> None:
    """asyncpg's default cache (100) fails under transaction pooling; `statement_cache_size=0` works."""
    async with pgbouncer(database_url, pool_size=2) as bouncer:
        first, second, third = [
            await asyncpg.connect(bouncer.url, statement_cache_size=cache_size) for _ in range(3)
        ]
        try:
            await first.execute("BEGIN")  # holds one server connection
            # Prepared (and cached) on the other one, the only one free.
            assert await second.fetchval("SELECT $1::int + 1", 1) == 2
            await third.execute("BEGIN")  # takes the one `second` prepared on
            await first.execute("COMMIT")  # frees the one it was not prepared on
            if fails:
                with pytest.raises(
                    asyncpg.InvalidSQLStatementNameError, match=r"__asyncpg_stmt_\w+__.*not exist"
                ):
                    await second.fetchval("SELECT $1::int + 1", 2)
            else:
                assert await second.fetchval("SELECT $1::int + 1", 2) == 3
            await third.execute("COMMIT")
        finally:
            for connection in (first, second, third):
                await connection.close()


SQLALCHEMY_CONNECT_ARGS = {
    "dialect defaults": ({}, True),
    # What SQLAlchemy documents for PgBouncer: unique names, yet still one server's statements.
    "prepared_statement_name_func": (
        {"prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__"},
        True,
    ),
    "statement_cache_size=0": ({"statement_cache_size": 0}, False),
}


@pytest.mark.parametrize(
    ("connect_args", "fails"), SQLALCHEMY_CONNECT_ARGS.values(), ids=SQLALCHEMY_CONNECT_ARGS
)
async def test_sqlalchemy_needs_asyncpgs_statement_cache_off_not_only_unique_names(
    database_url: str, connect_args: dict[str, Any], fails: bool
) -> None:
    """The same turns with SQLAlchemy's asyncpg dialect, a statement run in two transactions."""
    async with pgbouncer(database_url, pool_size=2) as bouncer:
        url = bouncer.url.replace("postgresql://", "postgresql+asyncpg://", 1)
        engine = create_async_engine(url, connect_args=connect_args, poolclass=NullPool)
        first, third = [
            await asyncpg.connect(bouncer.url, statement_cache_size=0) for _ in range(2)
        ]
        statement = text("SELECT :n + 1")
        try:
            async with engine.connect() as second:
                await first.execute("BEGIN")
                async with second.begin():
                    assert await second.scalar(statement, {"n": 1}) == 2
                await third.execute("BEGIN")
                await first.execute("COMMIT")
                async with second.begin():
                    if fails:
                        with pytest.raises(DBAPIError, match="does not exist"):
                            await second.scalar(statement, {"n": 2})
                    else:
                        assert await second.scalar(statement, {"n": 2}) == 3
                await third.execute("COMMIT")
        finally:
            await engine.dispose()
            await first.close()
            await third.close()


async def test_a_session_setting_outlives_its_transaction_and_reaches_another_client(
    database_url: str,
) -> None:
    async with pgbouncer(database_url, pool_size=1) as bouncer:
        one, other = [await asyncpg.connect(bouncer.url, statement_cache_size=0) for _ in range(2)]
        try:
            async with one.transaction():
                await one.execute("SET LOCAL statement_timeout = '4321ms'")
            assert await other.fetchval("SHOW statement_timeout") == "0"
            await one.execute("SET statement_timeout = '1234ms'")
            # One server connection shared by both: the other client now has the setting.
            assert await other.fetchval("SHOW statement_timeout") == "1234ms"
        finally:
            await one.close()
            await other.close()


async def test_a_startup_parameter_it_does_not_track_is_refused_or_silently_dropped(
    database_url: str,
) -> None:
    settings = {"statement_timeout": "1000"}
    async with pgbouncer(database_url) as bouncer:
        with pytest.raises(asyncpg.ProtocolViolationError, match="unsupported startup parameter"):
            await asyncpg.connect(bouncer.url, statement_cache_size=0, server_settings=settings)
        tracked = {"application_name": "tracked", "TimeZone": "Asia/Tokyo"}
        connection = await asyncpg.connect(
            bouncer.url, statement_cache_size=0, server_settings=tracked
        )
        assert await connection.fetchval("SHOW TimeZone") == "Asia/Tokyo"
        await connection.close()
    async with pgbouncer(database_url, ignore_startup_parameters=["statement_timeout"]) as bouncer:
        connection = await asyncpg.connect(
            bouncer.url, statement_cache_size=0, server_settings=settings
        )
        assert await connection.fetchval("SHOW statement_timeout") == "0"  # not applied
        await connection.close()


async def test_a_pgbouncer_that_keeps_prepared_statements_runs_named_ones_anywhere(
    database_url: str,
) -> None:
    """The harness's PgBouncer for `prepared_statements` (1.21+, built from Debian's source when
    Debian's own is older): asyncpg's statement cache, named statements, works across server
    connections, prepared outside a transaction and executed in another's turn."""
    assert version_of(prepared_pgbouncer()) >= TRACKS_PREPARED
    async with pgbouncer(database_url, pool_size=2, prepared_statements=True) as bouncer:
        clients = [await asyncpg.connect(bouncer.url) for _ in range(CLIENTS)]
        try:

            async def work(number: int, connection: asyncpg.Connection) -> list[int]:
                seen = []
                for round_ in range(ROUNDS):
                    seen.append(
                        await connection.fetchval("SELECT $1::int * 10 + $2::int", number, round_)
                    )
                    await asyncio.sleep(0)
                return seen

            results = await asyncio.gather(*(work(n, c) for n, c in enumerate(clients)))
        finally:
            for client in clients:
                await client.close()
    assert results == [[n * 10 + r for r in range(ROUNDS)] for n in range(CLIENTS)]
