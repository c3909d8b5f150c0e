"""How a unit of work's statements reach the database: through SQLAlchemy, or straight to asyncpg.

Every statement is built with SQLAlchemy Core. The hot ones, and every one that writes, are
`Prepared`: built once, with named parameters, compiled once per dialect, and aware of whether
they write. On PostgreSQL those run on the asyncpg connection under the pooled SQLAlchemy one,
skipping SQLAlchemy's per-call and per-row work; selects built per call (list filters, accounts)
still go through SQLAlchemy, on the same connection and in the same transaction. Through a
transaction pooler (`PooledExecutor`) no statement is named, unless the pooler keeps named ones
(`Transactions.named`), and only plain selects run outside a transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import asyncpg
import attrs
from sqlalchemy import BindParameter, Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable, visitors
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnClause, TextClause
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import ForUpdateArg

from adapters.persistence.engine import Transactions
from adapters.persistence.errors import Failure, driver_failure, storage_errors
from domain.errors import StorageUnavailable

Row = Sequence[Any]
"""A result row, read by position in the order of the statement's columns."""
Params = Mapping[str, Any]
_ASYNCPG: Final = asyncpg_dialect()  # type: ignore[no-untyped-call]
# What may change data or lock rows, wherever it sits in a statement: INSERT, UPDATE and DELETE
# (a CTE's too), FOR UPDATE or FOR SHARE, and SQL text, which cannot be looked into.
_WRITING: Final = (UpdateBase, ForUpdateArg, TextClause)
# Where a pooled connection keeps its statements' descriptions (SQLAlchemy's per-connection
# info, emptied when the connection is replaced).
_DESCRIBED: Final = "taskservice_described"


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
    """A statement with named parameters, built once, that knows whether it writes.

    Its rows come straight from asyncpg on PostgreSQL, without SQLAlchemy's result processing,
    so a column type that needs some (`process_result_value`) is refused when it is built.
    """

    def __init__(self, statement: Executable) -> None:
        assert isinstance(statement, ClauseElement)
        self.statement = statement
        self.writes = any(isinstance(e, _WRITING) for e in visitors.iterate(statement))
        # A select, or a write with RETURNING: no row is an answer (nothing matched).
        self.returns_rows = bool(getattr(statement, "exported_columns", ()))
        self.plain = not self.writes and not any(map(_may_act, visitors.iterate(statement)))
        """A select of columns and operators only, which can do nothing but read rows."""
        self.names = frozenset(
            e.key for e in visitors.iterate(statement) if isinstance(e, BindParameter)
        )
        """The names of its parameters."""
        _refuse_result_processing(statement)
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement compiled for `dialect`."""
        known = self._compiled.get(dialect.name)
        if known is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            names = tuple(compiled.positiontup or ())
            constants = [name for name in names if not compiled.binds[name].required]
            if constants:
                # Every argument comes from the call's parameters, so a constant (literal(),
                # a plain Python value) would have none: write it with literal_column().
                raise TypeError(f"Constant parameters {constants} in {self.statement}")
            types = [compiled.binds[name].type.dialect_impl(dialect) for name in names]
            processors = tuple(kind.bind_processor(dialect) for kind in types)
            known = self._compiled[dialect.name] = Compiled(compiled.string, names, processors)
        return known


_PURE_FUNCTIONS: Final = frozenset(
    {
        "coalesce",
        "count",
        "greatest",
        "max",
        "min",
        "sum",
        # What bounds the change feed (changes.py): the snapshot's running transactions.
        "current_database",
        "pg_current_snapshot",
        "pg_snapshot_xip",
        "pg_snapshot_xmax",
        "xid",
    }
)
"""Built-in functions that only compute or read (greatest is an SQL construct): PostgreSQL
resolves them in pg_catalog, which it searches before any schema of ours."""
_CONSTANT: Final = re.compile(r"-?[0-9]+|'[a-z]+'|\*")
"""Literal SQL that is a constant: a number, a lower-case word in quotes (a kind, a role), or
count's `*`."""


