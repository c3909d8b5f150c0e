"""Opaque page cursors: a keyset position bound to the filters, zone and order it was issued for."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from datetime import UTC, datetime
from typing import Final

import orjson

from domain.errors import FieldError, ValidationFailed
from domain.queries import (
    Position,
    Sort,
    SortField,
    SortValue,
    TaskFilter,
    TaskQuery,
    cursor_binding,
)
from domain.tasks import has_control
from domain.types import MAX_TASK_ID, TaskId

# Far above any cursor this module issues; longer input is refused before it is decoded.
CURSOR_MAX: Final = 1024
_MOMENTS: Final = frozenset({SortField.CREATED_AT, SortField.UPDATED_AT, SortField.DUE})


def _invalid() -> ValidationFailed:
    return ValidationFailed(
        [
            FieldError(
                field="cursor",
                code="invalid",
                message="The cursor is malformed or was issued for other filters or another sort.",
            )
        ]
    )


def _fingerprint(query: TaskQuery) -> str:
    return _fingerprint_of(query.filter, query.tz.key, query.sort)


@functools.lru_cache(maxsize=512)
def _fingerprint_of(chosen: TaskFilter, tz_key: str, sort: Sort) -> str:
    # Every page of a list asks again; the repr behind the binding is the costly part.
    return hashlib.sha256(cursor_binding(chosen, tz_key, sort).encode()).hexdigest()[:16]


def encode_cursor(query: TaskQuery, position: Position) -> str:
    """A cursor that continues after `position` under this query's filters, zone and order."""
    value, task_id = position
    plain = value.isoformat() if isinstance(value, datetime) else value
    payload = orjson.dumps([_fingerprint(query), plain, task_id])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, query: TaskQuery) -> Position:
    """The position inside `cursor`; ValidationFailed if it is malformed or for another query."""
    if len(cursor) > CURSOR_MAX:
        raise _invalid()
    try:
        payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fingerprint, plain, task_id = orjson.loads(payload)
    except (ValueError, TypeError, binascii.Error):
        raise _invalid() from None
    if fingerprint != _fingerprint(query):
        raise _invalid()
    if type(task_id) is not int or not 0 < task_id <= MAX_TASK_ID:
        raise _invalid()
    return _sort_value(plain, query.sort.field), TaskId(task_id)


def _sort_value(plain: object, field: SortField) -> SortValue | None:
    if field is SortField.DUE and plain is None:
        return None
    if field in _MOMENTS and isinstance(plain, str):
        return _moment(plain)
    if field is SortField.PRIORITY and type(plain) is int and 0 <= plain <= 3:
        return plain
    # Titles never hold control characters (and a database could not compare a NUL).
    if field is SortField.TITLE and isinstance(plain, str) and not has_control(plain):
        return plain
    raise _invalid()


def _moment(plain: str) -> datetime:
    try:
        moment = datetime.fromisoformat(plain)
        if moment.tzinfo is None:
            raise _invalid()
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _invalid() from None
