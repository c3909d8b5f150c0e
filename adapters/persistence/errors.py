"""The one place where driver and pool failures become the domain's StorageUnavailable."""

from __future__ import annotations

import enum
from types import TracebackType
from typing import Final, Literal

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


class _StorageErrors:
    """Re-raises connection, pool and timeout failures as StorageUnavailable; others as they are."""

    # A class rather than @contextmanager: it is entered several times per request, and a
    # generator-based one costs five times as much to enter and leave.
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if isinstance(error, exc.DBAPIError):
            if _is_unavailable(error):
                raise StorageUnavailable() from error
        elif isinstance(error, exc.TimeoutError | OSError | TimeoutError):
            raise StorageUnavailable() from error
        return False


_STORAGE_ERRORS: Final = _StorageErrors()


def storage_errors() -> _StorageErrors:
    """Re-raise connection, pool and timeout failures as StorageUnavailable; others as they are."""
    return _STORAGE_ERRORS


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
