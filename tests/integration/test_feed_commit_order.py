"""On PostgreSQL a change is numbered by its transaction's id, and transactions commit in any
order: a reader of the feed must never pass a number that a transaction still running holds, or
it would skip that transaction's changes once they commit (SPEC §8: nothing missed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest

from adapters.persistence import SqlUnitOfWorkFactory
from domain.lists import TaskList
from domain.sync import Change, FeedPosition
from domain.types import UserId
from taskservice.ports import UnitOfWorkFactory
from tests.integration.sql_backends import (
    POOLED_KINDS,
    database_behind,
    database_for,
    migrated_postgres,
)
from tests.integration.test_repository_behaviour import NOW, add, as_owner, make_task, stored_user

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module", params=["postgres", *POOLED_KINDS])
async def uow(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    """A migrated PostgreSQL database, directly and through PgBouncer in transaction mode."""
    if request.param == "postgres":
        async with migrated_postgres() as url, database_for(url) as database:
            yield SqlUnitOfWorkFactory(database)
    else:
        async with database_behind(request.param) as database:
            yield SqlUnitOfWorkFactory(database)


async def follow(
    uow: UnitOfWorkFactory, user_id: UserId, after: FeedPosition | None
) -> tuple[list[Change], FeedPosition | None]:
    """Every entry after `after` readable now, and the position after the last."""
    read: list[Change] = []
    while True:
        async with uow() as work:
            page = await work.changes.page(user_id, after, 2)
        if not page:
            return read, after
        read += page
        after = page[-1].position


async def test_a_reader_waits_for_an_earlier_transaction_that_commits_later(
    uow: UnitOfWorkFactory,
) -> None:
    owner = await stored_user(uow)
    async with uow() as work:
        await add(work, make_task(owner, title="before"))
        # A second list, so that neither writer waits for the other's lock on its list.
        other = await work.lists.add(
            TaskList.create(owner_id=owner, name="B", now=NOW), as_owner(owner)
        )
        await work.commit()
    _, cursor = await follow(uow, owner, None)
    async with uow() as early:
        # The early transaction takes its number first, then waits while the late one commits.
        first = await add(early, make_task(owner, title="early"))
        async with uow() as late:
            in_other = attrs.evolve(make_task(owner, title="late"), list_id=other.id, position="a0")
            second = await late.tasks.add(in_other, as_owner(owner))
            await late.commit()
        read, reached = await follow(uow, owner, cursor)
        # Nothing at or past the early transaction's number is read while it runs: the late
        # one's task (numbered after it) waits too.
        assert [e.task for e in read if e.task is not None] == []
        assert reached == cursor
        await early.commit()
    read, _ = await follow(uow, owner, reached)
    titles = [e.task.title for e in read if e.task is not None]
    assert titles == ["early", "late"]
    assert {first.id, second.id} == {e.id for e in read if e.task is not None}


async def test_a_transaction_of_another_database_holds_no_reader_back(
    uow: UnitOfWorkFactory,
) -> None:
    owner = await stored_user(uow)
    async with migrated_postgres() as other_url, database_for(other_url) as other:
        elsewhere = SqlUnitOfWorkFactory(other)
        async with elsewhere() as running:
            # A write in the other database: its transaction has an id, and keeps it open.
            await add(running, make_task(await stored_user(elsewhere), title="elsewhere"))
            async with uow() as work:
                await add(work, make_task(owner, title="here"))
                await work.commit()
            read, _ = await follow(uow, owner, None)
            assert [e.task.title for e in read if e.task is not None] == ["here"]
