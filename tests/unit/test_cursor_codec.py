"""Cursors: sealed keyset positions, bound to their owner, filters, zone and order."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import ValidationFailed
from domain.queries import Position, Sort, SortField, Status, TaskFilter, TaskQuery
from domain.tasks import TITLE_MAX, Priority
from domain.types import MAX_TASK_ID, TaskId, UserId
from taskservice.cursors import CURSOR_MAX, CursorCodec, _associated
from tests.sealing import CURSORS, SEALER, shows

ALICE = UserId("alice")
BOB = UserId("bob")
BY_TITLE = TaskQuery(sort=Sort(field=SortField.TITLE, descending=False))
AT = datetime(2030, 3, 10, 6, 30, 15, 123456, tzinfo=UTC)
TITLE = "Call the clinic about the results"


def query(field: SortField, **changes: object) -> TaskQuery:
    return TaskQuery(sort=Sort(field=field, descending=False), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (SortField.CREATED_AT, AT),
        (SortField.UPDATED_AT, AT),
        (SortField.DUE, AT.astimezone(ZoneInfo("Asia/Kolkata"))),
        (SortField.DUE, None),
        (SortField.PRIORITY, Priority.HIGH.rank),
        (SortField.TITLE, TITLE),
    ],
)
def test_every_kind_of_position_comes_back(field: SortField, value: object) -> None:
    position: Position = (value, TaskId(MAX_TASK_ID))  # type: ignore[assignment]
    cursor = CURSORS.encode(ALICE, query(field), position)
    assert CURSORS.decode(cursor, ALICE, query(field)) == position
    assert CURSORS.decode(cursor, ALICE, query(field, limit=7)) == position


def test_a_cursor_shows_neither_its_position_nor_its_filters() -> None:
    searching = TaskQuery(filter=TaskFilter(text="clinic"), sort=BY_TITLE.sort)
    cursor = CURSORS.encode(ALICE, searching, (TITLE, TaskId(987654)))
    assert not shows(cursor, TITLE, "Call the", "clinic", "987654", "alice")


def test_the_longest_position_fits_under_the_limit_and_comes_back() -> None:
    # Four UTF-8 bytes for each of the most characters a title may have, and the largest id.
    for title in ("😀" * TITLE_MAX, '"' * TITLE_MAX, "\\" * TITLE_MAX):
        position = (title, TaskId(MAX_TASK_ID))
        cursor = CURSORS.encode(ALICE, BY_TITLE, position)
        assert len(cursor) <= CURSOR_MAX
        assert CURSORS.decode(cursor, ALICE, BY_TITLE) == position


@pytest.mark.parametrize(
    "other",
    [
        query(SortField.TITLE, filter=TaskFilter(status=Status.PENDING)),
        query(SortField.TITLE, filter=TaskFilter(text="clinic")),
        query(SortField.TITLE, tz=ZoneInfo("Europe/Berlin")),
        TaskQuery(sort=Sort(field=SortField.TITLE, descending=True)),
        TaskQuery(),
    ],
)
def test_a_cursor_for_another_query_is_refused(other: TaskQuery) -> None:
    cursor = CURSORS.encode(ALICE, BY_TITLE, (TITLE, TaskId(1)))
    with pytest.raises(ValidationFailed) as refused:
        CURSORS.decode(cursor, ALICE, other)
    assert refused.value.details[0].field == "cursor"


def test_a_cursor_of_another_user_is_refused() -> None:
    # Replayed against someone else's list, a position would tell where it falls among their tasks.
    cursor = CURSORS.encode(ALICE, BY_TITLE, (TITLE, TaskId(1)))
    with pytest.raises(ValidationFailed):
        CURSORS.decode(cursor, BOB, BY_TITLE)


def test_tampered_truncated_or_foreign_cursors_are_refused() -> None:
    cursor = CURSORS.encode(ALICE, BY_TITLE, (TITLE, TaskId(1)))
    data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    flipped = [
        base64.urlsafe_b64encode(data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]).decode()
        for i in range(len(data))
    ]
    undo_like = SEALER.seal(b'["Call",1]', b"taskservice/web-undo\x00alice")
    other_key = CursorCodec(type(SEALER)(b"another-secret-that-is-long-enough-0123456789"))
    refused = [
        *flipped,
        *(cursor[:n] for n in range(len(cursor))),
        cursor + "A",
        undo_like,
        other_key.encode(ALICE, BY_TITLE, (TITLE, TaskId(1))),
        "x" * (CURSOR_MAX + 1),
    ]
    for bad in refused:
        with pytest.raises(ValidationFailed):
            CURSORS.decode(bad, ALICE, BY_TITLE)


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'["Call"]', b'["Call", 0]', b'["Call", 1.5]', b"[1, 1]", b'["a\\u0000b", 1]', b"{"],
)
def test_an_authentic_cursor_of_another_shape_is_refused(payload: bytes) -> None:
    # Only this service seals cursors, but one sealed by another release must not reach a query.
    cursor = SEALER.seal(payload, _associated(ALICE, BY_TITLE))
    with pytest.raises(ValidationFailed):
        CURSORS.decode(cursor, ALICE, BY_TITLE)
