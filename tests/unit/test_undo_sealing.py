"""Undo values of the web UI: every writable field, sealed for one user, restorable once, in time."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from adapters.web.undo import UNDO_WINDOW, UndoSealer
from domain.idempotency import key_errors
from domain.queries import TaskQuery
from domain.tasks import PLACEMENT_FIELDS, WRITABLE_FIELDS, Priority, Task, parse_changes
from domain.types import ListId, TaskId, UserId
from tests.sealing import CURSORS, SEALER, shows

ALICE = UserId("alice")
BOB = UserId("bob")
NOW = datetime(2030, 3, 10, 6, 30, tzinfo=UTC)
TIMED = Task(
    TaskId(41),
    ALICE,
    "Call the clinic",
    NOW - timedelta(days=3),
    NOW - timedelta(days=1),
    description="About the results\n\tbefore Friday",
    completed=True,
    completed_at=NOW - timedelta(days=1),
    priority=Priority.HIGH,
    due_at=datetime(2030, 3, 12, 7, 30, 15, 250000, tzinfo=UTC),
    tags=("health", "phone calls"),
    version=4,
    list_id=ListId(7),
    position="a0",
)
ALL_DAY = attrs.evolve(
    TIMED, due_at=None, due_date=date(2030, 3, 14), parent_id=TaskId(40), position="a0.a1"
)
SAMPLES = (TIMED, ALL_DAY)


@pytest.fixture
def undo() -> UndoSealer:
    return UndoSealer(SEALER)


def test_the_samples_set_every_writable_field() -> None:
    # A writable field added to the domain must be added here too, so the round trip covers it.
    defaults = {f.name: f.default for f in attrs.fields(Task)}
    for name in WRITABLE_FIELDS:
        assert any(getattr(task, name) != defaults.get(name) for task in SAMPLES), name


@pytest.mark.parametrize("task", SAMPLES)
def test_an_undo_restores_every_writable_field(undo: UndoSealer, task: Task) -> None:
    opened = undo.unseal(undo.seal(task, ALICE, NOW), ALICE, NOW)
    assert opened is not None
    assert set(opened.fields) == WRITABLE_FIELDS | set(PLACEMENT_FIELDS)
    assert opened.title == task.title
    changes = parse_changes(opened.fields, "create")
    restored = Task.create(user_id=ALICE, changes=changes, now=NOW)
    assert {n: getattr(restored, n) for n in WRITABLE_FIELDS} == {
        n: getattr(task, n) for n in WRITABLE_FIELDS
    }
    assert (changes.list_id, changes.parent_id) == (task.list_id, task.parent_id)


def test_an_undo_shows_nothing_of_the_task(undo: UndoSealer) -> None:
    value = undo.seal(TIMED, ALICE, NOW)
    assert not shows(value, "Call the clinic", "clinic", "results", "health", "phone")


def test_each_undo_has_its_own_id_and_a_valid_idempotency_key(undo: UndoSealer) -> None:
    first = undo.unseal(undo.seal(TIMED, ALICE, NOW), ALICE, NOW)
    second = undo.unseal(undo.seal(TIMED, ALICE, NOW), ALICE, NOW)
    assert first is not None
    assert second is not None
    assert first.id != second.id
    assert first.request().key != second.request().key
    assert key_errors(first.request().key) == []
    assert first.request().fingerprint == second.request().fingerprint


def test_an_undo_lasts_its_window_and_not_longer(undo: UndoSealer) -> None:
    value = undo.seal(TIMED, ALICE, NOW)
    assert undo.unseal(value, ALICE, NOW + UNDO_WINDOW) is not None
    assert undo.unseal(value, ALICE, NOW + UNDO_WINDOW + timedelta(seconds=1)) is None


def test_an_undo_is_only_for_its_user(undo: UndoSealer) -> None:
    assert undo.unseal(undo.seal(TIMED, ALICE, NOW), BOB, NOW) is None


def test_tampered_truncated_or_foreign_values_are_refused(undo: UndoSealer) -> None:
    value = undo.seal(TIMED, ALICE, NOW)
    data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    flipped = bytes([*data[:-1], data[-1] ^ 0x80])
    cursor = CURSORS.encode(ALICE, TaskQuery(), (NOW, TaskId(1)))
    for bad in (
        base64.urlsafe_b64encode(flipped).decode().rstrip("="),
        value[:-1],
        value[: len(value) // 2],
        value + "A",
        "",
        "not a sealed value",
        cursor,
    ):
        assert undo.unseal(bad, ALICE, NOW) is None
