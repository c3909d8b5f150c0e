"""Migrated SQLite and PostgreSQL databases of a test's own, and Databases and engines on them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.memory import MemoryStore
from adapters.persistence import (
    Database,
    SqlUnitOfWorkFactory,
    async_database_url,
    upgrade_to_head,
)
from adapters.persistence.engine import CONNECT_TIMEOUT_S
from taskservice.ports import ChangeSignal, UnitOfWorkFactory
from tests.conftest import create_database, drop_database
from tests.infra.pgbouncer import pgbouncer

POOLER_HINT = "pgbouncer=true"
"""What marks a URL as a transaction pooler's where the host name does not (Neon's do)."""


def hinted(url: str) -> str:
    """`url` saying that it goes through PgBouncer in transaction mode (`?pgbouncer=true`)."""
    return f"{url}{'&' if '?' in url else '?'}{POOLER_HINT}"


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


@asynccontextmanager
async def migrated_behind_pgbouncer(**options: Any) -> AsyncIterator[str]:
    """A PostgreSQL database at the latest migration, reached through PgBouncer in transaction
    mode (tests/infra/pgbouncer.py, `options` for it): its URL with `pgbouncer=true`."""
    async with migrated_postgres() as url, pgbouncer(url, **options) as bouncer:
        yield hinted(bouncer.url)


async def migrated_sqlite(directory: Path) -> str:
    """A SQLite file database in `directory` at the latest migration."""
    url = sqlite_url(directory)
    await asyncio.to_thread(upgrade_to_head, url)
    return url


@asynccontextmanager
async def database_for(
    url: str,
    *,
    pool_size: int = 10,
    pool_timeout: float = 5.0,
    statement_timeout_ms: int = 10_000,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    pooler: bool | None = None,
    pooler_prepares: bool = False,
    direct_url: str | None = None,
) -> AsyncIterator[Database]:
    """The service's Database for `url`, closed on exit."""
    database = Database(
        url,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        statement_timeout_ms=statement_timeout_ms,
        connect_timeout=connect_timeout,
        pooler=pooler,
        pooler_prepares=pooler_prepares,
        direct_url=direct_url,
    )
    try:
        yield database
    finally:
        await database.close()


POOLED_KINDS: Final = ("pgbouncer", "pgbouncer-prepared")
"""PgBouncer in transaction mode: Debian's, which keeps no prepared statement (the service names
none), and one that keeps them (1.21+, the service told DB_POOLER_PREPARED_STATEMENTS)."""


@asynccontextmanager
async def database_behind(kind: str) -> AsyncIterator[Database]:
    """The service's Database on a migrated database of its own through PgBouncer of `kind`
    (one of POOLED_KINDS), closed and dropped on exit."""
    prepared = kind == "pgbouncer-prepared"
    async with (
        migrated_behind_pgbouncer(prepared_statements=prepared) as url,
        database_for(url, pooler_prepares=prepared) as database,
    ):
        assert database.endpoints.pooled
        assert database.transactions.named is prepared
        yield database


@asynccontextmanager
async def engine_for(url: str) -> AsyncIterator[AsyncEngine]:
    """A plain engine for a test's own SQL (rows set up or read back behind the service's back).

    Unlike the service's, its PostgreSQL sessions may write outside a transaction; on SQLite,
    foreign keys are enforced as the service's are. Disposed on exit.
    """
    driver_url, connect_args = async_database_url(url)
    engine = create_async_engine(driver_url, connect_args=connect_args, poolclass=NullPool)
    if driver_url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _enforce_foreign_keys)
    try:
        yield engine
    finally:
        await engine.dispose()


def _enforce_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


@asynccontextmanager
async def store_of(
    backend: str, directory: Path, signal: ChangeSignal | None = None
) -> AsyncIterator[UnitOfWorkFactory]:
    """An empty store of `backend` ("memory", "sqlite" in `directory`, or "postgres"), whose
    commits tell `signal` what they changed."""
    if backend == "memory":
        yield MemoryStore(signal)
    elif backend == "sqlite":
        url = await migrated_sqlite(directory)
        async with database_for(url) as database:
            yield SqlUnitOfWorkFactory(database, signal)
    else:
        async with migrated_postgres() as url, database_for(url) as database:
            yield SqlUnitOfWorkFactory(database, signal)
