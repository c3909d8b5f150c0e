"""The one definition of a task's fields, and what the domain derives from it."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from domain.errors import ValidationFailed
from domain.tasks import (
    PLACEMENT_FIELDS,
    SERVER_FIELDS,
    TASK_FIELDS,
    UNSET,
    WRITABLE_FIELDS,
    Mode,
    Move,
    Task,
    TaskChanges,
    field_values,
    parse_changes,
    parse_move,
)
from domain.types import ListId, TaskId, UserId

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TASK = Task(id=TaskId(7), user_id=UserId("u"), title="t", created_at=NOW, updated_at=NOW)


def test_the_table_lists_every_field_of_task_in_its_positional_order() -> None:
    assert [f.name for f in TASK_FIELDS] == [f.name for f in attrs.fields(Task)]
    assert {f.name for f in TASK_FIELDS} == WRITABLE_FIELDS | SERVER_FIELDS
    assert not WRITABLE_FIELDS & SERVER_FIELDS


def test_nullable_fields_are_those_whose_type_admits_none() -> None:
    declared = {f.name for f in attrs.fields(Task) if str(f.type).endswith("| None")}
    assert declared
    assert {f.name for f in TASK_FIELDS if f.nullable} == declared


def test_task_changes_has_a_field_for_each_writable_field_in_the_same_order() -> None:
    writable = [f.name for f in TASK_FIELDS if f.writable]
    assert [f.name for f in attrs.fields(TaskChanges)] == [*writable, *PLACEMENT_FIELDS]
    assert set(PLACEMENT_FIELDS) <= SERVER_FIELDS


def test_field_values_are_every_field_in_order_and_a_copy() -> None:
    values = field_values(TASK)
    assert list(values) == [f.name for f in TASK_FIELDS]
    assert values == {f.name: getattr(TASK, f.name) for f in attrs.fields(Task)}
    values["title"] = "changed"
    assert TASK.title == "t"


@pytest.mark.parametrize("field", sorted(WRITABLE_FIELDS))
def test_null_is_refused_exactly_for_the_fields_that_are_not_nullable(field: str) -> None:
    nullable = next(f.nullable for f in TASK_FIELDS if f.name == field)
    body = {"title": "t", field: None} if field != "title" else {"title": None}
    if nullable:
        assert getattr(parse_changes(body, "patch"), field) is None
        return
    with pytest.raises(ValidationFailed) as refused:
        parse_changes(body, "patch")
    assert [(d.field, d.code) for d in refused.value.details] == [(field, "null")]


def test_every_server_field_but_the_placement_sent_back_is_ignored() -> None:
    read_only = SERVER_FIELDS - set(PLACEMENT_FIELDS)
    echoed = {name: value for name, value in field_values(TASK).items() if name in read_only}
    assert parse_changes(echoed, "patch") == TaskChanges()


@pytest.mark.parametrize("mode", ["replace", "patch"])
def test_the_placement_is_refused_outside_a_create(mode: Mode) -> None:
    body = {"title": "t", "list_id": 1, "parent_id": None}
    with pytest.raises(ValidationFailed) as refused:
        parse_changes(body, mode)
    assert [(d.field, d.code) for d in refused.value.details] == [
        ("list_id", "read_only"),
        ("parent_id", "read_only"),
    ]


def test_a_create_reads_the_placement() -> None:
    changes = parse_changes({"title": "t", "list_id": 3, "parent_id": 4}, "create")
    assert (changes.list_id, changes.parent_id) == (3, 4)
    top = parse_changes({"title": "t", "parent_id": None}, "create")
    assert (top.list_id, top.parent_id) == (UNSET, None)
    for wrong in ({"list_id": None}, {"list_id": 0}, {"list_id": True}, {"parent_id": "4"}):
        with pytest.raises(ValidationFailed) as refused:
            parse_changes({"title": "t", **wrong}, "create")
        assert [(d.field, d.code) for d in refused.value.details] == [
            (next(iter(wrong)), "invalid_type")
        ]


def test_a_move_reads_its_three_fields_and_refuses_the_rest() -> None:
    assert parse_move({}) == Move()
    assert parse_move({"list_id": 2, "parent_id": None, "after": None}) == Move(
        list_id=ListId(2), parent_id=None, after=None
    )
    with pytest.raises(ValidationFailed) as refused:
        parse_move({"list_id": None, "parent_id": -1, "after": 1.5, "title": "x"})
    assert sorted((d.field, d.code) for d in refused.value.details) == [
        ("after", "invalid_type"),
        ("list_id", "invalid_type"),
        ("parent_id", "invalid_type"),
        ("title", "unknown_field"),
    ]
