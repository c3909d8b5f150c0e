"""Units of work get the pool's connections in the order they asked for them."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.persistence import SqlUnitOfWorkFactory
from domain.errors import StorageUnavailable
from tests.integration.sql_backends import database_for, migrated_postgres


@pytest.mark.postgres
async def test_a_newcomer_waits_behind_those_already_waiting() -> None:
    async with migrated_postgres() as url, database_for(url, pool_size=1) as database:
        factory = SqlUnitOfWorkFactory(database)
        entered: list[str] = []

        async def use(name: str) -> None:
            async with factory():
                entered.append(name)

        holder = factory()
        await holder.__aenter__()
        waiters = [asyncio.create_task(use(name)) for name in ("first", "second")]
        await asyncio.sleep(0.05)
        # The newcomer runs before the first waiter wakes: on the pool's queue alone it would
        # take the connection the holder returns, and the first waiter would queue again.
        newcomer = asyncio.create_task(use("newcomer"))
        await holder.__aexit__(None, None, None)
        await asyncio.gather(*waiters, newcomer)
        assert entered == ["first", "second", "newcomer"]


async def test_a_failed_connect_gives_its_turn_back() -> None:
    async with database_for("postgresql://postgres@127.0.0.1:1/tasks", pool_size=1) as database:
        factory = SqlUnitOfWorkFactory(database)
        started = time.monotonic()
        for _ in range(3):
            with pytest.raises(StorageUnavailable) as failure:
                async with factory():
                    pass
            # A turn kept by the failed attempt would make this one time out instead.
            assert isinstance(failure.value.__cause__, OSError)
        assert time.monotonic() - started < 5
