"""The one owner of the service's database connections, and the readiness check built on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import asyncpg
from sqlalchemy import event, exc, text
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from adapters.persistence.engine import (
    CONNECT_TIMEOUT_S,
    READ_ONLY,
    Transactions,
    service_engine,
    session_arguments,
)
from adapters.persistence.errors import driver_failure, storage_errors
from adapters.persistence.urls import endpoints
from domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

TRUSTED_FOR_S: Final = 0.5
"""A connection that answered this recently is handed out without a ping (HikariCP's rule).

Under load every checkout would otherwise cost a round trip. The price: a request that takes
such a connection just as the database stops answering waits out the command timeout instead of
the connect timeout, which still bounds it.
"""
_LAST_ANSWERED: Final = "taskservice_last_answered"
_NEVER: Final = float("-inf")


class Database:
    """Every connection the service opens comes from here, and goes back here.

    It owns the engine and its pool, the turns in which units of work get connections, the
    connections kept between units of work, and their liveness. Units of work `checkout` and
    `checkin`; readiness and jobs borrow a pooled connection with `connection()`; a listener
    holds one outside the pool with `dedicated()`; the pool gauge reads `usage()`. Opening it
    opens no connection; `close()` closes them all.

    Through a transaction pooler (`pooler`; None: as `raw_url` says) its pool's connections
    reach the server through the pooler, and `transactions` says how they carry the session's
    settings and whether they name statements (`pooler_prepares`: the pooler keeps named
    prepared statements); dedicated connections go to `direct_url` (DATABASE_DIRECT_URL).
    """

    def __init__(
        self,
        raw_url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 5.0,
        statement_timeout_ms: int = 10_000,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        pooler: bool | None = None,
        pooler_prepares: bool = False,
        direct_url: str | None = None,
    ) -> None:
        self.endpoints = endpoints(raw_url, direct_url=direct_url, pooler=pooler)
        pooled = self.endpoints.pooled
        self.engine = service_engine(
            raw_url,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            statement_timeout_ms=statement_timeout_ms,
            connect_timeout=connect_timeout,
            pooled=pooled,
            pooler_prepares=pooler_prepares,
        )
        self.dialect: str = self.engine.dialect.name
        self.transactions = (
            Transactions.through_pooler(statement_timeout_ms, prepares=pooler_prepares)
            if pooled
            else Transactions.direct()
        )
        session_url = self.endpoints.session_url if self.dialect == "postgresql" else None
        self._session_args = (
            None
            if session_url is None
            else session_arguments(
                session_url,
                statement_timeout_ms=statement_timeout_ms,
                connect_timeout=connect_timeout,
            )
        )
        # Turns, first come, first served: the pool's own queue (asyncio.Queue) lets a newcomer
        # take a connection just returned for the longest waiter, who queues again at the back
        # (under load, half a second for some while the median waited 20 ms). The pool opens
        # no overflow connections, so its size is every connection there is.
        self._turns = asyncio.Semaphore(pool_size)
        self._pool_timeout = pool_timeout
        # Kept connections (PostgreSQL): checking one out of SQLAlchemy's pool and back in (a
        # greenlet with a fresh frame stack, a Connection, the pool's events and reset) cost
        # 25-36 us of CPU a unit of work. A connection given back cleanly stays checked out,
        # newest last, and goes to the next unit of work if it answered within TRUSTED_FOR_S,
        # when the pool would not ping it either; older ones go back to the pool.
        self._keeps = self.dialect == "postgresql"
        self._kept: list[tuple[AsyncConnection, float]] = []
        # While anyone waits on the pool itself, given-back connections go there, to reach them.
        self._waiting = 0
        self._closed = False
        self._dedicated: set[asyncpg.Connection] = set()
        if self._keeps:
            self._watch_liveness(connect_timeout)

    @property
    def can_dedicate(self) -> bool:
        """Whether `dedicated()` can open a connection: PostgreSQL reached directly, or
        DATABASE_DIRECT_URL beside a transaction pooler."""
        return self._session_args is not None

    @property
    def kept(self) -> int:
        """How many healthy connections wait, checked out, for the next unit of work."""
        return len(self._kept)

    async def checkout(self) -> AsyncConnection:
        """A connection for a unit of work, in its turn; StorageUnavailable if none comes in time.

        Give it back with `checkin`, whatever happens.
        """
        await self._take_turn()
        try:
            with storage_errors():
                kept = self._reuse()
                return kept if kept is not None else await self._from_pool()
        except BaseException:
            self._turns.release()
            raise

    async def checkin(self, connection: AsyncConnection, *, keep: bool) -> None:
        """Take back a unit of work's connection, to keep if `keep` (its work ended cleanly)."""
        try:
            held = connection.sync_connection
            if not self._keeps or held is None or held.invalidated:
                await connection.close()
                return
            # A healthy connection goes back without I/O on this engine: in autocommit mode
            # SQLAlchemy holds no transaction to roll back, and with max_overflow=0 the pool
            # never closes a returned one. So no greenlet is spawned, as close() would.
            if not keep:
                await _drop_if_in_transaction(connection)
                held.close()
                return
            # Statements run through SQLAlchemy leave its bookkeeping transaction begun;
            # ending it does no I/O either.
            if held.in_transaction():
                held.rollback()
            if self._closed or self._waiting:
                _return_to_pool(connection, time.monotonic())
            else:
                self._kept.append((connection, time.monotonic()))
        finally:
            self._turns.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection borrowed for a short check or job, outside the turns.

        It reads: on SQLite it begins without the write lock, and on PostgreSQL it refuses
        writes (directly it autocommits in a read-only session; through a transaction pooler
        it holds a transaction begun READ ONLY). Writes go through a unit of work.
        """
        with storage_errors():
            connection = await self._from_pool()
        try:
            await connection.execution_options(**{READ_ONLY: True})
            if self.transactions.read is None:
                yield connection
                return
            driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
            await _driver_call(driver.execute(self.transactions.read))
            yield connection
            # Only after work that ended well; otherwise the connection is dropped below.
            await _driver_call(driver.execute("ROLLBACK"))
        finally:
            await _drop_if_in_transaction(connection)
            await connection.close()

    @asynccontextmanager
    async def dedicated(self) -> AsyncIterator[asyncpg.Connection]:
        """A PostgreSQL connection of its own, outside the pool, for as long as it is held.

        For what lives as long as the process (LISTEN): it takes nothing from the pool. It has
        the pool's timeouts and the service's session settings, and goes to the server itself:
        DATABASE_DIRECT_URL when set, else the pool's URL unless that is a transaction pooler's,
        which would hand the session to other clients between transactions. `close()` closes
        it too.
        """
        if self.dialect != "postgresql":
            raise RuntimeError(f"{self.dialect} has no dedicated connections; only PostgreSQL")
        if self._session_args is None:
            raise RuntimeError(
                "DATABASE_URL goes through a transaction pooler, which cannot keep a session "
                "(LISTEN) for one client: set DATABASE_DIRECT_URL to the database's own host"
            )
        driver = await _driver_call(asyncpg.connect(**self._session_args))
        self._dedicated.add(driver)
        try:
            yield driver
        finally:
            self._dedicated.discard(driver)
            await driver.close()

    def usage(self) -> dict[str, float]:
        """The pool's counters: configured size, in use, idle, overflow (empty without a pool)."""
        pool = self.engine.sync_engine.pool
        if not isinstance(pool, QueuePool):
            return {}
        # Kept connections are checked out of SQLAlchemy's pool but wait for work all the same.
        kept = len(self._kept)
        return {
            "size": pool.size(),
            "checked_out": pool.checkedout() - kept,
            "checked_in": pool.checkedin() + kept,
            # QueuePool counts overflow from -size upwards; only connections past size are overflow.
            "overflow": max(0, pool.overflow()),
        }

    async def close(self) -> None:
        """Close every connection, kept, pooled and dedicated, and keep none from now on."""
        self._closed = True
        self._release_kept()
        for driver in list(self._dedicated):
            await driver.close()
        await self.engine.dispose()

    async def _take_turn(self) -> None:
        if not self._turns.locked():
            await self._turns.acquire()  # returns at once
            return
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._turns.acquire()
        except TimeoutError:
            raise StorageUnavailable() from None

    def _reuse(self) -> AsyncConnection | None:
        # The newest kept connection if it answered within TRUSTED_FOR_S; the others are older
        # still, so when it is too old they all go back to the pool.
        if not self._kept:
            return None
        connection, kept_at = self._kept[-1]
        if time.monotonic() - kept_at >= TRUSTED_FOR_S:
            self._release_kept()
            return None
        self._kept.pop()
        return connection

    async def _from_pool(self) -> AsyncConnection:
        # The pool gets every kept connection first, and those given back while this waits.
        self._release_kept()
        self._waiting += 1
        try:
            return await self.engine.connect()
        finally:
            self._waiting -= 1

    def _release_kept(self, *, suspect: bool = False) -> None:
        # Suspect ones (another connection has just been lost) are pinged at their next checkout.
        kept, self._kept = self._kept, []
        for connection, kept_at in kept:
            _return_to_pool(connection, _NEVER if suspect else kept_at)

    def _watch_liveness(self, timeout: float) -> None:
        # SQLAlchemy's own pre-ping waits as long as any statement may (the command timeout),
        # and closes a failed connection politely, which waits two more seconds on a peer that
        # stopped answering: both would keep a request from its 503 long after the database
        # stopped answering. So pooled connections are pinged within the connect timeout, only
        # when idle for TRUSTED_FOR_S, and a failed one is dropped without a goodbye.
        def answered(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
            # On connect it has just answered the handshake; on checkin, its last statement
            # (a connection that failed is invalidated, never checked in as it was).
            entry.info[_LAST_ANSWERED] = time.monotonic()

        def ping(
            dbapi_connection: AdaptedConnection,
            entry: ConnectionPoolEntry,
            _proxy: PoolProxiedConnection,
        ) -> None:
            if time.monotonic() - entry.info.get(_LAST_ANSWERED, _NEVER) < TRUSTED_FOR_S:
                return
            try:
                # Simple protocol, no prepared statement: it suits PgBouncer's transaction mode.
                dbapi_connection.run_async(lambda d: d.execute("SELECT 1", timeout=timeout))
            except Exception as error:
                # The pool invalidates the connection and connects afresh, once.
                raise exc.DisconnectionError("the pooled connection did not answer") from error

        def lost(
            dbapi_connection: AdaptedConnection,
            _entry: ConnectionPoolEntry,
            reason: BaseException | None,
        ) -> None:
            # The database may have dropped the kept connections too: back to the pool with
            # them, to be pinged. A cancelled request may leave a healthy connection, which
            # deserves a clean goodbye; a failed one gets none.
            self._release_kept(suspect=True)
            if reason is not None and not isinstance(reason, asyncio.CancelledError):
                dbapi_connection.driver_connection.terminate()

        target = self.engine.sync_engine
        event.listen(target, "connect", answered)
        event.listen(target, "checkin", answered)
        event.listen(target, "checkout", ping)
        event.listen(target, "invalidate", lost)


async def _driver_call(call: Any) -> Any:
    # Straight to asyncpg, whose failures storage_errors() does not know.
    try:
        return await call
    except Exception as error:
        if driver_failure(error) is None:
            raise
        raise StorageUnavailable() from error


async def _drop_if_in_transaction(connection: AsyncConnection) -> None:
    # In autocommit mode the pool resets nothing on return: a connection whose work stopped
    # inside a transaction begun on asyncpg (its ROLLBACK cancelled or failed) would hand that
    # transaction to its next user, so it is invalidated instead. The check does no I/O.
    held = connection.sync_connection
    if held is None or held.closed or held.invalidated:
        return
    driver = held.connection.driver_connection
    if isinstance(driver, asyncpg.Connection) and driver.is_in_transaction():
        await connection.invalidate()


def _return_to_pool(connection: AsyncConnection, answered: float) -> None:
    held = connection.sync_connection
    if held is None:
        return
    info = held.info
    held.close()
    # The pool's checkin hook records "answered now"; the truth is older, and decides whether
    # the connection is pinged when it is next checked out.
    info[_LAST_ANSWERED] = answered


class SqlReadiness:
    """Ready when `alembic_version` answers within a short timeout and equals the head revision."""

    def __init__(self, database: Database, head: str, *, timeout: float = 2.0) -> None:
        self._database = database
        self._head = head
        self._timeout = timeout

    async def is_ready(self) -> bool:
        """True iff the schema version answers in time and equals the head; never raises."""
        try:
            async with asyncio.timeout(self._timeout), self._database.connection() as connection:
                version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        except Exception as error:  # any failure at all means "not ready", by contract
            log.debug("database not ready: %r", error)
            return False
        return bool(version == self._head)
