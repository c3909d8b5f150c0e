"""Alembic migrations: they round-trip, match tables.py, and their constraints bite."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters.persistence import (
    SqlUnitOfWorkFactory,
    downgrade_to_base,
    head_revision,
    metadata,
    upgrade_to_head,
)
from adapters.persistence.migrations import ROOT, alembic_config
from adapters.persistence.tables import (
    in_schema_of,
    lists,
    memberships,
    oidc_identities,
    personal_tokens,
    tasks,
    users,
)
from domain.lists import Membership, Role, TaskList
from domain.tasks import Task, parse_changes
from domain.types import UserId
from domain.users import User
from tests.integration.sql_backends import database_for, engine_for, fresh_postgres, sqlite_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of the backend under test."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        async with fresh_postgres() as url:
            yield url


async def version_of(url: str) -> list[str]:
    """The revisions recorded in alembic_version."""
    async with engine_for(url) as engine, engine.connect() as connection:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return [str(v) for v in result.scalars()]


async def table_names(url: str) -> set[str]:
    """The tables in the database."""
    async with engine_for(url) as engine, engine.connect() as connection:
        names: list[str] = await connection.run_sync(lambda c: inspect(c).get_table_names())
        return set(names)


def schema_drift(connection: Connection) -> list[Any]:
    """What autogenerate would change to make the database match tables.py."""
    dialect = connection.dialect.name
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": lambda _, name, kind, *__: in_schema_of(name, kind, dialect),
        },
    )
    return list(compare_metadata(context, metadata))


async def test_upgrade_downgrade_upgrade_round_trip(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_url)
    assert await version_of(empty_url) == [head_revision()]
    assert await table_names(empty_url) == {
        "alembic_version",
        "users",
        "tasks",
        "idempotency_keys",
        "ended_sessions",
        "lists",
        "memberships",
        "invites",
        "personal_tokens",
        "oidc_identities",
        "trash",
        "tombstones",
        "sync_state",
    }

    await asyncio.to_thread(downgrade_to_base, empty_url)
    assert await table_names(empty_url) == {"alembic_version"}
    assert await version_of(empty_url) == []

    await asyncio.to_thread(upgrade_to_head, empty_url)
    assert await version_of(empty_url) == [head_revision()]


async def test_the_migrated_schema_matches_the_tables_module(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_url)
    async with engine_for(empty_url) as engine, engine.connect() as connection:
        assert await connection.run_sync(schema_drift) == []


OWNER_LIST = 1
"""The id of the list `add_owner` gives the user "owner"."""


def good_task(**overrides: object) -> dict[str, object]:
    """A valid tasks row in the list of "owner", with some columns overridden."""
    row: dict[str, object] = {
        "user_id": "owner",
        "list_id": OWNER_LIST,
        "position": "a0",
        "created_by": "owner",
        "title": "ok",
        "description": None,
        "completed": False,
        "completed_at": None,
        "priority": 0,
        "due_date": None,
        "due_at": None,
        "tags": [],
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
        "search_text": "ok\x1f",
    }
    return row | overrides


BAD_TASKS = {
    "priority above high": good_task(priority=7),
    "negative priority": good_task(priority=-1),
    "both due forms": good_task(due_date=NOW.date(), due_at=NOW),
    "completed without completed_at": good_task(completed=True),
    "completed_at without completed": good_task(completed_at=NOW),
    "version zero": good_task(version=0),
    "empty title": good_task(title=""),
    "unknown owner": good_task(user_id="nobody"),
    "null title": good_task(title=None),
    "in another owner's list": good_task(user_id="local"),
    "in no list": good_task(list_id=OWNER_LIST + 1),
    "under no parent": good_task(parent_id=12345),
    "null position": good_task(position=None),
}


def good_list(**overrides: object) -> dict[str, object]:
    """A valid lists row of "local", with some columns overridden."""
    row: dict[str, object] = {
        "owner_id": "local",
        "name": "Groceries",
        "is_default": False,
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return row | overrides


BAD_LISTS = {
    "empty name": good_list(name=""),
    "a second default list": good_list(owner_id="owner", is_default=True),
    "negative count": good_list(pending=-1),
    "version zero": good_list(version=0),
    "unknown owner": good_list(owner_id="nobody"),
}
BAD_MEMBERSHIPS = {
    "unknown role": {"list_id": OWNER_LIST, "user_id": "local", "role": "admin"},
    "twice": {"list_id": OWNER_LIST, "user_id": "owner", "role": "editor"},
    "of no list": {"list_id": OWNER_LIST + 1, "user_id": "local", "role": "viewer"},
}


async def add_owner(connection: AsyncConnection) -> None:
    """The user "owner" with their default list (id OWNER_LIST) and membership, and "local"."""
    await connection.execute(insert(users).values(id="owner", created_at=NOW))
    await connection.execute(
        insert(users).values(id="local", email_key="a@example.com", created_at=NOW)
    )
    await connection.execute(
        insert(lists).values(good_list(id=OWNER_LIST, owner_id="owner", is_default=True))
    )
    await connection.execute(
        insert(memberships).values(list_id=OWNER_LIST, user_id="owner", role="owner", joined_at=NOW)
    )


async def test_the_constraints_reject_bad_rows(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_url)
    async with engine_for(empty_url) as engine:
        async with engine.begin() as connection:
            await add_owner(connection)
            # The limits count characters, not bytes.
            await connection.execute(
                insert(tasks).values(good_task(title="é" * 200, description="ü" * 1000))
            )
        bad_users = {"duplicate e-mail key": {"id": "other", "email_key": "a@example.com"}}
        cases = [
            *((name, insert(tasks).values(row)) for name, row in BAD_TASKS.items()),
            *(
                (name, insert(users).values(created_at=NOW, **row))
                for name, row in bad_users.items()
            ),
            *((name, insert(lists).values(row)) for name, row in BAD_LISTS.items()),
            *(
                (name, insert(memberships).values(joined_at=NOW, **row))
                for name, row in BAD_MEMBERSHIPS.items()
            ),
        ]
        rejected = [name for name, statement in cases if await refused(engine, statement)]
        assert rejected == [name for name, _ in cases]
        # Over-long text is refused too: by the CHECK on SQLite, by VARCHAR(n) on PostgreSQL.
        too_long = [good_task(title="é" * 201), good_task(description="ü" * 1001)]
        for row in too_long:
            assert await refused(engine, insert(tasks).values(row), DBAPIError)


async def refused(
    engine: AsyncEngine, statement: Executable, error: type[DBAPIError] = IntegrityError
) -> bool:
    """Whether the database refuses `statement` with `error` (it is rolled back either way)."""
    async with engine.connect() as connection:
        try:
            await connection.execute(statement)
        except error:
            return True
        finally:
            await connection.rollback()
    return False


async def test_upgrading_folds_existing_tasks_into_the_search_text(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to, empty_url, "0001")
    rows = [
        {
            k: v
            for k, v in good_task(title=title, description=description).items()
            if k != "search_text"
        }
        for title, description in [("Straße", "ÉCOLE"), ("Plain", None)]
    ]
    async with engine_for(empty_url) as engine, engine.begin() as connection:
        await connection.execute(insert(users).values(id="owner", created_at=NOW))
        for row in rows:
            await connection.execute(text(_INSERT_0001), row | {"tags": "[]"})

    await asyncio.to_thread(upgrade_to_head, empty_url)

    async with engine_for(empty_url) as engine, engine.connect() as connection:
        result = await connection.execute(text("SELECT search_text FROM tasks ORDER BY id"))
        assert list(result.scalars()) == ["strasse\x1fécole", "plain\x1f"]


async def test_upgrading_to_0003_counts_each_users_existing_tasks(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to, empty_url, "0002")
    done = {"completed": True, "completed_at": NOW}
    async with engine_for(empty_url) as engine, engine.begin() as connection:
        for owner in ("busy", "idle"):
            await connection.execute(text(_INSERT_USER), {"id": owner, "created_at": NOW})
        for row in (good_task(), good_task(), good_task() | done):
            await connection.execute(text(_INSERT_0002), row | {"user_id": "busy", "tags": "[]"})

    await asyncio.to_thread(upgrade_to, empty_url, "0003")

    async with engine_for(empty_url) as engine, engine.connect() as connection:
        result = await connection.execute(
            text("SELECT id, tasks_pending, tasks_completed FROM users ORDER BY id")
        )
        assert [tuple(row) for row in result] == [("busy", 2, 1), ("idle", 0, 0)]


async def test_downgrading_one_step_keeps_the_tasks(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_url)
    async with engine_for(empty_url) as engine, engine.begin() as connection:
        await add_owner(connection)
        await connection.execute(insert(tasks).values(good_task()))

    await asyncio.to_thread(downgrade_to, empty_url, "0001")

    assert "idempotency_keys" not in await table_names(empty_url)
    async with engine_for(empty_url) as engine, engine.connect() as connection:
        result = await connection.execute(text("SELECT title FROM tasks"))
        assert list(result.scalars()) == ["ok"]


async def test_downgrading_the_identity_revision_drops_its_tables_and_keeps_the_rest(
    empty_url: str,
) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_url)
    async with engine_for(empty_url) as engine, engine.begin() as connection:
        await add_owner(connection)
        await connection.execute(insert(tasks).values(good_task()))
        await connection.execute(
            insert(personal_tokens).values(
                id="t1",
                user_id="owner",
                token_hash="0" * 64,
                name="script",
                scopes="tasks:read",
                created_at=NOW,
                expires_at=NOW,
            )
        )
        await connection.execute(
            insert(oidc_identities).values(
                issuer="https://id.example.test", subject="s", user_id="owner", created_at=NOW
            )
        )

    await asyncio.to_thread(downgrade_to, empty_url, "0004")

    assert await version_of(empty_url) == ["0004"]
    names = await table_names(empty_url)
    assert not names & {"personal_tokens", "oidc_identities"}
    assert {"users", "tasks", "ended_sessions"} <= names
    async with engine_for(empty_url) as engine, engine.connect() as connection:
        result = await connection.execute(text("SELECT title FROM tasks"))
        assert list(result.scalars()) == ["ok"]
    await asyncio.to_thread(upgrade_to_head, empty_url)
    assert "personal_tokens" in await table_names(empty_url)


async def test_a_token_hash_is_unique_and_an_identity_needs_its_user(empty_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_url)
    token = {
        "user_id": "owner",
        "token_hash": "0" * 64,
        "name": "script",
        "scopes": "tasks:read",
        "created_at": NOW,
        "expires_at": NOW,
    }
    async with engine_for(empty_url) as engine:
        async with engine.begin() as connection:
            await connection.execute(insert(users).values(id="owner", created_at=NOW))
            await connection.execute(insert(personal_tokens).values(id="t1", **token))
        assert await refused(engine, insert(personal_tokens).values(id="t2", **token))
        orphan = insert(oidc_identities).values(
            issuer="https://id.example.test", subject="s", user_id="nobody", created_at=NOW
        )
        assert await refused(engine, orphan)


_INSERT_USER = "INSERT INTO users (id, created_at) VALUES (:id, :created_at)"
_INSERT_0002 = (
    "INSERT INTO tasks (user_id, title, description, completed, completed_at, priority, "
    "due_date, due_at, tags, version, created_at, updated_at, search_text) VALUES (:user_id, "
    ":title, :description, :completed, :completed_at, :priority, :due_date, :due_at, :tags, "
    ":version, :created_at, :updated_at, :search_text)"
)
_INSERT_0001 = (
    "INSERT INTO tasks (user_id, title, description, completed, completed_at, priority, "
    "due_date, due_at, tags, version, created_at, updated_at) VALUES (:user_id, :title, "
    ":description, :completed, :completed_at, :priority, :due_date, :due_at, :tags, :version, "
    ":created_at, :updated_at)"
)


def upgrade_to(url: str, revision: str) -> None:
    """Migrate the database up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade_to(url: str, revision: str) -> None:
    """Migrate the database down to `revision`."""
    command.downgrade(alembic_config(url), revision)


