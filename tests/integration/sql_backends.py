"""Migrated SQLite and PostgreSQL databases of a test's own, and engines that are always disposed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence import create_engine, upgrade_to_head
from tests.conftest import create_database, drop_database


def sqlite_url(directory: Path) -> str:
    """The URL of a SQLite file database in `directory`."""
    return f"sqlite:///{directory / 'tasks.db'}"


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """An empty PostgreSQL database, dropped on exit."""
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


@asynccontextmanager
async def migrated_postgres() -> AsyncIterator[str]:
    """A PostgreSQL database at the latest migration, dropped on exit."""
    async with fresh_postgres() as url:
        await asyncio.to_thread(upgrade_to_head, url)
        yield url


async def migrated_sqlite(directory: Path) -> str:
    """A SQLite file database in `directory` at the latest migration."""
    url = sqlite_url(directory)
    await asyncio.to_thread(upgrade_to_head, url)
    return url


@asynccontextmanager
async def engine_for(
    url: str, *, pool_size: int = 10, pool_timeout: float = 5.0, statement_timeout_ms: int = 10_000
) -> AsyncIterator[AsyncEngine]:
    """The service's engine for `url`, disposed on exit."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        statement_timeout_ms=statement_timeout_ms,
    )
    try:
        yield engine
    finally:
        await engine.dispose()
