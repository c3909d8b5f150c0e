"""Revision 0006 (lists) on a database holding users and tasks at 0005: every task lands in its owner's
Inbox in created order with the counts it had, and back; a failed upgrade changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from adapters.persistence import SqlUnitOfWorkFactory
from domain.lists import DEFAULT_LIST_NAME, Role
from domain.placement import is_position
from domain.queries import Sort, SortField, TaskQuery
from domain.types import ListId, UserId
from tests.integration.sql_backends import database_for, engine_for, fresh_postgres, sqlite_url
from tests.integration.test_migrations import BACKENDS, downgrade_to, upgrade_to

NOW = datetime(2030, 1, 1, tzinfo=UTC)
# More tasks than the migration places in one batch, so that batches meet inside one owner.
BUSY_TASKS = 1234
USERS = {"busy": BUSY_TASKS, "few": 5, "idle": 0}
"""The users at 0005 and how many tasks each has."""

_USER_0005 = "INSERT INTO users (id, created_at) VALUES (:id, :created_at)"
# The counters as every write of 0005 keeps them (and as 0003 filled them).
_COUNT_0003 = (
    "UPDATE users SET "
    "tasks_pending = (SELECT count(*) FROM tasks WHERE user_id = users.id AND NOT completed), "
    "tasks_completed = (SELECT count(*) FROM tasks WHERE user_id = users.id AND completed)"
)
_TASK_0005 = (
    "INSERT INTO tasks (user_id, title, completed, completed_at, priority, tags, version, "
    "created_at, updated_at, search_text) VALUES (:user_id, :title, :completed, :completed_at, "
    "0, '[]', 1, :created_at, :created_at, '')"
)


def created_at(number: int) -> datetime:
    """When task `number` of a user was made: later numbers earlier, pairs at the same moment,
    so that created order is neither id order nor free of ties."""
    return NOW - timedelta(minutes=number // 2)


def seeded_tasks() -> list[dict[str, Any]]:
    """Every task row at 0005, in insertion (id) order; every third completed."""
    rows = []
    for user, count in USERS.items():
        for number in range(count):
            done = number % 3 == 0
            rows.append(
                {
                    "user_id": user,
                    "title": f"{user} {number}",
                    "completed": done,
                    "completed_at": NOW if done else None,
                    "created_at": created_at(number),
                }
            )
    return rows


@pytest.fixture(params=BACKENDS)
async def url_before_lists(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database at revision 0005 holding USERS and their tasks, counted as 0003 counts."""
    if request.param == "sqlite":
        yield await at_0005(sqlite_url(tmp_path))
    else:
        async with fresh_postgres() as url:
            yield await at_0005(url)


async def at_0005(empty_url: str) -> str:
    """`empty_url`, migrated to 0005 and seeded."""
    await asyncio.to_thread(upgrade_to, empty_url, "0005")
    async with engine_for(empty_url) as engine, engine.begin() as connection:
        for user in USERS:
            await connection.execute(text(_USER_0005), {"id": user, "created_at": NOW})
        await connection.execute(text(_TASK_0005), seeded_tasks())
        # The newest task is deleted: its id must not come back.
        await connection.execute(text("DELETE FROM tasks WHERE id = (SELECT max(id) FROM tasks)"))
        await connection.execute(text(_COUNT_0003))
    return empty_url


