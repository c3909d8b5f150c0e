"""A unit of work is one pooled connection and its transaction; nothing is shared between them."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.persistence.errors import storage_errors
from adapters.persistence.executors import AlchemyExecutor, AsyncpgExecutor, Executor
from adapters.persistence.pool import KeptConnections, Turns, connect, kept_connections
from adapters.persistence.repositories import (
    SqlIdempotencyRepository,
    SqlSessionRepository,
    SqlTaskRepository,
    SqlUserRepository,
)
from domain.errors import StorageUnavailable


class SqlUnitOfWork:
    """Holds one connection from enter to exit; writes are kept only if `commit` is called."""

    def __init__(self, engine: AsyncEngine, turns: Turns | None) -> None:
        self._engine = engine
        self._turns = turns
        self._connection: AsyncConnection | None = None
        self._kept: KeptConnections | None = None
        self._executor: Executor | None = None
        self._tasks: SqlTaskRepository | None = None
        self._users: SqlUserRepository | None = None
        self._idempotency: SqlIdempotencyRepository | None = None
        self._sessions: SqlSessionRepository | None = None

    @property
    def tasks(self) -> SqlTaskRepository:
        """The task repository of this unit of work."""
        if self._tasks is None:
            raise RuntimeError("Use the unit of work in `async with` before its repositories.")
        return self._tasks

    @property
    def users(self) -> SqlUserRepository:
        """The user repository of this unit of work."""
        if self._users is None:
            raise RuntimeError("Use the unit of work in `async with` before its repositories.")
        return self._users

    @property
    def idempotency(self) -> SqlIdempotencyRepository:
        """The idempotency record repository of this unit of work."""
        if self._idempotency is None:
            raise RuntimeError("Use the unit of work in `async with` before its repositories.")
        return self._idempotency

    @property
    def sessions(self) -> SqlSessionRepository:
        """The ended-session repository of this unit of work."""
        if self._sessions is None:
            raise RuntimeError("Use the unit of work in `async with` before its repositories.")
        return self._sessions

    async def __aenter__(self) -> Self:
        if self._turns is not None:
            await self._turns.take()
        kept = kept_connections(self._engine)
        try:
            with storage_errors():
                connection = kept.reuse() if kept is not None else None
                if connection is None:
                    connection = await connect(self._engine)
                try:
                    executor = await _executor_on(connection)
                except BaseException:
                    await connection.close()
                    raise
        except BaseException:
            self._give_back_turn()
            raise
        self._connection, self._executor, self._kept = connection, executor, kept
        self._tasks = SqlTaskRepository(executor)
        self._users = SqlUserRepository(executor)
        self._idempotency = SqlIdempotencyRepository(executor)
        self._sessions = SqlSessionRepository(executor)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        executor, self._executor = self._executor, None
        # Only a connection that ended its work cleanly waits for the next unit of work.
        kept, self._kept = (self._kept if exc is None else None), None
        self._tasks = self._users = self._idempotency = self._sessions = None
        if connection is None or executor is None:
            return
        try:
            with storage_errors():
                try:
                    await executor.rollback()
                except BaseException:
                    kept = None
                    raise
                finally:
                    await _release(connection, kept)
        except StorageUnavailable:
            # The exception already on its way out tells the real story.
            if exc is None:
                raise
        finally:
            self._give_back_turn()

    def _give_back_turn(self) -> None:
        if self._turns is not None:
            self._turns.give_back()

    async def commit(self) -> None:
        """Commit the writes so far; the unit of work stays usable in a new transaction."""
        if self._executor is None:
            raise RuntimeError("Use the unit of work in `async with` before committing.")
        await self._executor.commit()


async def _executor_on(connection: AsyncConnection) -> Executor:
    if connection.dialect.name == "postgresql":
        # The engine is in autocommit mode (engine.py): the executor begins transactions itself.
        # A connection fresh from engine.connect() holds its pooled connection already, so it
        # is read without get_raw_connection()'s trip through a greenlet.
        held = connection.sync_connection
        pooled = held.connection if held is not None else await connection.get_raw_connection()
        return AsyncpgExecutor(connection, pooled.driver_connection)
    await connection.begin()
    return AlchemyExecutor(connection)


async def _release(connection: AsyncConnection, kept: KeptConnections | None) -> None:
    held = connection.sync_connection
    if connection.dialect.name == "postgresql" and held is not None and not held.invalidated:
        # Returning a healthy connection does no I/O on this engine: in autocommit mode
        # SQLAlchemy holds no transaction to roll back, and with max_overflow=0 the pool never
        # closes a returned connection. So it is returned here, without the greenlet that
        # AsyncConnection.close() spawns for I/O that never comes. Statements run through
        # SQLAlchemy leave its bookkeeping transaction begun; ending it does no I/O either.
        if kept is None:
            held.close()
            return
        if held.in_transaction():
            held.rollback()
        kept.keep(connection)
        return
    await connection.close()


class SqlUnitOfWorkFactory:
    """Opens a new SqlUnitOfWork on the engine's pool for each call, first come, first served."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._turns = Turns.of(engine)

    def __call__(self) -> SqlUnitOfWork:
        """A fresh unit of work, to be used in `async with`."""
        return SqlUnitOfWork(self._engine, self._turns)
