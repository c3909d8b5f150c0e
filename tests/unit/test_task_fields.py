"""The one definition of a task's fields, and what the domain derives from it."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from domain.errors import ValidationFailed
from domain.tasks import (
    SERVER_FIELDS,
    TASK_FIELDS,
    WRITABLE_FIELDS,
    Task,
    TaskChanges,
    field_values,
    parse_changes,
)
from domain.types import TaskId, UserId

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
    assert [f.name for f in attrs.fields(TaskChanges)] == writable


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


def test_every_server_field_sent_back_is_ignored() -> None:
    echoed = {name: value for name, value in field_values(TASK).items() if name in SERVER_FIELDS}
    assert parse_changes(echoed, "patch") == TaskChanges()
