"""Pooled PostgreSQL connections are checked before use, and dropped at once when they fail."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from sqlalchemy import event, exc
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

_LAST_ANSWERED = "taskservice_last_answered"
TRUSTED_FOR_S: Final = 0.5
"""A connection that answered this recently is handed out without a ping (HikariCP's rule).

Under load every checkout would otherwise cost a round trip. The price: a request that takes
such a connection just as the database stops answering waits out the command timeout instead of
the connect timeout, which still bounds it.
"""


def check_connections(engine: AsyncEngine, *, timeout: float) -> None:
    """Ping pooled connections on checkout within `timeout`; drop failed ones without waiting.

    SQLAlchemy's own pre-ping waits as long as any statement may (the command timeout), and closes
    a failed connection politely, which waits two more seconds on a peer that stopped answering;
    both would keep a request from its 503 long after the database stopped answering.
    """
    target = engine.sync_engine
    event.listen(target, "connect", _answered)
    event.listen(target, "checkin", _answered)
    event.listen(target, "checkout", _pinger(timeout))
    event.listen(target, "invalidate", _drop_at_once)


NEVER_ANSWERED: Final = float("-inf")
"""A last-answer time that makes the next checkout ping the connection."""


def answered_at(info: dict[Any, Any], moment: float) -> None:
    """Record in a connection's `info` when it last answered (time.monotonic)."""
    info[_LAST_ANSWERED] = moment


def _answered(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
    # On connect it has just answered the handshake; on checkin, its last statement (a
    # connection that failed is invalidated, never checked in as it was).
    answered_at(entry.info, time.monotonic())


def _pinger(timeout: float) -> Any:
    def ping(
        dbapi_connection: AdaptedConnection,
        entry: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        if time.monotonic() - entry.info.get(_LAST_ANSWERED, -TRUSTED_FOR_S) < TRUSTED_FOR_S:
            return
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
