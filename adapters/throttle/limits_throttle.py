"""A Throttle on `limits`' moving windows, whose storage several processes can share."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Mapping

import coredis
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from domain.errors import RateLimited
from domain.throttling import Bucket

log = logging.getLogger("taskservice.throttle")


class LimitsThrottle:
    """Counts attempts per bucket and key; `storage_uri` is `memory://` or `redis://host:port`."""

    def __init__(self, limits: Mapping[Bucket, str], storage_uri: str = "memory://") -> None:
        plain = storage_uri.removeprefix("async+")
        # Our own pool, so that shutdown can close the Redis connections the storage opened.
        self._pool = coredis.ConnectionPool.from_url(plain) if plain.startswith("redis") else None
        options = {"connection_pool": self._pool} if self._pool is not None else {}
        self._storage = storage_from_string(f"async+{plain}", **options)  # type: ignore[arg-type]
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._items: dict[Bucket, RateLimitItem] = {b: parse(text) for b, text in limits.items()}

    async def hit(self, bucket: Bucket, key: str) -> None:
        """Count one attempt, atomically with its check; RateLimited, counting nothing, when over."""
        item = self._items[bucket]
        if not await self._ask(self._limiter.hit(item, bucket.value, key)):
            raise RateLimited(await self._retry_after(item, bucket, key))

    async def clear(self, bucket: Bucket, key: str) -> None:
        """Forget every attempt counted for `key` in `bucket`."""
        try:
            await self._between_sweeps()
            await self._limiter.clear(self._items[bucket], bucket.value, key)
        except Exception:
            # Left to expire with its window: the owner is signed in either way.
            log.exception("rate limit storage failed; the attempts stay counted")

    async def aclose(self) -> None:
        """Close the connections to a shared storage, if any."""
        if self._pool is not None:
            self._pool.disconnect()

    async def _between_sweeps(self) -> None:
        # limits' in-process store (5.8.0, aio/storage/memory.py) sweeps expired attempts in a task
        # that lists its keys, then visits each; a key cleared meanwhile kills it with a KeyError.
        # So a clear waits for a running sweep; nothing awaits between the last look and the clear,
        # so no sweep starts in between. Redis has no such task.
        while isinstance(sweep := getattr(self._storage, "timer", None), asyncio.Task):
            if sweep.done():
                return
            await asyncio.wait([sweep])

    async def _ask(self, question: Awaitable[bool]) -> bool:
        try:
            return await question
        except Exception:
            # A storage outage must not lock everyone out of their accounts: count nothing, say so.
            log.exception("rate limit storage failed; allowing the attempt")
            return True

    async def _retry_after(self, item: RateLimitItem, bucket: Bucket, key: str) -> int:
        try:
            stats = await self._limiter.get_window_stats(item, bucket.value, key)
        except Exception:
            return item.get_expiry()
        return max(1, math.ceil(stats.reset_time - time.time()))
