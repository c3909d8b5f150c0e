"""How busy the engine's connection pool is, for the metrics endpoint."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool


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
