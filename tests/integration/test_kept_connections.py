"""A PostgreSQL connection that answered moments ago goes from one unit of work to the next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from adapters.persistence import Database, SqlReadiness, SqlUnitOfWork, SqlUnitOfWorkFactory
from adapters.persistence.migrations import head_revision
from domain.errors import StorageUnavailable
from domain.types import UserId
from tests.integration.sql_backends import database_for, migrated_postgres, migrated_sqlite
from tests.integration.test_sql_engine import a_failed_write, a_user, kill_service_connections


def checkouts(database: Database) -> list[object]:
    """Every checkout from SQLAlchemy's pool from now on, as the driver connection it gave."""
    seen: list[object] = []

    def record(dbapi_connection: Any, _entry: Any, _proxy: Any) -> None:
        seen.append(dbapi_connection.driver_connection)

    event.listen(database.engine.sync_engine, "checkout", record)
    return seen


@asynccontextmanager
async def at_once(factory: SqlUnitOfWorkFactory, count: int) -> AsyncIterator[list[SqlUnitOfWork]]:
    """`count` units of work entered together, each holding a connection of its own."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(factory()) for _ in range(count)]


@pytest.mark.postgres
async def test_the_next_unit_of_work_takes_the_connection_the_last_one_gave_back() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        seen = checkouts(database)
        user_id = await a_user(factory)
        for _ in range(3):
            async with factory() as work:
                assert await work.users.get(user_id) is not None
        assert len(seen) == 1
        # users.get runs through SQLAlchemy, whose bookkeeping transaction must not carry over.
        connection = await database.checkout()
        assert not connection.in_transaction()
        await database.checkin(connection, keep=True)
        assert len(seen) == 1
        usage = database.usage()
        assert (usage["checked_out"], usage["checked_in"]) == (0, 1)


@pytest.mark.postgres
async def test_a_unit_of_work_that_failed_gives_its_connection_back_to_the_pool() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        assert database.kept == 1
        with pytest.raises(RuntimeError):
            await a_failed_write(factory, user_id)
        assert database.kept == 0
        assert database.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_connections_idle_past_the_trusted_window_go_back_to_be_checked() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        seen = checkouts(database)
        user_id = await a_user(factory)
        await asyncio.sleep(0.6)  # TRUSTED_FOR_S is 0.5
        async with factory() as work:
            assert await work.users.get(user_id) is not None
        assert len(seen) == 2
        assert seen[0] is seen[1]  # the same connection, back through the pool


@pytest.mark.postgres
async def test_a_lost_connection_sends_the_kept_ones_back_through_the_pool() -> None:
    async with migrated_postgres() as url, database_for(url, pool_size=2) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        first, second = factory(), factory()
        await first.__aenter__()
        await second.__aenter__()
        await first.__aexit__(None, None, None)
        assert database.kept == 1
        await kill_service_connections(url)
        with pytest.raises(StorageUnavailable):
            await second.users.get(user_id)
        await second.__aexit__(None, None, None)
        assert database.kept == 0


@pytest.mark.postgres
async def test_after_a_lost_connection_the_kept_ones_are_checked_before_use() -> None:
    async with migrated_postgres() as url, database_for(url, pool_size=3) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        async with at_once(factory, 3):
            pass
        assert database.kept == 3
        await kill_service_connections(url)
        # A prepared statement on the asyncpg connection: SQLAlchemy does not see the loss.
        with pytest.raises(StorageUnavailable):
            async with factory() as work:
                await work.tasks.counts(user_id)
        # The other kept connections died as well; pinged at checkout, they are replaced.
        async with at_once(factory, 3) as works:
            for work in works:
                assert (await work.tasks.counts(user_id)).pending == 0


@pytest.mark.postgres
async def test_closing_the_database_closes_the_kept_connections() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        seen = checkouts(database)
        await a_user(factory)
        await database.close()
        assert seen[0].is_closed()  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_readiness_gets_a_connection_while_units_of_work_keep_them_all() -> None:
    async with (
        migrated_postgres() as url,
        database_for(url, pool_size=1, pool_timeout=5) as database,
    ):
        await a_user(SqlUnitOfWorkFactory(database))
        assert database.kept == 1
        assert await SqlReadiness(database, head_revision(), timeout=1).is_ready()


async def test_sqlite_keeps_no_connections(tmp_path: Path) -> None:
    async with database_for(await migrated_sqlite(tmp_path)) as database:
        await a_user(SqlUnitOfWorkFactory(database))
        assert database.kept == 0


async def busy_units_of_work(factory: SqlUnitOfWorkFactory, user_id: UserId) -> list[Any]:
    """Four loops of units of work that each read and then hold their connection for 5 ms."""

    async def loop() -> None:
        while True:
            async with factory() as work:
                await work.users.get(user_id)
                await asyncio.sleep(0.005)

    tasks = [asyncio.create_task(loop()) for _ in range(4)]
    await asyncio.sleep(0.2)
    return tasks


async def stopped(tasks: list[Any]) -> None:
    """Cancel `tasks` and wait for them to end."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.postgres
async def test_readiness_gets_a_connection_while_units_of_work_pass_them_all_around() -> None:
    # Every connection busy and a queue of units of work: a given-back connection must reach
    # the check waiting on the pool rather than the next unit of work.
    async with migrated_postgres() as url, database_for(url, pool_size=2) as database:
        factory = SqlUnitOfWorkFactory(database)
        busy = await busy_units_of_work(factory, await a_user(factory))
        try:
            for _ in range(3):
                assert await SqlReadiness(database, head_revision(), timeout=1).is_ready()
        finally:
            await stopped(busy)


@pytest.mark.postgres
async def test_another_factory_gets_a_connection_while_one_passes_them_all_around() -> None:
    # Both take their turns from the one Database, first come, first served.
    async with (
        migrated_postgres() as url,
        database_for(url, pool_size=2, pool_timeout=1) as database,
    ):
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        busy = await busy_units_of_work(factory, user_id)
        try:
            async with SqlUnitOfWorkFactory(database)() as work:
                assert await work.users.get(user_id) is not None
        finally:
            await stopped(busy)
