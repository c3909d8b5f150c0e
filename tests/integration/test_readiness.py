"""SqlReadiness: ready only when the database answers at the head revision; never raises."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from adapters.persistence import SqlReadiness, head_revision
from tests.integration.sql_backends import (
    database_for,
    engine_for,
    fresh_postgres,
    migrated_postgres,
    migrated_sqlite,
    sqlite_url,
)


async def test_a_migrated_sqlite_database_is_ready(tmp_path: Path) -> None:
    url = await migrated_sqlite(tmp_path)
    async with database_for(url) as database:
        assert await SqlReadiness(database, head_revision()).is_ready()
        assert not await SqlReadiness(database, "some-other-revision").is_ready()


async def test_an_unmigrated_sqlite_database_is_not_ready(tmp_path: Path) -> None:
    async with database_for(sqlite_url(tmp_path)) as database:
        assert not await SqlReadiness(database, head_revision()).is_ready()


@pytest.mark.postgres
async def test_a_migrated_postgres_database_is_ready() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        assert await SqlReadiness(database, head_revision()).is_ready()
        assert not await SqlReadiness(database, "some-other-revision").is_ready()


@pytest.mark.postgres
async def test_an_unmigrated_postgres_database_is_not_ready() -> None:
    async with fresh_postgres() as url, database_for(url) as database:
        readiness = SqlReadiness(database, head_revision())
        assert not await readiness.is_ready()
        # A failed check leaves the pool healthy for the next one.
        assert not await readiness.is_ready()


async def test_an_unreachable_server_is_not_ready_and_answers_quickly() -> None:
    async with database_for("postgresql://postgres@127.0.0.1:1/tasks") as database:
        started = time.monotonic()
        assert not await SqlReadiness(database, head_revision()).is_ready()
        assert time.monotonic() - started < 5


async def test_a_busy_writer_does_not_hold_up_the_check(tmp_path: Path) -> None:
    url = await migrated_sqlite(tmp_path)
    async with database_for(url) as database, database.engine.connect() as writer:
        await writer.begin()  # BEGIN IMMEDIATE: the write lock is held from here on
        started = time.monotonic()
        assert await SqlReadiness(database, head_revision(), timeout=1).is_ready()
        assert time.monotonic() - started < 1
        await writer.rollback()


@pytest.mark.postgres
async def test_a_hanging_check_is_cut_off_by_the_timeout() -> None:
    async with migrated_postgres() as url, database_for(url) as database:
        # Another client of the database, in a transaction of its own.
        async with engine_for(url) as other, other.connect() as holder:
            await holder.begin()
            await holder.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            assert not await SqlReadiness(database, head_revision(), timeout=0.3).is_ready()
            assert time.monotonic() - started < 2
            await holder.rollback()
        assert await SqlReadiness(database, head_revision()).is_ready()
