"""A deadlock PostgreSQL breaks is an answer to retry (StorageUnavailable: 503), not a bug (500):
here a list deleted while a task moves out of it, each holding a row the other needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import attrs
import pytest

from adapters.persistence import SqlUnitOfWorkFactory
from domain.errors import StorageUnavailable
from domain.lists import TaskList
from domain.queries import TaskQuery
from domain.tasks import Task, parse_changes
from domain.types import UserId
from domain.users import User
from tests.integration.sql_backends import database_for, migrated_postgres

pytestmark = pytest.mark.postgres

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OWNER = User(id=UserId("owner"), created_at=NOW)


@pytest.fixture
async def uow() -> AsyncIterator[SqlUnitOfWorkFactory]:
    """A unit-of-work factory on an empty PostgreSQL database of its own."""
    async with migrated_postgres() as url, database_for(url) as database:
        yield SqlUnitOfWorkFactory(database)


async def test_a_deadlock_is_storage_unavailable_and_the_other_writer_wins(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as work:
        doomed = await work.lists.add(TaskList.create(owner_id=OWNER.id, name="A", now=NOW), OWNER)
        other = await work.lists.add(TaskList.create(owner_id=OWNER.id, name="B", now=NOW), OWNER)
        changes = parse_changes({"title": "t"}, "create")
        made = Task.create(user_id=OWNER.id, changes=changes, now=NOW)
        task = await work.tasks.add(attrs.evolve(made, list_id=doomed.id, position="a0"), OWNER)
        await work.commit()
    moved = attrs.evolve(task, list_id=other.id, version=task.version + 1)
    renamed = doomed.renamed("A2", NOW)
    holding, waiting = asyncio.Event(), asyncio.Event()

    async def delete_the_list() -> bool:
        async with uow() as work:
            # The list's row first, then (by cascade) the task's, which the move holds.
            assert await work.lists.replace(renamed, doomed)
            holding.set()
            await waiting.wait()
            removed = await work.lists.remove(renamed, renamed.owner_id, NOW)
            await work.commit()
            return removed

    async def move_the_task() -> bool:
        await holding.wait()
        async with uow() as work:
            # The task's row first, then the two lists' counters: the list's is held.
            move = asyncio.ensure_future(work.tasks.replace(moved, task))
            await asyncio.sleep(0.3)
            waiting.set()
            return await move

    deleted, moving = await asyncio.gather(
        delete_the_list(), move_the_task(), return_exceptions=True
    )
    outcomes = {type(deleted), type(moving)}
    assert outcomes == {bool, StorageUnavailable}, (deleted, moving)
    async with uow() as work:
        # Whichever won, the connections work and the counters match the tasks left.
        counts = await work.tasks.counts(OWNER.id)
        left = await work.tasks.page(OWNER.id, TaskQuery(limit=10))
    assert counts.pending == len(left)
