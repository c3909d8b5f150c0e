"""Opaque page cursors: a keyset position sealed for the user, scope, filters, zone and order."""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from typing import Final

import attrs
import orjson

from domain.errors import FieldError, ValidationFailed
from domain.placement import is_position
from domain.queries import (
    ParentScope,
    Position,
    Sort,
    SortField,
    SortValue,
    TaskFilter,
    TaskQuery,
    cursor_binding,
)
from domain.sync import FeedPosition, Kind, Op
from domain.tasks import has_control
from domain.trash import TrashPosition
from domain.types import MAX_TASK_ID, ListId, TaskId, UserId
from taskservice.ports import Sealer

# Above the longest cursor the codec issues (a title of 200 four-byte characters, 1,136; a test
# checks it); longer input is refused before it is opened.
CURSOR_MAX: Final = 1536
# Sets cursors apart from every other value the same key seals, and the trash's from the tasks'.
_LABEL: Final = b"taskservice/cursor\x00"
_TRASH_LABEL: Final = b"taskservice/trash-cursor\x00"
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


class CursorCodec:
    """Seals keyset positions into cursors that nobody can read or alter, and opens them.

    A cursor is bound to its owner as well as to the query: even sealed, a position replayed
    against someone else's tasks would tell them where it falls among their own titles.
    """

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def encode(self, owner: UserId, query: TaskQuery, position: Position) -> str:
        """A cursor that continues after `position` for `owner` under this query."""
        return self._sealer.seal(orjson.dumps(position), _associated(owner, query))

    def decode(self, cursor: str, owner: UserId, query: TaskQuery) -> Position:
        """The position inside `cursor`; ValidationFailed unless it was issued for this list."""
        if len(cursor) > CURSOR_MAX:
            raise _invalid()
        payload = self._sealer.open(cursor, _associated(owner, query))
        if payload is None:
            raise _invalid()
        try:
            plain, task_id = orjson.loads(payload)
        except (ValueError, TypeError):
            raise _invalid() from None
        if type(task_id) is not int or not 0 < task_id <= MAX_TASK_ID:
            raise _invalid()
        return _sort_value(plain, query.sort.field), TaskId(task_id)

    def encode_trash(self, owner: UserId, position: TrashPosition) -> str:
        """A cursor that continues `owner`'s trash after `position`."""
        deleted_at, task_id = position
        plain = orjson.dumps([deleted_at.isoformat(), task_id])
        return self._sealer.seal(plain, _TRASH_LABEL + owner.encode())

    def decode_trash(self, cursor: str, owner: UserId) -> TrashPosition:
        """The position inside a trash cursor; ValidationFailed unless issued to `owner`."""
        if len(cursor) > CURSOR_MAX:
            raise _invalid()
        payload = self._sealer.open(cursor, _TRASH_LABEL + owner.encode())
        if payload is None:
            raise _invalid()
        try:
            moment, task_id = orjson.loads(payload)
        except (ValueError, TypeError):
            raise _invalid() from None
        if type(task_id) is not int or not 0 < task_id <= MAX_TASK_ID or type(moment) is not str:
            raise _invalid()
        return _moment(moment), TaskId(task_id)


def _associated(owner: UserId, query: TaskQuery) -> bytes:
    # The digest has a fixed length, so no other owner and binding make the same bytes.
    digest = _binding_digest(query.filter, query.tz.key, query.sort, query.list_id, query.parent)
    return digest + owner.encode()


@functools.lru_cache(maxsize=512)
def _binding_digest(
    chosen: TaskFilter, tz_key: str, sort: Sort, list_id: ListId | None, parent: ParentScope
) -> bytes:
    # Every page of a list asks again; the repr behind the binding is the costly part.
    binding = cursor_binding(chosen, tz_key, sort, list_id, parent)
    return _LABEL + hashlib.sha256(binding.encode()).digest()


def _sort_value(plain: object, field: SortField) -> SortValue | None:
    # Only this service seals cursors, but one sealed by an older release must not reach a query.
    if field is SortField.DUE and plain is None:
        return None
    if field in _MOMENTS and isinstance(plain, str):
        return _moment(plain)
    if field is SortField.PRIORITY and type(plain) is int and 0 <= plain <= 3:
        return plain
    # Titles never hold control characters (and a database could not compare a NUL).
    if field is SortField.TITLE and isinstance(plain, str) and not has_control(plain):
        return plain
    if field is SortField.POSITION and isinstance(plain, str) and is_position(plain):
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


# Sets feed cursors apart from task cursors and every other value the same key seals.
_FEED_LABEL: Final = b"taskservice/feed\x00"
_START: Final = b"start"
"""A feed cursor before any entry: where an empty first page leaves its client."""


class FeedCursorCodec:
    """Seals feed positions (domain.sync) for their user into opaque cursors, and opens them."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def encode(self, owner: UserId, position: FeedPosition | None) -> str:
        """A cursor that continues after `position` (from the start: None) in `owner`'s feed."""
        plain = _START if position is None else orjson.dumps(attrs.astuple(position))
        return self._sealer.seal(plain, _FEED_LABEL + owner.encode())

    def decode(self, cursor: str, owner: UserId) -> FeedPosition | None:
        """The position inside `cursor`; ValidationFailed (field `since`) unless this service
        issued it for `owner`'s feed."""
        payload = None
        if len(cursor) <= CURSOR_MAX:
            payload = self._sealer.open(cursor, _FEED_LABEL + owner.encode())
        if payload == _START:
            return None
        try:
            changed, kind, entity_id, op = orjson.loads(payload or b"")
            return FeedPosition(int(changed), Kind(kind), int(entity_id), Op(op))
        except (ValueError, TypeError):
            raise ValidationFailed(
                [
                    FieldError(
                        field="since",
                        code="invalid",
                        message="since is malformed or was not issued for this user's feed.",
                    )
                ]
            ) from None
