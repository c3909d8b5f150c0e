"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), tuned for the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import attrs
import orjson
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from adapters.persistence.files import create_private_folder, private_database
from adapters.persistence.urls import async_database_url, transaction_pooler

CONNECT_TIMEOUT_S: Final = 5.0
READ_ONLY: Final = "taskservice_read_only"
"""Execution option for checks that only read: on SQLite they begin without the write lock."""
SQLITE_BUSY_TIMEOUT_MS: Final = 5000
# Client-side margin over the server's statement_timeout, so the server cancels first and
# the connection stays usable.
COMMAND_TIMEOUT_MARGIN_S: Final = 2.0
APPLICATION_NAME: Final = "taskservice"
PLAN_CACHE_MODE: Final = "force_generic_plan"
"""How PostgreSQL plans the service's prepared statements: once per statement and connection.

Every statement is shaped for the indexes it should use whatever its parameters (a keyset scan
per list), so a plan for one set of parameters is right for all; planning a page's statement
costs as much as running it, and PostgreSQL's default (`auto`) keeps planning some of them
anew at every execution when it estimates their plan from the first few calls as cheaper."""
# What SQLAlchemy's asyncpg dialect takes from the URL for itself rather than for asyncpg.
_NOT_FOR_ASYNCPG: Final = ("prepared_statement_cache_size", "prepared_statement_name_func")
_ASYNCPG: Final = asyncpg_dialect()  # type: ignore[no-untyped-call]


@attrs.frozen
class Transactions:
    """How a unit of work's transactions begin on PostgreSQL, and so where its settings live.

    Directly, every session the service opens carries them from its start (`statement_timeout`,
    and read-only outside a transaction begun READ WRITE), so reads run without a transaction.
    Through a transaction pooler a session is anyone's between two transactions: nothing is set
    on it, and a statement runs in a transaction that sets what it needs itself, reads in one
    begun READ ONLY; only a plain select (executors.Prepared.plain), which cannot write, runs
    outside one, and the client cancels it after `timeout_s`, as the server would.
    """

    read: str | None
    """What begins a transaction for reads; None: reads run outside one, in a read-only session."""
    write: str
    """What begins the transaction of a unit of work's writes."""
    timeout_s: float | None = None
    """The statement timeout for plain selects outside a transaction, kept by the client."""
    named: bool = True
    """Whether statements are prepared by name, once per connection (asyncpg's statement cache):
    always directly; through a pooler only when it keeps them (`pooler_prepares`)."""

    @property
    def pooled(self) -> bool:
        """Whether statements go through a transaction pooler."""
        return self.read is not None

    @classmethod
    def direct(cls) -> Transactions:
        """The session carries the settings; only writes need a transaction."""
        return cls(read=None, write="BEGIN READ WRITE")

    @classmethod
    def through_pooler(cls, statement_timeout_ms: int, *, prepares: bool = False) -> Transactions:
        """Each transaction carries the settings; SET LOCAL ends with it. Statements are named
        only if the pooler `prepares` them on whichever server connection runs them."""
        local = f"; SET LOCAL statement_timeout = {int(statement_timeout_ms)}"
        return cls(
            read=f"BEGIN READ ONLY{local}",
            write=f"BEGIN READ WRITE{local}",
            timeout_s=statement_timeout_ms / 1000,
            named=prepares,
        )


