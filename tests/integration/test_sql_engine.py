"""The engine's settings per backend, and storage failures surfacing as StorageUnavailable."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import attrs
import pytest
from sqlalchemy.exc import IntegrityError

from adapters.persistence import Database, SqlUnitOfWorkFactory
from adapters.persistence.database import TRUSTED_FOR_S
from domain.errors import StorageUnavailable
from domain.lists import TaskList
from domain.tasks import Task, parse_changes
from domain.types import UserId
from domain.users import User
from taskservice.ports import UnitOfWork
from tests.integration.sql_backends import database_for, migrated_postgres, migrated_sqlite

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def a_task(user_id: UserId) -> Task:
    """A valid, unsaved task."""
    return Task.create(user_id=user_id, changes=parse_changes({"title": "t"}, "create"), now=NOW)


def owner(user_id: UserId) -> User:
    """The user `user_id` as a write provisions them."""
    return User(id=user_id, created_at=NOW)


async def add_task(work: UnitOfWork, user_id: UserId, version: int = 1) -> Task:
    """A new task (at `version`) in the user's default list (made on first need), as the use
    cases add one."""
    inbox = await work.lists.ensure_default(TaskList.default_for(user_id, NOW), owner(user_id))
    task = attrs.evolve(a_task(user_id), list_id=inbox.id, position="a0", version=version)
    return await work.tasks.add(task, owner(user_id))


async def a_user(factory: SqlUnitOfWorkFactory) -> UserId:
    """A new committed user."""
    user = User(id=UserId(f"user-{uuid.uuid4().hex[:12]}"), created_at=NOW)
    async with factory() as work:
        await work.users.ensure(user)
        await work.commit()
    return user.id


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    async with (
        database_for(await migrated_sqlite(tmp_path)) as database,
        database.connection() as c,
    ):
        settings = [
            (await c.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
    assert settings == ["wal", 1, 5000]


async def test_a_sqlite_unit_of_work_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    url = await migrated_sqlite(tmp_path)
    path = tmp_path / "tasks.db"

    def can_write() -> bool:
        with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return False
            other.execute("ROLLBACK")
            return True

    async with database_for(url) as database:
        async with SqlUnitOfWorkFactory(database)():
            assert not can_write()
        assert can_write()


async def test_missing_folders_of_a_sqlite_path_are_created(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "data"
    async with database_for(f"sqlite:///{folder / 'tasks.db'}") as database:
        assert folder.is_dir()
        async with SqlUnitOfWorkFactory(database)():
            pass
    assert (folder / "tasks.db").is_file()


async def test_an_unreachable_postgres_is_storage_unavailable() -> None:
    async with database_for("postgresql://postgres@127.0.0.1:1/tasks") as database:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            async with SqlUnitOfWorkFactory(database)():
                pass
        assert time.monotonic() - started < 5


async def test_an_unopenable_sqlite_file_is_storage_unavailable(tmp_path: Path) -> None:
    # The "file" is a folder, which SQLite cannot open.
    async with database_for(f"sqlite:///{tmp_path}") as database:
        with pytest.raises(StorageUnavailable):
            async with SqlUnitOfWorkFactory(database)():
                pass


async def test_an_exhausted_pool_is_storage_unavailable(tmp_path: Path) -> None:
    url = await migrated_sqlite(tmp_path)
    async with database_for(url, pool_size=1, pool_timeout=0.2) as database:
        factory = SqlUnitOfWorkFactory(database)
        async with factory():
            with pytest.raises(StorageUnavailable):
                async with factory():
                    pass
        async with factory() as work:
            assert await work.users.get(UserId("nobody")) is None


async def test_a_check_violation_is_a_bug_and_stays_an_integrity_error(tmp_path: Path) -> None:
    url = await migrated_sqlite(tmp_path)
    async with database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        with pytest.raises(IntegrityError):
            async with factory() as work:
                await add_task(work, user_id, version=0)


@pytest.mark.postgres
async def test_a_statement_timeout_is_storage_unavailable() -> None:
    async with (
        migrated_postgres() as url,
        database_for(url) as database,
        database_for(url, statement_timeout_ms=200) as impatient,
    ):
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        async with factory() as work:
            task = await add_task(work, user_id)
            await work.commit()
            # This unit of work now holds the row lock, so the other one's update must wait.
            assert await work.tasks.replace(attrs.evolve(task, version=2), task)
            started = time.monotonic()
            with pytest.raises(StorageUnavailable):
                async with SqlUnitOfWorkFactory(impatient)() as other:
                    await other.tasks.replace(attrs.evolve(task, version=2), task)
            assert time.monotonic() - started < 2


async def kill_service_connections(url: str) -> int:
    """Terminate every server session the service's engines opened on `url`'s database."""
    connection = await asyncpg.connect(url, timeout=5)
    try:
        killed = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'taskservice'"
        )
    finally:
        await connection.close()
    await asyncio.sleep(0.1)
    return int(killed)


@pytest.mark.postgres
async def test_a_connection_lost_mid_work_is_storage_unavailable_and_heals() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)

        async def work_through_a_restart() -> None:
            async with factory() as work:
                await work.tasks.counts(user_id)
                assert await kill_service_connections(url) >= 1
                await work.tasks.counts(user_id)

        with pytest.raises(StorageUnavailable):
            await work_through_a_restart()
        async with factory() as work:
            assert (await work.tasks.counts(user_id)).pending == 0


@pytest.mark.postgres
async def test_pooled_connections_killed_while_idle_are_replaced() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        assert await kill_service_connections(url) >= 1
        await asyncio.sleep(TRUSTED_FOR_S)  # idle long enough to be pinged on checkout
        async with factory() as work:
            assert await work.users.get(user_id) is not None


@pytest.mark.postgres
async def test_a_connection_killed_right_after_use_fails_one_unit_of_work_only() -> None:
    # Within TRUSTED_FOR_S of its last answer a connection is not pinged: the unit of work
    # that gets it fails as unavailable, and the pool replaces the connection.
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        assert await kill_service_connections(url) >= 1
        with pytest.raises(StorageUnavailable):
            async with factory() as work:
                await work.users.get(user_id)
        async with factory() as work:
            assert await work.users.get(user_id) is not None


@pytest.mark.postgres
async def test_a_failure_caught_inside_the_work_does_not_break_its_exit() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        async with factory() as work:
            await kill_service_connections(url)
            with pytest.raises(StorageUnavailable):
                await work.tasks.counts(user_id)


async def a_failed_write(factory: SqlUnitOfWorkFactory, user_id: UserId) -> None:
    """A unit of work whose use case fails after a write."""
    async with factory() as work:
        await add_task(work, user_id)
        raise RuntimeError("the use case failed")


@pytest.mark.postgres
async def test_every_way_out_of_a_unit_of_work_gives_its_connection_back() -> None:
    # Healthy PostgreSQL connections are kept for the next unit of work or go back to the pool
    # without a greenlet (Database.checkin); one lost on the way would exhaust this pool
    # of one at once.
    async with (
        migrated_postgres() as url,
        database_for(url, pool_size=1, pool_timeout=0.5) as database,
    ):
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        for _ in range(3):
            async with factory() as work:
                await add_task(work, user_id)
                await work.commit()
            with pytest.raises(RuntimeError):
                await a_failed_write(factory, user_id)
            async with factory() as work:
                # Built per call, so it runs through SQLAlchemy on the same connection.
                assert await work.users.get(user_id) is not None
        assert database.usage()["checked_out"] == 0
        async with factory() as work:
            assert (await work.tasks.counts(user_id)).pending == 3


async def test_opening_a_database_opens_no_connection(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'never.db'}")
    assert not (tmp_path / "never.db").exists()
    await database.close()