def _may_act(element: Any) -> bool:
    # Any other function may write (nextval(), or any function defined in the database), and
    # literal SQL may hold anything but a constant; what remains are columns, values, the
    # built-in operators and the functions above.
    if isinstance(element, FunctionElement):
        return getattr(element, "name", "").lower() not in _PURE_FUNCTIONS
    return (
        isinstance(element, ColumnClause)
        and element.is_literal
        and not _CONSTANT.fullmatch(element.name)
    )


def _refuse_result_processing(statement: Executable) -> None:
    for column in getattr(statement, "exported_columns", ()):
        if column.type.dialect_impl(_ASYNCPG).result_processor(_ASYNCPG, None) is not None:
            raise TypeError(
                f"Column {column} of type {column.type!r} needs result processing on asyncpg, "
                "which prepared statements skip: read it per call, or make the type a no-op there"
            )


Statement = Prepared | Select[Any]
"""What an executor runs: a prepared statement, or a select built per call (which only reads)."""


class Executor(Protocol):
    """Runs one unit of work's statements and returns their rows; writes only in a transaction."""

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the connection."""

    async def fetch(self, statement: Statement, params: Params | None = None) -> Sequence[Row]:
        """The rows of `statement` (none for a statement without RETURNING)."""

    async def commit(self) -> None:
        """Commit the writes so far."""

    async def rollback(self) -> None:
        """Drop the writes since the last commit."""


async def executor_on(connection: AsyncConnection, transactions: Transactions) -> Executor:
    """The executor for a unit of work on `connection`, which begins its transactions as
    `transactions` says (on PostgreSQL; SQLite's begins at once)."""
    if connection.dialect.name == "postgresql":
        # A connection fresh from the pool holds its pooled connection already, so it is read
        # without get_raw_connection()'s trip through a greenlet.
        held = connection.sync_connection
        pooled = held.connection if held is not None else await connection.get_raw_connection()
        if not transactions.pooled:
            return AsyncpgExecutor(connection, pooled.driver_connection)
        described = pooled.info.setdefault(_DESCRIBED, {})
        return PooledExecutor(connection, pooled.driver_connection, transactions, described)
    await connection.begin()
    return AlchemyExecutor(connection)


async def _through_alchemy(
    connection: AsyncConnection, statement: Executable, params: Params | None
) -> Sequence[Row]:
    with storage_errors():
        result = await connection.execute(statement, params)
        return result.all() if result.returns_rows else []


class AlchemyExecutor:
    """Every statement through SQLAlchemy, in the transaction begun with the unit of work.

    On SQLite that transaction holds the write lock from the start (engine.py), so every
    statement, whatever it does, is inside it.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the connection."""
        return self._connection.dialect

    async def fetch(self, statement: Statement, params: Params | None = None) -> Sequence[Row]:
        """The rows of `statement`, with SQLAlchemy's type processing."""
        if isinstance(statement, Prepared):
            # Only its own parameters: SQLAlchemy would add a column to an UPDATE's SET for any
            # other one named as a column of the table (a task's `version` on its list's row).
            own = {k: v for k, v in params.items() if k in statement.names} if params else params
            return await _through_alchemy(self._connection, statement.statement, own)
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
    statement takes its own snapshot either way) and saves a BEGIN and a ROLLBACK. The session is
    read-only outside a transaction begun READ WRITE (database.py), so a statement that writes
    without saying so is refused by PostgreSQL rather than committed on its own.
    """

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection) -> None:
        self._connection = connection
        self._driver = driver
        self._in_transaction = False

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the connection."""
        return self._connection.dialect

    async def fetch(self, statement: Statement, params: Params | None = None) -> Sequence[Row]:
        """The rows of `statement`; one that writes first begins the unit of work's transaction."""
        if not isinstance(statement, Prepared):
            return await _through_alchemy(self._connection, statement, params)
        if statement.writes and not self._in_transaction:
            await self._guarded(self._driver.execute("BEGIN READ WRITE"))
            self._in_transaction = True
        compiled = statement.compiled(self.dialect)
        arguments = compiled.arguments(params or {})
        rows: Sequence[Row] = await self._guarded(self._driver.fetch(compiled.sql, *arguments))
        return rows

    async def commit(self) -> None:
        """Commit the transaction, if a write began one."""
        await self._end("COMMIT")

    async def rollback(self) -> None:
        """Roll the transaction back, if a write began one."""
        await self._end("ROLLBACK")

    async def _end(self, command: str) -> None:
        if self._in_transaction:
            self._in_transaction = False
            await self._guarded(self._driver.execute(command))

    async def _guarded(self, call: Any) -> Any:
        try:
            return await call
        except Exception as error:
            failure = driver_failure(error)
            if failure is None:
                raise
            if failure is Failure.CONNECTION_LOST:
                # The pool must not hand this connection out again.
                self._in_transaction = False
                with storage_errors():
                    await self._connection.invalidate(error)
            raise StorageUnavailable() from error


