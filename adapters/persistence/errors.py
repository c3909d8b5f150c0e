"""The one place where driver and pool failures become the domain's StorageUnavailable."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import asyncpg
from sqlalchemy import exc

from domain.errors import StorageUnavailable

# SQLSTATE classes meaning "not now": 08 connection exception, 28 invalid authorization (the
# server refused the login: a wrong password, a missing client certificate, an unknown role),
# 53 insufficient resources (too many connections), 57 operator intervention (statement
# timeout, admin shutdown). Like a refused connection, a refused login is the deployment's
# trouble, not a bug of the request, and the service answers again once it is mended.
# 40 transaction rollback: the server undid the transaction to break a deadlock (two writers of
# the same rows in opposite orders, such as a list deleted while a task moves out of it), which
# a retry gets past.
_UNAVAILABLE_SQLSTATE_CLASSES: Final = frozenset({"08", "28", "40", "53", "57"})
# After these the connection itself is fine: the statement timeout, and a rolled-back transaction.
_CONNECTION_KEPT: Final = ("57014", "40")


class Failure(enum.Enum):
    """Why a statement sent straight to asyncpg could not be answered."""

    UNAVAILABLE = "unavailable"
    CONNECTION_LOST = "connection lost"


@contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise connection, pool and timeout failures as StorageUnavailable; others as they are."""
    try:
        yield
    except exc.DBAPIError as error:
        if not _is_unavailable(error):
            raise
        raise StorageUnavailable() from error
    except (exc.TimeoutError, OSError, TimeoutError) as error:
        raise StorageUnavailable() from error


def _is_unavailable(error: exc.DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


def driver_failure(error: Exception) -> Failure | None:
    """How an asyncpg exception means "not now" (None: it is an answer, such as a constraint)."""
    # OSError includes TimeoutError: a command timeout leaves the connection mid-statement.
    if isinstance(error, asyncpg.InterfaceError | asyncpg.PostgresConnectionError | OSError):
        return Failure.CONNECTION_LOST
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = getattr(error, "sqlstate", None) or ""
        if sqlstate[:2] not in _UNAVAILABLE_SQLSTATE_CLASSES:
            return None
        kept = sqlstate.startswith(_CONNECTION_KEPT)
        return Failure.UNAVAILABLE if kept else Failure.CONNECTION_LOST
    return None