def service_engine(
    raw_url: str,
    *,
    pool_size: int,
    pool_timeout: float,
    statement_timeout_ms: int,
    connect_timeout: float,
    pooled: bool = False,
    pooler_prepares: bool = False,
) -> AsyncEngine:
    """The service's engine for a URL as the user wrote it, through a transaction pooler if
    `pooled` (one that keeps named prepared statements if `pooler_prepares`).

    On PostgreSQL nothing can write outside a transaction begun READ WRITE (see `Transactions`;
    executors.py begins one before the first write).
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
        if pooled:
            raise ValueError("A transaction pooler is for PostgreSQL, not SQLite")
        return _sqlite_engine(url, connect_args, foreign_keys=True, **options)
    connect_args |= _postgres_arguments(
        statement_timeout_ms, connect_timeout, pooled=pooled, pooler_prepares=pooler_prepares
    )
    # Autocommit: SQLAlchemy begins no transaction of its own; the unit of work's executor
    # begins one when it needs one.
    engine = create_async_engine(
        url, connect_args=connect_args, isolation_level="AUTOCOMMIT", **options
    )
    event.listen(engine.sync_engine, "connect", _decode_json_with_orjson)
    return engine


def session_arguments(
    raw_url: str, *, statement_timeout_ms: int, connect_timeout: float
) -> dict[str, Any]:
    """asyncpg.connect's arguments for a session of its own on a PostgreSQL server reached
    directly: the URL's TLS, the pool's timeouts and the service's session settings."""
    url, connect_args = async_database_url(raw_url)
    _, from_url = _ASYNCPG.create_connect_args(url)  # type: ignore[no-untyped-call]
    driver_args = {k: v for k, v in from_url.items() if k not in _NOT_FOR_ASYNCPG}
    return (
        driver_args
        | connect_args
        | _postgres_arguments(statement_timeout_ms, connect_timeout, pooled=False)
    )


def _postgres_arguments(
    statement_timeout_ms: int,
    connect_timeout: float,
    *,
    pooled: bool,
    pooler_prepares: bool = False,
) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout_ms / 1000 + COMMAND_TIMEOUT_MARGIN_S,
    }
    if not pooled:
        arguments["server_settings"] = {
            "statement_timeout": str(statement_timeout_ms),
            "default_transaction_read_only": "on",
            "application_name": APPLICATION_NAME,
            "plan_cache_mode": PLAN_CACHE_MODE,
        }
        return arguments
    return arguments | (_POOLED_PREPARING if pooler_prepares else _POOLED)


# Through a transaction pooler (tests/infra/pgbouncer.py shows each against PgBouncer 1.18):
# - asyncpg's statement cache names statements, which live on the one server connection they
#   were prepared on; with it off, asyncpg uses the unnamed statement and parses it again with
#   every execution, so any server connection can run it. SQLAlchemy's cache then keeps only
#   such unnamed statements' descriptions, which saves a round trip and is safe. Its
#   `prepared_statement_name_func` (documented for PgBouncer) would name them again: a
#   statement prepared outside a transaction may then be executed on another server
#   connection, where that name does not exist.
# - PgBouncer passes only the startup parameters it tracks, application_name among them;
#   statement_timeout and read-only-ness are set per transaction instead (`Transactions`).
_POOLED: Final = {
    "statement_cache_size": 0,
    "server_settings": {"application_name": APPLICATION_NAME},
}
# A pooler that keeps protocol-level prepared statements (PgBouncer 1.21+ with
# max_prepared_statements > 0) prepares a named one again on whichever server connection runs
# it: asyncpg's statement cache stays on, and PostgreSQL parses each statement once per server
# connection instead of at every execution. The startup parameters are as through any pooler,
# so plan_cache_mode stays the server's (`auto`: a generic plan after five custom ones, when it
# looks no dearer); the README tells operators how to set PLAN_CACHE_MODE on the role instead.
_POOLED_PREPARING: Final = {"server_settings": {"application_name": APPLICATION_NAME}}


def create_migration_engine(raw_url: str, *, pooled: bool | None = None) -> AsyncEngine:
    """An engine for Alembic: no pool, no statement timeout, foreign keys off on SQLite.

    Through a transaction pooler (`pooled`; None: as the URL says) it names no statements;
    the migrations run in one transaction, which the pooler keeps on one server connection.
    """
    url, connect_args = async_database_url(raw_url)
    if url.get_backend_name() == "sqlite":
        # Batch migrations rebuild tables; with foreign keys on, dropping the old copy of a
        # referenced table would run ON DELETE CASCADE against its children.
        return _sqlite_engine(url, connect_args, foreign_keys=False, poolclass=NullPool)
    connect_args |= {
        "timeout": CONNECT_TIMEOUT_S,
        "server_settings": {"application_name": "alembic"},
    }
    if transaction_pooler(raw_url) if pooled is None else pooled:
        connect_args["statement_cache_size"] = 0
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