class PooledExecutor(AsyncpgExecutor):
    """PostgreSQL through a transaction pooler: no setting left on a session, and no statement
    named unless the pooler keeps named statements.

    Between two transactions the server session may be another client's, so nothing is set on
    it: writes run in a transaction begun READ WRITE and reads in one begun READ ONLY, each
    setting its own statement_timeout (`Transactions`), except plain selects (`Prepared.plain`),
    which cannot write: outside a transaction they run on their own, in one round trip as
    directly, and the client cancels one that outlasts the statement timeout. A write after
    reads commits their transaction and begins its own, which changes nothing they saw: in READ
    COMMITTED every statement takes its own snapshot, as it would outside a transaction.
    Statements are asyncpg's unnamed one, parsed and planned again with every execution
    (statement_cache_size=0), so any server connection can run them; the description asyncpg
    asks for before the first execution of each is kept per connection, which saves that round
    trip afterwards. Through a pooler that keeps named prepared statements
    (`Transactions.named`: PgBouncer 1.21+ with max_prepared_statements, which prepares a name
    again on whichever server connection runs it) they are asyncpg's named ones, as directly:
    the server parses each once per connection, and plans it as its plan_cache_mode says.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        driver: asyncpg.Connection,
        transactions: Transactions,
        described: dict[str, Any],
    ) -> None:
        super().__init__(connection, driver)
        self._transactions = transactions
        self._described = described
        self._writable = False

    async def fetch(self, statement: Statement, params: Params | None = None) -> Sequence[Row]:
        """The rows of `statement`, in a transaction that allows what it does."""
        if not isinstance(statement, Prepared):
            await self._begin(writes=False)
            return await _through_alchemy(self._connection, statement, params)
        timeout = None
        if statement.plain and not self._in_transaction:
            timeout = self._transactions.timeout_s
        else:
            await self._begin(writes=statement.writes)
        compiled = statement.compiled(self.dialect)
        arguments = compiled.arguments(params or {})
        rows: Sequence[Row] = await self._guarded(self._rows(compiled.sql, arguments, timeout))
        return rows

    async def _begin(self, *, writes: bool) -> None:
        if self._in_transaction and (self._writable or not writes):
            return
        begin = self._transactions.write if writes else self._transactions.read
        assert begin is not None
        # One round trip: the read transaction's end and the write one's start.
        command = f"COMMIT; {begin}" if self._in_transaction else begin
        await self._guarded(self._driver.execute(command))
        self._in_transaction, self._writable = True, writes

    async def _rows(self, sql: str, arguments: list[Any], cancel_after: float | None) -> list[Any]:
        try:
            if self._transactions.named:
                # The pooler prepares the name on whichever server connection runs it.
                rows: list[Any] = await self._driver.fetch(sql, *arguments, timeout=cancel_after)
                return rows
            statement = self._described.get(sql)
            if statement is None:
                # Unnamed with the statement cache off, and parsed anew at every execution.
                statement = await self._driver.prepare(sql, timeout=cancel_after)
                self._described[sql] = statement
            rows = await statement.fetch(*arguments, timeout=cancel_after)
        except TimeoutError as error:
            if cancel_after is None:
                raise  # the backstop after the server's own timeout: the connection is suspect
            # asyncpg asks the server to cancel the statement, as statement_timeout would have
            # (the pooler passes that on); the connection then serves again.
            raise StorageUnavailable() from error
        return rows