async def rows_of(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query, as tuples."""
    async with engine_for(url) as engine, engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(text(sql))]


def schema(connection: Connection) -> dict[str, Any]:
    """What the schema holds: tables with their columns, keys, indexes and checks.

    Columns as a set: a downgrade that adds a column back adds it at the end of its table.
    """
    found = inspect(connection)
    return {
        table: {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)
            ),
            "primary key": found.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (fk["name"] or "", fk["constrained_columns"], fk["referred_table"])
                for fk in found.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"] or "", i["column_names"], i["unique"]) for i in found.get_indexes(table)
            ),
            "checks": sorted(c["name"] or "" for c in found.get_check_constraints(table)),
        }
        for table in sorted(found.get_table_names())
    }


async def schema_of(url: str) -> dict[str, Any]:
    """The schema of the database at `url`."""
    async with engine_for(url) as engine, engine.connect() as connection:
        return await connection.run_sync(schema)


async def counters_0005(url: str) -> list[tuple[Any, ...]]:
    """Each user's counters as revision 0005 keeps them."""
    return await rows_of(url, "SELECT id, tasks_pending, tasks_completed FROM users ORDER BY id")


async def tasks_0005(url: str) -> list[tuple[Any, ...]]:
    """The tasks as revision 0005 has them: id, owner, title, completed."""
    return await rows_of(url, "SELECT id, user_id, title, completed FROM tasks ORDER BY id")


async def test_upgrading_puts_every_task_in_its_owners_inbox_in_created_order(
    url_before_lists: str,
) -> None:
    url = url_before_lists
    before = await tasks_0005(url)
    counted = await counters_0005(url)
    await asyncio.to_thread(upgrade_to, url, "0006")

    inboxes = await rows_of(
        url,
        "SELECT lists.owner_id, lists.id, lists.name, lists.version, lists.pending, "
        "lists.completed, memberships.role FROM lists JOIN memberships ON "
        "memberships.list_id = lists.id AND memberships.user_id = lists.owner_id "
        "WHERE lists.is_default ORDER BY lists.owner_id",
    )
    assert [(o, name, v, p, c, role) for o, _, name, v, p, c, role in inboxes] == [
        (user, DEFAULT_LIST_NAME, 1, pending, completed, Role.OWNER.value)
        for user, pending, completed in counted
    ]
    assert await rows_of(url, "SELECT count(*) FROM lists") == [(len(USERS),)]
    assert await rows_of(url, "SELECT count(*) FROM memberships") == [(len(USERS),)]
    inbox_of = {owner: ListId(list_id) for owner, list_id, *_ in inboxes}

    after = await rows_of(
        url,
        "SELECT id, user_id, title, completed, list_id, parent_id, created_by, position, "
        "created_at FROM tasks ORDER BY id",
    )
    assert [row[:4] for row in after] == before
    for _, owner, _, _, list_id, parent_id, created_by, *_ in after:
        assert (list_id, parent_id, created_by) == (inbox_of[owner], None, owner)
    for user in USERS:
        mine = [row for row in after if row[1] == user]
        created_order = [row[0] for row in sorted(mine, key=lambda r: (r[8], r[0]))]
        positions = [row[7] for row in mine]
        assert all(is_position(p) for p in positions)
        # Bytes order, as PostgreSQL's "C" collation and SQLite compare them.
        by_position = sorted(mine, key=lambda r: r[7].encode())
        assert [row[0] for row in by_position] == created_order
        assert len(set(positions)) == len(positions)

    await same_through_the_repository(url, inbox_of)


async def same_through_the_repository(url: str, inbox_of: dict[str, ListId]) -> None:
    """The service reads each Inbox in created order, with the counts 0005 had, and hands out
    new ids above every id ever used."""
    manual = Sort(field=SortField.POSITION, descending=False)
    async with database_for(url) as database:
        uow = SqlUnitOfWorkFactory(database)
        async with uow() as work:
            for user, count in USERS.items():
                owner = UserId(user)
                query = TaskQuery(list_id=inbox_of[user], sort=manual, limit=100)
                page = await work.tasks.page(owner, query)
                titles = [f"{user} {number}" for number in range(count)]
                kept = [t for t in titles if t != f"few {USERS['few'] - 1}"]  # the deleted one
                assert [t.title for t in page] == sorted(kept, key=_created_rank)[:100]
                counts = await work.tasks.counts(owner)
                listed = await work.tasks.counts(owner, inbox_of[user])
                view = await work.lists.get(owner, inbox_of[user])
                assert view is not None
                assert counts == listed == view.counts
    [(highest,)] = await rows_of(url, "SELECT max(id) FROM tasks")
    total = sum(USERS.values())
    assert highest == total - 1  # the deleted one was number `total`


def _created_rank(title: str) -> tuple[datetime, int]:
    _, number = title.split(" ")
    # Ids grow with the number within a user, so the number breaks created_at's ties.
    return created_at(int(number)), int(number)


async def test_new_ids_stay_above_every_id_handed_out_before(url_before_lists: str) -> None:
    [(deleted,)] = await rows_of(url_before_lists, "SELECT max(id) + 1 FROM tasks")
    await asyncio.to_thread(upgrade_to, url_before_lists, "0006")
    async with engine_for(url_before_lists) as engine, engine.begin() as connection:
        [(inbox,)] = await connection.execute(text("SELECT id FROM lists WHERE owner_id = 'idle'"))
        result = await connection.execute(
            text(
                "INSERT INTO tasks (user_id, title, completed, priority, tags, version, "
                "created_at, updated_at, search_text, list_id, position, created_by) VALUES "
                "('idle', 'new', false, 0, '[]', 1, :now, :now, '', :inbox, 'a0', 'idle') "
                "RETURNING id"
            ),
            {"now": NOW, "inbox": inbox},
        )
        assert result.scalar_one() > deleted


async def test_downgrading_gives_back_revision_0005_and_upgrading_again_works(
    url_before_lists: str,
) -> None:
    url = url_before_lists
    schema_0005, tasks, counted = (
        await schema_of(url),
        await tasks_0005(url),
        await counters_0005(url),
    )
    await asyncio.to_thread(upgrade_to, url, "0006")
    await asyncio.to_thread(downgrade_to, url, "0005")
    assert await schema_of(url) == schema_0005
    assert await tasks_0005(url) == tasks
    assert await counters_0005(url) == counted

    await asyncio.to_thread(upgrade_to, url, "0006")
    assert await rows_of(url, "SELECT count(*) FROM lists WHERE is_default") == [(len(USERS),)]
    assert await rows_of(url, "SELECT count(*) FROM tasks WHERE list_id IS NULL") == [(0,)]


async def test_downgrading_counts_tasks_of_shared_and_extra_lists_for_their_owners(
    url_before_lists: str,
) -> None:
    url = url_before_lists
    counted = await counters_0005(url)
    await asyncio.to_thread(upgrade_to, url, "0006")
    async with engine_for(url) as engine, engine.begin() as connection:
        # "few" makes a second list, shares it with "idle", who adds a subtask to a task of it.
        made = await connection.execute(
            text(
                "INSERT INTO lists (owner_id, name, is_default, version, pending, completed, "
                "created_at, updated_at) VALUES ('few', 'Shared', false, 1, 2, 0, :now, :now) "
                "RETURNING id"
            ),
            {"now": NOW},
        )
        shared = made.scalar_one()
        await connection.execute(
            text(
                "INSERT INTO memberships (list_id, user_id, role, joined_at) VALUES "
                "(:list, 'few', 'owner', :now), (:list, 'idle', 'editor', :now)"
            ),
            {"list": shared, "now": NOW},
        )
        parent = await connection.execute(
            text(
                "INSERT INTO tasks (user_id, title, completed, priority, tags, version, "
                "created_at, updated_at, search_text, list_id, position, created_by) VALUES "
                "('few', 'parent', false, 0, '[]', 1, :now, :now, '', :list, 'a0', 'few') "
                "RETURNING id"
            ),
            {"now": NOW, "list": shared},
        )
        await connection.execute(
            text(
                "INSERT INTO tasks (user_id, title, completed, priority, tags, version, "
                "created_at, updated_at, search_text, list_id, parent_id, position, created_by) "
                "VALUES ('few', 'sub', false, 0, '[]', 1, :now, :now, '', :list, :parent, "
                "'a0.a0', 'idle')"
            ),
            {"now": NOW, "list": shared, "parent": parent.scalar_one()},
        )
    [(_, pending, completed)] = [row for row in counted if row[0] == "few"]
    await asyncio.to_thread(downgrade_to, url, "0005")
    assert [row for row in await counters_0005(url) if row[0] == "few"] == [
        ("few", pending + 2, completed)
    ]
    assert await rows_of(url, "SELECT user_id FROM tasks WHERE title = 'sub'") == [("few",)]


async def test_a_failed_upgrade_leaves_everything_as_it_was(url_before_lists: str) -> None:
    # An index of another table under the name of one the upgrade makes last, after the tables,
    # the backfill and the rebuilt tasks table: PostgreSQL's DDL is transactional, and so is
    # SQLite's, which the migration runs in one transaction too (migrations/env.py).
    url = url_before_lists
    async with engine_for(url) as engine, engine.begin() as connection:
        await connection.execute(text("CREATE TABLE blocker (x INTEGER)"))
        await connection.execute(text("CREATE INDEX ix_tasks_list_id_id_no_due ON blocker (x)"))
    before = (await schema_of(url), await tasks_0005(url), await counters_0005(url))

    with pytest.raises(DBAPIError, match="ix_tasks_list_id_id_no_due"):
        await asyncio.to_thread(upgrade_to, url, "0006")

    assert await rows_of(url, "SELECT version_num FROM alembic_version") == [("0005",)]
    assert (await schema_of(url), await tasks_0005(url), await counters_0005(url)) == before
