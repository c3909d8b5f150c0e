"""The trash under concurrent writers on PostgreSQL: what a delete moves to the trash is every
subtask committed before it, also one added while the delete waited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import attrs
import pytest

from adapters.persistence import SqlUnitOfWorkFactory
from domain.lists import TaskList
from domain.queries import TaskCounts
from domain.tasks import Task, parse_changes
from domain.types import UserId
from domain.users import User
from tests.integration.sql_backends import database_for, migrated_postgres

pytestmark = pytest.mark.postgres

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OWNER = User(id=UserId("owner"), created_at=NOW)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """An empty PostgreSQL database of its own."""
    async with migrated_postgres() as migrated:
        yield migrated


async def until_a_backend_waits_for_a_lock(url: str) -> None:
    """Return once some session of the database waits for a lock another one holds."""
    connection = await asyncpg.connect(url)
    try:
        # PostgreSQL tells nobody when a session starts waiting: asked until one does.
        while True:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await asyncio.sleep(0.01)
    finally:
        await connection.close()


def task_in(task_list: TaskList, title: str, position: str, parent: Task | None = None) -> Task:
    """An unsaved task of the list."""
    made = Task.create(user_id=OWNER.id, changes=parse_changes({"title": title}, "create"), now=NOW)
    return attrs.evolve(
        made,
        list_id=task_list.id,
        parent_id=None if parent is None else parent.id,
        position=position,
    )


async def test_a_subtask_added_while_its_parent_is_deleted_goes_to_the_trash_with_it(
    url: str,
) -> None:
    async with database_for(url) as database:
        uow = SqlUnitOfWorkFactory(database)
        async with uow() as work:
            made = await work.lists.add(
                TaskList.create(owner_id=OWNER.id, name="L", now=NOW), OWNER
            )
            parent = await work.tasks.add(task_in(made, "parent", "a0"), OWNER)
            await work.commit()
        async with uow() as adding:
            sub = await adding.tasks.add(task_in(made, "sub", "a0.a0", parent), OWNER)

            async def delete_parent() -> bool:
                async with uow() as deleting:
                    removed = await deleting.tasks.remove(parent, OWNER.id, NOW)
                    await deleting.commit()
                    return removed

            deleted = asyncio.ensure_future(delete_parent())
            await until_a_backend_waits_for_a_lock(url)
            await adding.commit()
        assert await deleted
        async with uow() as work:
            assert await work.tasks.get_visible(OWNER.id, sub.id) is None
            assert [e.task.id for e in await work.trash.family(parent.id)] == [sub.id]
            assert await work.tasks.counts(OWNER.id, made.id) == TaskCounts()
