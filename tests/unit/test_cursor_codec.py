"""Cursors: sealed keyset positions, bound to their owner, filters, zone and order."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import ValidationFailed
from domain.queries import Parent, Position, Sort, SortField, Status, TaskFilter, TaskQuery
from domain.tasks import TITLE_MAX, Priority
from domain.types import MAX_TASK_ID, ListId, TaskId, UserId
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
        (SortField.POSITION, "a0"),
        (SortField.POSITION, "Zz.a0V"),
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
        query(SortField.TITLE, list_id=ListId(1)),
        query(SortField.TITLE, parent=Parent.NONE),
        query(SortField.TITLE, parent=TaskId(1)),
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


MANUAL = query(SortField.POSITION, list_id=ListId(1))


@pytest.mark.parametrize(
    "other",
    [
        query(SortField.POSITION, list_id=ListId(2)),
        query(SortField.POSITION, list_id=ListId(1), parent=Parent.NONE),
        query(SortField.POSITION, list_id=ListId(1), parent=TaskId(5)),
        query(SortField.TITLE, list_id=ListId(1)),
    ],
)
def test_a_manual_order_cursor_is_bound_to_its_list_and_parent(other: TaskQuery) -> None:
    cursor = CURSORS.encode(ALICE, MANUAL, ("a0", TaskId(1)))
    assert CURSORS.decode(cursor, ALICE, MANUAL) == ("a0", TaskId(1))
    with pytest.raises(ValidationFailed):
        CURSORS.decode(cursor, ALICE, other)


@pytest.mark.parametrize("payload", [b'["", 1]', b'["a0.b1.c2", 1]', b'["a 0", 1]', b"[3, 1]"])
def test_a_position_cursor_of_another_shape_is_refused(payload: bytes) -> None:
    cursor = SEALER.seal(payload, _associated(ALICE, MANUAL))
    with pytest.raises(ValidationFailed):
        CURSORS.decode(cursor, ALICE, MANUAL)


def test_the_binding_of_a_query_without_scope_is_what_it_was() -> None:
    # Cursors issued before lists existed keep working on the same list of all tasks.
    assert BY_TITLE.binding == f"{BY_TITLE.filter!r}|UTC|title"