async def test_alembic_upgrade_head_from_the_repository_root(empty_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "upgrade",
        "head",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert await version_of(empty_url) == [head_revision()]


async def test_migrating_from_inside_the_event_loop_says_to_use_a_thread(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="to_thread"):
        upgrade_to_head(sqlite_url(tmp_path))


async def test_upgrading_to_0008_numbers_existing_rows_below_every_write(empty_url: str) -> None:
    # Rows of 0007 (made here through today's repositories, then downgraded) get numbers of their
    # own below 0, memberships below them all; a full feed reads them, and a later read after
    # its end finds only what was written since.
    owner, member = UserId("owner"), UserId("member")
    async with database_for(empty_url) as database:
        uow = SqlUnitOfWorkFactory(database)
        await asyncio.to_thread(upgrade_to_head, empty_url)
        async with uow() as work:
            shared = await work.lists.add(
                TaskList.create(owner_id=owner, name="L", now=NOW), User(id=owner, created_at=NOW)
            )
            await work.users.ensure(User(id=member, created_at=NOW))
            joined = Membership(list_id=shared.id, user_id=member, role=Role.VIEWER, joined_at=NOW)
            assert await work.lists.add_member(joined)
            for title in ("one", "two"):
                task = Task.create(
                    user_id=owner, changes=parse_changes({"title": title}, "create"), now=NOW
                )
                placed = attrs.evolve(task, list_id=shared.id, position="a0")
                await work.tasks.add(placed, User(id=owner, created_at=NOW))
            await work.commit()
        await asyncio.to_thread(downgrade_to, empty_url, "0007_trash")
        await asyncio.to_thread(upgrade_to_head, empty_url)
        async with engine_for(empty_url) as engine, engine.connect() as connection:
            numbers = {
                table: [tuple(row) for row in await connection.execute(text(sql))]
                for table, sql in (
                    ("tasks", "SELECT changed FROM tasks ORDER BY changed"),
                    ("lists", "SELECT changed FROM lists ORDER BY changed"),
                    ("memberships", "SELECT changed FROM memberships ORDER BY changed"),
                )
            }
        assert [n for (n,) in numbers["tasks"]] == [-2, -1]
        assert [n for (n,) in numbers["lists"]] == [-1]
        assert numbers["memberships"] == [(-(2**62),), (-(2**62),)]
        async with uow() as work:
            full = await work.changes.page(member, None, 100)
        assert sorted((e.kind.value, e.op.value) for e in full) == [
            ("list", "upsert"),
            ("task", "upsert"),
            ("task", "upsert"),
        ]
        async with uow() as work:
            assert await work.changes.page(member, full[-1].position, 100) == []
            assert await work.lists.replace(shared.renamed("M", NOW), shared)
            await work.commit()
        async with uow() as work:
            [renamed] = await work.changes.page(member, full[-1].position, 100)
        assert renamed.list is not None
        assert renamed.list.list.name == "M"
