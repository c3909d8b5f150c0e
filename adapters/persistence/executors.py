"""How a unit of work's statements reach the database: through SQLAlchemy, or straight to asyncpg.

Every statement is built with SQLAlchemy Core. The hot ones are `Prepared`: built once at import,
with named parameters, and compiled once per dialect. On PostgreSQL those run on the asyncpg
connection under the pooled SQLAlchemy one, skipping SQLAlchemy's per-call and per-row work;
statements built per call (list filters, idempotency records, accounts) still go through
SQLAlchemy, on the same connection and in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import asyncpg
import attrs
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from adapters.persistence.errors import Failure, driver_failure, storage_errors
from domain.errors import StorageUnavailable

Row = Sequence[Any]
"""A result row, read by position in the order of the statement's columns."""
Params = Mapping[str, Any]


@attrs.frozen
class Compiled:
    """A statement's SQL for one dialect, and how to turn named values into its arguments."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: Params) -> list[Any]:
        """The positional arguments, each converted as its column type converts it."""
        return [
            params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]


class Prepared:
    """A statement with named parameters, built once and compiled once per dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement compiled for `dialect`."""
        known = self._compiled.get(dialect.name)
        if known is None:
            assert isinstance(self.statement, ClauseElement)
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            names = tuple(compiled.positiontup or ())
            types = [compiled.binds[name].type.dialect_impl(dialect) for name in names]
            processors = tuple(kind.bind_processor(dialect) for kind in types)
            known = self._compiled[dialect.name] = Compiled(compiled.string, names, processors)
        return known


class Executor(Protocol):
    """Runs one unit of work's statements and returns their rows."""

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the connection."""

    async def fetch(
        self,
        statement: Prepared | Executable,
        params: Params | None = None,
        *,
        writes: bool = False,
    ) -> Sequence[Row]:
        """The rows of `statement` (none for a statement without RETURNING)."""

    async def commit(self) -> None:
        """Commit the writes so far."""

    async def rollback(self) -> None:
        """Drop the writes since the last commit."""


async def _through_alchemy(
    connection: AsyncConnection, statement: Executable, params: Params | None
) -> Sequence[Row]:
    with storage_errors():
        result = await connection.execute(statement, params)
        return result.all() if result.returns_rows else []


class AlchemyExecutor:
    """Every statement through SQLAlchemy, in the transaction the unit of work began."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the connection."""
        return self._connection.dialect

    async def fetch(
        self,
        statement: Prepared | Executable,
        params: Params | None = None,
        *,
        writes: bool = False,
    ) -> Sequence[Row]:
        """The rows of `statement`, with SQLAlchemy's type processing.

        `writes` changes nothing here: the unit of work began its transaction (on SQLite, with the
        write lock) when it started.
        """
        if isinstance(statement, Prepared):
            statement = statement.statement
        return await _through_alchemy(self._connection, statement, params)

    async def commit(self) -> None:
        """Commit the transaction; the next statement begins another."""
        with storage_errors():
            await self._connection.commit()

    async def rollback(self) -> None:
        """Roll the transaction back."""
        with storage_errors():
            await self._connection.rollback()


class AsyncpgExecutor:
    """PostgreSQL: `Prepared` statements on the asyncpg connection; a transaction from the first write.

    The engine runs in autocommit mode, so SQLAlchemy never begins a transaction of its own; reads
    before the first write run without one, which in READ COMMITTED sees the same data (each
    statement takes its own snapshot either way) and saves a BEGIN and a ROLLBACK.
    """

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection) -> None:
        self._connection = connection
        self._driver = driver
        self._transaction: Any = None

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the connection."""
        return self._connection.dialect

    async def fetch(
        self,
        statement: Prepared | Executable,
        params: Params | None = None,
        *,
        writes: bool = False,
    ) -> Sequence[Row]:
        """The rows of `statement`; a write first begins the unit of work's transaction."""
        if writes and self._transaction is None:
            transaction = self._driver.transaction()
            await self._guarded(transaction.start())
            self._transaction = transaction
        if not isinstance(statement, Prepared):
            return await _through_alchemy(self._connection, statement, params)
        compiled = statement.compiled(self.dialect)
        arguments = compiled.arguments(params or {})
        rows: Sequence[Row] = await self._guarded(self._driver.fetch(compiled.sql, *arguments))
        return rows

    async def commit(self) -> None:
        """Commit the transaction, if a write began one."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            await self._guarded(transaction.commit())

    async def rollback(self) -> None:
        """Roll the transaction back, if a write began one."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            await self._guarded(transaction.rollback())

    async def _guarded(self, call: Any) -> Any:
        try:
            return await call
        except Exception as error:
            failure = driver_failure(error)
            if failure is None:
                raise
            if failure is Failure.CONNECTION_LOST:
                # The pool must not hand this connection out again.
                self._transaction = None
                with storage_errors():
                    await self._connection.invalidate(error)
            raise StorageUnavailable() from error
