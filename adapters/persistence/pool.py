"""The engine's connection pool: who gets the next connection, and how busy the pool is."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from adapters.persistence.liveness import NEVER_ANSWERED, TRUSTED_FOR_S, answered_at
from domain.errors import StorageUnavailable


class Turns:
    """Hands out the pool's connections to units of work in the order they asked for them.

    The pool's own queue (asyncio.Queue) lets a newcomer take a connection that was just
    returned for the longest waiter, who then queues again at the back. Under load some
    requests lost that race for half a second while the median waited 20 ms (make bench,
    list at 32 connections, pool of 10); asyncio.Semaphore wakes its waiters in order and
    lets nobody past them.
    """

    def __init__(self, size: int, timeout: float) -> None:
        self._free = asyncio.Semaphore(size)
        self._timeout = timeout

    @classmethod
    def of(cls, engine: AsyncEngine) -> Turns | None:
        """Turns for the engine's pool; None for a pool without a size (no one ever waits)."""
        pool = engine.sync_engine.pool
        if not isinstance(pool, QueuePool):
            return None
        # create_engine opens no overflow connections, so the size is every connection there is.
        return cls(pool.size(), pool.timeout())

    async def take(self) -> None:
        """Wait for a turn; StorageUnavailable once the pool's timeout has passed."""
        if not self._free.locked():
            await self._free.acquire()  # returns at once
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._free.acquire()
        except TimeoutError:
            raise StorageUnavailable() from None

    def give_back(self) -> None:
        """End a turn taken with `take`."""
        self._free.release()


class KeptConnections:
    """Healthy connections that units of work gave back, still checked out, newest last.

    Checking a connection out of SQLAlchemy's pool and back in (a greenlet with a fresh frame
    stack, a Connection, the pool's events and reset) cost 25-36 us of CPU a unit of work, 6 %
    of a list request and 15 % of a read of one task (make bench). A connection that answered
    within TRUSTED_FOR_S, which the pool would hand out without a ping, goes straight to the
    next unit of work instead; older ones go back to the pool, which pings them at checkout.
    """

    def __init__(self) -> None:
        self._kept: list[tuple[AsyncConnection, float]] = []
        self._closed = False
        self._waiting = 0

    def __len__(self) -> int:
        return len(self._kept)

    def reuse(self) -> AsyncConnection | None:
        """The connection kept last if it answered within TRUSTED_FOR_S, else None.

        The others are older still, so when it is too old they all go back to the pool.
        """
        if not self._kept:
            return None
        connection, kept_at = self._kept[-1]
        if time.monotonic() - kept_at >= TRUSTED_FOR_S:
            self.release()
            return None
        self._kept.pop()
        return connection

    def keep(self, connection: AsyncConnection) -> None:
        """Keep a healthy connection, out of any transaction, for the next unit of work.

        While someone waits on the pool itself (`connect`), it goes to the pool instead: kept,
        it would pass from one unit of work to the next and never reach them.
        """
        if self._closed or self._waiting:
            _check_in(connection, time.monotonic())
        else:
            self._kept.append((connection, time.monotonic()))

    async def connect(self, engine: AsyncEngine) -> AsyncConnection:
        """A connection checked out of `engine`'s pool, which gets every kept connection first."""
        self.release()
        self._waiting += 1
        try:
            return await engine.connect()
        finally:
            self._waiting -= 1

    def release(self, *, suspect: bool = False) -> None:
        """Give every kept connection back to the pool, with the time it last answered.

        Suspect ones (another connection has just been lost) are pinged at their next checkout.
        """
        kept, self._kept = self._kept, []
        for connection, kept_at in kept:
            _check_in(connection, NEVER_ANSWERED if suspect else kept_at)

    def close(self) -> None:
        """Release the kept connections and keep none from now on (the pool is going away)."""
        self._closed = True
        self.release()


def _check_in(connection: AsyncConnection, answered: float) -> None:
    held = connection.sync_connection
    if held is None:
        return
    info = held.info
    # A healthy connection in autocommit mode goes back without I/O (unit_of_work._release).
    held.close()
    # The pool's check-in hook records "answered now"; the truth is older, and decides
    # whether the connection is pinged when it is next checked out.
    answered_at(info, answered)


class KeepingPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool with the connections units of work keep between them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept = KeptConnections()

    def dispose(self) -> None:
        """Take the kept connections back, so that they close with the rest."""
        self.kept.close()
        super().dispose()


def kept_connections(engine: AsyncEngine) -> KeptConnections | None:
    """The kept connections of the engine's current pool; None if its pool keeps none."""
    pool = engine.sync_engine.pool
    return pool.kept if isinstance(pool, KeepingPool) else None


async def connect(engine: AsyncEngine) -> AsyncConnection:
    """A connection from the engine's pool, where kept connections reach whoever waits there."""
    kept = kept_connections(engine)
    return await (kept.connect(engine) if kept is not None else engine.connect())


class PoolUsage:
    """Reads the pool's counters: configured size, checked out, checked in (idle), overflow."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> dict[str, float]:
        """The current counters by state; empty for a pool that keeps none."""
        pool = self._engine.sync_engine.pool
        if not isinstance(pool, QueuePool):
            return {}
        # Kept connections are checked out of SQLAlchemy's pool but wait for work all the same.
        kept = len(pool.kept) if isinstance(pool, KeepingPool) else 0
        return {
            "size": pool.size(),
            "checked_out": pool.checkedout() - kept,
            "checked_in": pool.checkedin() + kept,
            # QueuePool counts overflow from -size upwards; only connections past size are overflow.
            "overflow": max(0, pool.overflow()),
        }
