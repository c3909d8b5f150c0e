"""Every rule of a task's fields (SPEC §3.0), at its boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.tasks import (
    PRIORITIES_BY_RANK,
    UNSET,
    Priority,
    Task,
    TaskChanges,
    has_control,
    is_control,
    parse_changes,
)
from domain.types import UserId

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def codes(data: dict[str, object], mode: str = "create") -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_changes(data, mode)  # type: ignore[arg-type]
    return {d.field: d.code for d in caught.value.details}


def make(**fields: object) -> Task:
    return Task.create(
        user_id=UserId("u"), changes=parse_changes({"title": "t", **fields}, "create"), now=NOW
    )


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("a", "a"),
        ("x" * 200, "x" * 200),
        ("  padded\t", "padded"),
        ("😀" * 200, "😀" * 200),
        ("a\u200bb", "a\u200bb"),
    ],
)
def test_valid_titles(title: str, stored: str) -> None:
    assert parse_changes({"title": title}, "create").title == stored


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("x" * 201, "too_long"),
        ("😀" * 201, "too_long"),
        ("", "blank"),
        (" \n ", "blank"),
        ("a\x00b", "control_character"),
        ("a\x1fb", "control_character"),
        ("a\x7fb", "control_character"),
        ("a\x9fb", "control_character"),
        ("a\nb", "control_character"),
        (7, "invalid_type"),
        (None, "null"),
    ],
)
def test_invalid_titles(title: object, code: str) -> None:
    assert codes({"title": title}) == {"title": code}


def test_title_is_required_on_create_and_replace_only() -> None:
    assert codes({}) == {"title": "required"}
    assert codes({"priority": "low"}, "replace") == {"title": "required"}
    assert parse_changes({}, "patch") == TaskChanges()


@pytest.mark.parametrize("text", ["d" * 1000, "tab\tcr\rlf\n", "  kept as given  ", "\u200b"])
def test_valid_descriptions_are_stored_exactly(text: str) -> None:
    assert parse_changes({"title": "t", "description": text}, "create").description == text


def test_empty_description_is_stored_as_null() -> None:
    assert parse_changes({"description": ""}, "patch").description is None
    assert parse_changes({"description": None}, "patch").description is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("d" * 1001, "too_long"),
        ("nul\x00", "control_character"),
        ("bell\x07", "control_character"),
        ("c1\x85", "control_character"),
        (3, "invalid_type"),
    ],
)
def test_invalid_descriptions(text: object, code: str) -> None:
    assert codes({"title": "t", "description": text}) == {"description": code}


def test_tags_are_trimmed_lowered_deduplicated_in_order() -> None:
    changes = parse_changes({"tags": [" Work ", "home", "WORK", "ünïcode", "a_b-c 1"]}, "patch")
    assert changes.tags == ("work", "home", "ünïcode", "a_b-c 1")


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        ([str(i) for i in range(21)], "too_many"),
        (["x" * 51], "too_long"),
        ([" "], "blank"),
        (["a/b"], "invalid_character"),
        (["a.b"], "invalid_character"),
        ([1], "invalid_type"),
        ("work", "invalid_type"),
        (None, "null"),
    ],
)
def test_invalid_tags(tags: object, code: str) -> None:
    assert codes({"tags": tags}, "patch") == {"tags": code}


def test_at_most_twenty_tags_are_sent_duplicates_included() -> None:
    # Counted as sent, so that the limit is the schema's maxItems (duplicates drop afterwards).
    assert codes({"tags": [str(i) for i in range(20)] + ["0"]}, "patch") == {"tags": "too_many"}
    assert len(parse_changes({"tags": ["a", "A", " a "] * 6}, "patch").tags) == 1  # type: ignore[arg-type]


def test_has_control_finds_exactly_the_characters_is_control_names() -> None:
    for code in range(0x10000):
        char = chr(code)
        assert has_control(f"a{char}b") is is_control(char), hex(code)
        spacing = char in "\t\n\r"
        assert has_control(char, spacing_allowed=True) is (is_control(char) and not spacing)


def test_priorities_rank_in_order() -> None:
    assert [p.rank for p in (Priority.NONE, Priority.LOW, Priority.MEDIUM, Priority.HIGH)] == [
        0,
        1,
        2,
        3,
    ]
    assert all(PRIORITIES_BY_RANK[p.rank] is p for p in Priority)
    assert codes({"priority": "HIGH"}, "patch") == {"priority": "invalid_choice"}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("2030-01-31T10:00:00Z", datetime(2030, 1, 31, 10, tzinfo=UTC)),
        ("2030-01-31t10:00:00z", datetime(2030, 1, 31, 10, tzinfo=UTC)),
        ("2030-01-31T10:00:00.5+02:00", datetime(2030, 1, 31, 8, 0, 0, 500000, tzinfo=UTC)),
        (
            "2030-01-31T10:00:00.123456789-01:30",
            datetime(2030, 1, 31, 11, 30, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_due_at_is_rfc3339_with_offset_returned_in_utc(raw: str, parsed: datetime) -> None:
    assert parse_changes({"due_at": raw}, "patch").due_at == parsed


@pytest.mark.parametrize(
    "raw",
    [
        "2030-01-31T10:00:00",
        "2030-01-31 10:00:00Z",
        "2030-02-30T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "2030-01-31T23:59:60Z",
        "2030-01-31T10:00:00+05:60",
        "2030-01-31T10:00:00+24:00",
        "tomorrow",
        5,
    ],
)
def test_invalid_due_at(raw: object) -> None:
    assert codes({"due_at": raw}, "patch")["due_at"] in {"invalid_datetime", "invalid_type"}


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("due_at", "9999-12-31T23:59:59-23:59"),
        ("due_at", "0001-01-01T23:00:00+01:00"),
        ("due_date", "0001-01-01"),
        ("due_date", "9999-12-31"),
    ],
)
def test_due_days_stop_short_of_the_calendars_ends(field: str, raw: str) -> None:
    assert codes({field: raw}, "patch")[field] == "out_of_range"


def test_the_first_and_last_due_days_reach_utc_from_any_offset() -> None:
    first = parse_changes({"due_at": "0001-01-02T00:00:00+23:59"}, "patch")
    last = parse_changes({"due_at": "9999-12-30T23:59:59-23:59"}, "patch")
    assert first.due_at == datetime(1, 1, 1, 0, 1, tzinfo=UTC)
    assert last.due_at == datetime(9999, 12, 31, 23, 58, 59, tzinfo=UTC)
    assert parse_changes({"due_date": "9999-12-30"}, "patch").due_date == date(9999, 12, 30)


@pytest.mark.parametrize("raw", ["2030-1-31", "20300131", "2030-02-30", "2030-01-31T00:00:00Z", ""])
def test_invalid_due_date(raw: str) -> None:
    assert codes({"due_date": raw}, "patch") == {"due_date": "invalid_date"}


def test_due_date_and_due_at_together_is_refused_but_setting_one_clears_the_other() -> None:
    assert codes({"due_date": "2030-01-01", "due_at": "2030-01-01T00:00:00Z"}, "patch") == {
        "due_at": "conflict"
    }
    dated = make(due_date="2030-01-01")
    timed = dated.apply(parse_changes({"due_at": "2030-01-02T00:00:00Z"}, "patch"), LATER)
    assert timed.due_date is None
    assert timed.due_at == datetime(2030, 1, 2, tzinfo=UTC)
    back = timed.apply(parse_changes({"due_date": "2030-01-03"}, "patch"), LATER)
    assert (back.due_date, back.due_at) == (date(2030, 1, 3), None)


def test_unknown_fields_are_refused_and_read_only_ones_ignored() -> None:
    assert codes({"title": "t", "owner": "x", "Title": "y"}) == {
        "owner": "unknown_field",
        "Title": "unknown_field",
    }
    ignored = {
        "title": "t",
        "id": 1,
        "user_id": "x",
        "version": 9,
        "created_at": 0,
        "updated_at": 0,
        "completed_at": 0,
    }
    assert parse_changes(ignored, "create") == TaskChanges(title="t")


def test_new_task_defaults() -> None:
    task = make()
    assert (task.version, task.completed, task.completed_at, task.priority, task.tags) == (
        1,
        False,
        None,
        Priority.NONE,
        (),
    )
    assert task.created_at == task.updated_at == NOW
    assert task.etag == '"1"'


def test_created_completed_gets_completed_at() -> None:
    task = make(completed=True)
    assert task.completed_at == NOW
    assert task.version == 1


def test_completion_sets_and_clears_completed_at() -> None:
    done = make().apply(TaskChanges(completed=True), LATER)
    assert (done.completed, done.completed_at, done.version) == (True, LATER, 2)
    again = done.apply(TaskChanges(completed=True), LATER + timedelta(hours=1))
    assert again is done
    reopened = done.apply(TaskChanges(completed=False), LATER)
    assert (reopened.completed_at, reopened.version) == (None, 3)


def test_a_change_that_changes_nothing_returns_the_same_task() -> None:
    task = make(description="d", tags=["a"])
    same = task.apply(
        parse_changes({"title": " t ", "description": "d", "tags": ["A"]}, "replace"), LATER
    )
    assert same is task


def test_a_real_change_bumps_version_and_updated_at_only() -> None:
    task = make()
    changed = task.apply(TaskChanges(title="new"), LATER)
    assert (changed.version, changed.updated_at, changed.created_at) == (2, LATER, NOW)


def test_unset_is_distinct_from_null() -> None:
    assert TaskChanges().description is UNSET
    assert parse_changes({"description": None}, "patch").description is None
