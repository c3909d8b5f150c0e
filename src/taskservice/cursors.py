"""Opaque page cursors: a keyset position bound to the filter and order it was issued for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime

from domain.errors import FieldError, ValidationFailed
from domain.queries import Sort, SortField, SortValue, TaskFilter
from domain.types import MAX_TASK_ID, TaskId


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


def _fingerprint(task_filter: TaskFilter, sort: Sort) -> str:
    canonical = f"{task_filter!r}|{sort}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(task_filter: TaskFilter, sort: Sort, position: tuple[SortValue, TaskId]) -> str:
    """A cursor that continues after `position` under this filter and sort."""
    value, task_id = position
    plain = value.isoformat() if isinstance(value, datetime) else value
    payload = json.dumps([_fingerprint(task_filter, sort), plain, task_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, task_filter: TaskFilter, sort: Sort) -> tuple[SortValue, TaskId]:
    """The position inside `cursor`; ValidationFailed if it is malformed or for another query."""
    try:
        payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fingerprint, plain, task_id = json.loads(payload)
    except (ValueError, TypeError, binascii.Error):
        raise _invalid() from None
    if fingerprint != _fingerprint(task_filter, sort):
        raise _invalid()
    if type(task_id) is not int or not 0 < task_id <= MAX_TASK_ID:
        raise _invalid()
    return _sort_value(plain, sort.field), TaskId(task_id)


def _sort_value(plain: object, field: SortField) -> SortValue:
    if field in (SortField.CREATED_AT, SortField.UPDATED_AT) and isinstance(plain, str):
        try:
            moment = datetime.fromisoformat(plain)
        except ValueError:
            raise _invalid() from None
        if moment.tzinfo is not None:
            return moment
    elif (field is SortField.PRIORITY and type(plain) is int and 0 <= plain <= 3) or (
        field is SortField.TITLE and isinstance(plain, str)
    ):
        return plain
    raise _invalid()
