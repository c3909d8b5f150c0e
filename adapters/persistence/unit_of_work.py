"""A unit of work is one connection from the Database and its transaction; nothing is shared."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.persistence.changes import SqlChangeRepository
from adapters.persistence.database import Database
from adapters.persistence.errors import storage_errors
from adapters.persistence.executors import Executor, executor_on
from adapters.persistence.lists import SqlListRepository
from adapters.persistence.repositories import (
    STATEMENTS,
    SqlIdempotencyRepository,
    SqlIdentityRepository,
    SqlPersonalTokenRepository,
    SqlSessionRepository,
    SqlUserRepository,
    Statements,
)
from adapters.persistence.tasks import SqlTaskRepository
from adapters.persistence.trash import SqlTrashRepository
from domain.errors import StorageUnavailable
from taskservice.ports import ChangeSignal, Touched


class _Work:
    """What a unit of work holds between enter and exit: its connection, executor, repositories."""

    # Each repository is made when first asked for: most units of work use one or two of them
    # (a 304 only the change log), and making all nine was a measurable share of a 304.

    def __init__(
        self, connection: AsyncConnection, executor: Executor, statements: Statements
    ) -> None:
        self.connection = connection
        self.executor = executor
        self.statements = statements
        self.touched = Touched()

    @cached_property
    def tasks(self) -> SqlTaskRepository:
        return SqlTaskRepository(self.executor, self.statements, self.touched)

    @cached_property
    def lists(self) -> SqlListRepository:
        return SqlListRepository(self.executor, self.statements, self.touched)

    @cached_property
    def trash(self) -> SqlTrashRepository:
        return SqlTrashRepository(self.executor, self.statements, self.touched)

    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self.executor, self.statements, self.touched)

    @cached_property
    def changes(self) -> SqlChangeRepository:
        return SqlChangeRepository(self.executor, self.statements)

    @cached_property
    def idempotency(self) -> SqlIdempotencyRepository:
        return SqlIdempotencyRepository(self.executor, self.statements)

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self.executor, self.statements)

    @cached_property
    def personal_tokens(self) -> SqlPersonalTokenRepository:
        return SqlPersonalTokenRepository(self.executor, self.statements)

    @cached_property
    def identities(self) -> SqlIdentityRepository:
        return SqlIdentityRepository(self.executor, self.statements)


class SqlUnitOfWork:
    """Holds one connection from enter to exit; writes are kept only if `commit` is called."""

    def __init__(
        self, database: Database, statements: Statements, signal: ChangeSignal | None = None
    ) -> None:
        self._database = database
        self._statements = statements
        self._signal = signal
        self._entered: _Work | None = None

    @property
    def _work(self) -> _Work:
        if self._entered is None:
            raise RuntimeError("Use the unit of work in `async with` before its repositories.")
        return self._entered

    @property
    def tasks(self) -> SqlTaskRepository:
        """The task repository of this unit of work."""
        return self._work.tasks

    @property
    def lists(self) -> SqlListRepository:
        """The list, membership and invite repository of this unit of work."""
        return self._work.lists

    @property
    def trash(self) -> SqlTrashRepository:
        """The trash repository of this unit of work."""
        return self._work.trash

    @property
    def users(self) -> SqlUserRepository:
        """The user repository of this unit of work."""
        return self._work.users

    @property
    def changes(self) -> SqlChangeRepository:
        """The change feed of this unit of work."""
        return self._work.changes

    @property
    def idempotency(self) -> SqlIdempotencyRepository:
        """The idempotency record repository of this unit of work."""
        return self._work.idempotency

    @property
    def sessions(self) -> SqlSessionRepository:
        """The ended-session repository of this unit of work."""
        return self._work.sessions

    @property
    def personal_tokens(self) -> SqlPersonalTokenRepository:
        """The personal access token repository of this unit of work."""
        return self._work.personal_tokens

    @property
    def identities(self) -> SqlIdentityRepository:
        """The OpenID Connect identity repository of this unit of work."""
        return self._work.identities

    async def __aenter__(self) -> Self:
        connection = await self._database.checkout()
        try:
            with storage_errors():
                executor = await executor_on(connection, self._database.transactions)
        except BaseException:
            await self._database.checkin(connection, keep=False)
            raise
        self._entered = _Work(connection, executor, self._statements)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entered, self._entered = self._entered, None
        if entered is None:
            return
        # Only a connection that ended its work cleanly waits for the next unit of work.
        keep = exc is None
        try:
            with storage_errors():
                try:
                    await entered.executor.rollback()
                except BaseException:
                    keep = False
                    raise
                finally:
                    await self._database.checkin(entered.connection, keep=keep)
        except StorageUnavailable:
            # The exception already on its way out tells the real story.
            if exc is None:
                raise

    async def commit(self) -> None:
        """Commit the writes so far, then tell the change signal what they touched; the unit of
        work stays usable in a new transaction."""
        work = self._work
        await work.executor.commit()
        work.touched.publish(self._signal)


class SqlUnitOfWorkFactory:
    """Opens a new SqlUnitOfWork on the database for each call, with its dialect's statements."""

    def __init__(self, database: Database, signal: ChangeSignal | None = None) -> None:
        self._database = database
        self._statements = STATEMENTS[database.dialect]
        self._signal = signal

    def __call__(self) -> SqlUnitOfWork:
        """A fresh unit of work, to be used in `async with`."""
        return SqlUnitOfWork(self._database, self._statements, self._signal)
