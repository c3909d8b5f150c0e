"""Pooled PostgreSQL connections are checked before use, and dropped at once when they fail."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

_FRESH = "taskservice_fresh"


def check_connections(engine: AsyncEngine, *, timeout: float) -> None:
    """Ping each pooled connection on checkout within `timeout`; drop failed ones without waiting.

    SQLAlchemy's own pre-ping waits as long as any statement may (the command timeout), and closes
    a failed connection politely, which waits two more seconds on a peer that stopped answering;
    both would keep a request from its 503 long after the database stopped answering.
    """
    target = engine.sync_engine
    event.listen(target, "connect", _mark_fresh)
    event.listen(target, "checkout", _pinger(timeout))
    event.listen(target, "invalidate", _drop_at_once)


def _mark_fresh(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
    entry.info[_FRESH] = True


def _pinger(timeout: float) -> Any:
    def ping(
        dbapi_connection: AdaptedConnection,
        entry: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        if entry.info.pop(_FRESH, False):
            return  # it has just answered the handshake
        try:
            # Simple protocol, no prepared statement: it also suits PgBouncer's transaction mode.
            dbapi_connection.run_async(lambda driver: driver.execute("SELECT 1", timeout=timeout))
        except Exception as error:
            # The pool invalidates the connection and connects afresh, once.
            raise exc.DisconnectionError("the pooled connection did not answer") from error

    return ping


def _drop_at_once(
    dbapi_connection: AdaptedConnection,
    _entry: ConnectionPoolEntry,
    reason: BaseException | None,
) -> None:
    # A cancelled request may leave a healthy connection, which deserves a clean goodbye.
    if reason is None or isinstance(reason, asyncio.CancelledError):
        return
    dbapi_connection.driver_connection.terminate()
