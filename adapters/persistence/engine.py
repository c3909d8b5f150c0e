"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), tuned for the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from adapters.persistence.files import create_private_folder, private_database
from adapters.persistence.urls import async_database_url

CONNECT_TIMEOUT_S: Final = 5.0
READ_ONLY: Final = "taskservice_read_only"
"""Execution option for checks that only read: on SQLite they begin without the write lock."""
SQLITE_BUSY_TIMEOUT_MS: Final = 5000
# Client-side margin over the server's statement_timeout, so the server cancels first and
# the connection stays usable.
COMMAND_TIMEOUT_MARGIN_S: Final = 2.0
# What SQLAlchemy's asyncpg dialect takes from the URL for itself rather than for asyncpg.
_NOT_FOR_ASYNCPG: Final = ("prepared_statement_cache_size", "prepared_statement_name_func")


def service_engine(
    raw_url: str,
    *,
    pool_size: int,
    pool_timeout: float,
    statement_timeout_ms: int,
    connect_timeout: float,
) -> tuple[AsyncEngine, dict[str, Any] | None]:
    """The service's engine for a URL as the user wrote it, and asyncpg.connect's arguments for
    connections outside its pool (None on SQLite).

    On PostgreSQL every session is read-only outside a transaction begun READ WRITE, so that no
    write can commit on its own (executors.AsyncpgExecutor begins one before the first write).
    """
    url, connect_args = async_database_url(raw_url)
    # max_overflow=0: pool_size is the most connections the service ever opens.
    # hide_parameters: statement values (e-mails, password hashes) never reach error messages,
    # so they cannot reach the logs either.
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": pool_timeout,
        "hide_parameters": True,
        "json_serializer": _json_text,
        "json_deserializer": orjson.loads,
    }
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, connect_args, foreign_keys=True, **options), None
    connect_args |= {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout_ms / 1000 + COMMAND_TIMEOUT_MARGIN_S,
        "server_settings": {
            "statement_timeout": str(statement_timeout_ms),
            "default_transaction_read_only": "on",
            "application_name": "taskservice",
        },
    }
    # Autocommit: SQLAlchemy begins no transaction of its own; the unit of work's executor
    # begins one at its first write.
    engine = create_async_engine(
        url, connect_args=connect_args, isolation_level="AUTOCOMMIT", **options
    )
    event.listen(engine.sync_engine, "connect", _decode_json_with_orjson)
    _, from_url = engine.dialect.create_connect_args(url)
    driver_args = {k: v for k, v in from_url.items() if k not in _NOT_FOR_ASYNCPG}
    return engine, driver_args | connect_args


def create_migration_engine(raw_url: str) -> AsyncEngine:
    """An engine for Alembic: no pool, no statement timeout, foreign keys off on SQLite."""
    url, connect_args = async_database_url(raw_url)
    if url.get_backend_name() == "sqlite":
        # Batch migrations rebuild tables; with foreign keys on, dropping the old copy of a
        # referenced table would run ON DELETE CASCADE against its children.
        return _sqlite_engine(url, connect_args, foreign_keys=False, poolclass=NullPool)
    connect_args |= {
        "timeout": CONNECT_TIMEOUT_S,
        "server_settings": {"application_name": "alembic"},
    }
    return create_async_engine(url, connect_args=connect_args, poolclass=NullPool)


def _sqlite_engine(
    url: URL, connect_args: dict[str, object], *, foreign_keys: bool, **options: Any
) -> AsyncEngine:
    engine = create_async_engine(url, connect_args=connect_args, **options)
    _keep_private(engine, url)
    pragmas = (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    )

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the driver so that _begin below decides how to begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", _begin)
    return engine


def _begin(connection: Connection) -> None:
    # Taking the write lock up front makes a writer wait (busy_timeout) instead of failing
    # with "database is locked" when it upgrades a read transaction that another writer beat.
    # Read-only checks need no lock at all: in WAL mode readers never wait for writers.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def _decode_json_with_orjson(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy's codec takes JSON in binary format and calls a Python function per value,
    # which costs about 0.3 us a row of a list; in text format asyncpg hands the text to orjson
    # directly. Values arrive already serialised by the column type's bind processor, hence `str`.
    async def install(driver: Any) -> None:
        for name in ("json", "jsonb"):
            await driver.set_type_codec(
                name, encoder=str, decoder=orjson.loads, schema="pg_catalog", format="text"
            )

    dbapi_connection.run_async(install)


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


def _keep_private(engine: AsyncEngine, url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    create_private_folder(Path(database).parent)

    def before_connect(*_: Any) -> None:
        # Before SQLite opens (and perhaps creates) the file: it would make it 0644.
        private_database(Path(database))

    event.listen(engine.sync_engine, "do_connect", before_connect)
