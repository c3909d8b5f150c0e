"""The engine's connection pool: who gets the next connection, and how busy the pool is."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

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


class PoolUsage:
    """Reads the pool's counters: configured size, checked out, checked in (idle), overflow."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> dict[str, float]:
        """The current counters by state; empty for a pool that keeps none."""
        pool = self._engine.sync_engine.pool
        if not isinstance(pool, QueuePool):
            return {}
        return {
            "size": pool.size(),
            "checked_out": pool.checkedout(),
            "checked_in": pool.checkedin(),
            # QueuePool counts overflow from -size upwards; only connections past size are overflow.
            "overflow": max(0, pool.overflow()),
        }
