"""The persistence adapter's rows follow the domain's field definitions, position by position."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime, timedelta
from types import NoneType, UnionType
from typing import Any

import attrs
import pytest
from sqlalchemy import Column, String

from adapters.persistence.rows import (
    RECORD_COLUMNS,
    TASK_COLUMNS,
    USER_COLUMNS,
    WRITTEN,
    record_from_row,
    task_from_row,
    task_values,
    user_from_row,
)
from adapters.persistence.tables import (
    ended_sessions,
    idempotency_keys,
    invites,
    lists,
    memberships,
    tasks,
    users,
)
from domain.accounts import EMAIL_MAX, NAME_MAX
from domain.idempotency import KEY_MAX, IdempotencyRecord, Reply
from domain.lists import LIST_NAME_MAX, Role, hash_invite_code
from domain.placement import POSITION_MAX_LENGTH, SEPARATOR
from domain.queries import search_text
from domain.sessions import SESSION_ID_MAX
from domain.tasks import DESCRIPTION_MAX, TASK_FIELDS, TITLE_MAX, Priority, Task
from domain.types import UserId
from domain.users import USER_ID_MAX, User

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _sample(name: str, hint: Any, index: int) -> Any:
    """A value of the field's type that differs from its default and from every other field's."""
    # `X | None` is a UnionType, or a typing.Union when X is a NewType (TaskId | None).
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(k for k in typing.get_args(hint) if k is not NoneType)
    kind = hint
    kind = getattr(kind, "__supertype__", kind)  # TaskId, UserId
    if typing.get_origin(kind) is tuple:
        return (name, "second")
    samples: dict[Any, Any] = {
        bool: True,
        int: 100 + index,
        str: f"<{name}>",
        datetime: NOW + timedelta(minutes=index),
        date: date(2030, 1, 1) + timedelta(days=index),
        Priority: Priority.HIGH,
    }
    return samples[kind]


def _every_field_set() -> Task:
    hints = typing.get_type_hints(Task)
    task = Task(**{f.name: _sample(f.name, hints[f.name], i) for i, f in enumerate(TASK_FIELDS)})
    defaults = {f.name: f.default for f in attrs.fields(Task)}
    assert all(getattr(task, name) != default for name, default in defaults.items())
    return task


def test_a_row_of_the_task_columns_reads_back_as_the_task() -> None:
    task = _every_field_set()
    stored = {"id": task.id, "user_id": task.user_id, **task_values(task)}
    # A page's rows carry the owner's two counts after the task's columns.
    row = (*(stored[column.name] for column in TASK_COLUMNS), 5, 6)
    assert task_from_row(row) == task


def test_a_task_is_written_to_every_column_but_the_keys_in_its_stored_form() -> None:
    task = _every_field_set()
    values = task_values(task)
    assert list(values) == list(WRITTEN)
    assert (values["priority"], values["tags"]) == (Priority.HIGH.rank, list(task.tags))
    assert values["search_text"] == search_text(task)


def test_the_table_has_a_column_of_the_same_nullability_for_each_task_field() -> None:
    # And the change number, which every writing statement sets itself (numbering.py).
    numbered = {"changed"}
    assert {c.name for c in tasks.columns} == {f.name for f in TASK_FIELDS} | set(
        WRITTEN
    ) | numbered
    for field in TASK_FIELDS:
        assert tasks.c[field.name].nullable == field.nullable, field.name


@pytest.mark.parametrize(
    ("column", "limit"), [("title", TITLE_MAX), ("description", DESCRIPTION_MAX)]
)
def test_text_columns_are_as_long_as_the_domain_allows(column: str, limit: int) -> None:
    kind = tasks.c[column].type
    assert isinstance(kind, String)
    assert kind.length == limit


@pytest.mark.parametrize(
    ("column", "limit"),
    [
        (users.c.id, USER_ID_MAX),
        (users.c.email, EMAIL_MAX),
        (users.c.email_key, EMAIL_MAX),
        (users.c.name, NAME_MAX),
        (tasks.c.user_id, USER_ID_MAX),
        (idempotency_keys.c.user_id, USER_ID_MAX),
        (idempotency_keys.c.key, KEY_MAX),
        (ended_sessions.c.user_id, USER_ID_MAX),
        (ended_sessions.c.session_id, SESSION_ID_MAX),
        (tasks.c.created_by, USER_ID_MAX),
        (tasks.c.position, 2 * POSITION_MAX_LENGTH + len(SEPARATOR)),
        (lists.c.owner_id, USER_ID_MAX),
        (lists.c.name, LIST_NAME_MAX),
        (memberships.c.user_id, USER_ID_MAX),
        (memberships.c.role, max(len(role.value) for role in Role)),
        (invites.c.code_hash, len(hash_invite_code("any code"))),
        (invites.c.created_by, USER_ID_MAX),
    ],
    ids=str,
)
def test_text_columns_hold_the_longest_value_the_domain_allows(
    column: Column[Any], limit: int
) -> None:
    assert isinstance(column.type, String)
    assert column.type.length is not None
    assert column.type.length >= limit


def test_a_user_row_reads_back_as_the_user() -> None:
    user = User(id=UserId("u-1"), email="a@example.com", name="A", created_at=NOW)
    assert [c.name for c in USER_COLUMNS] == [f.name for f in attrs.fields(User)]
    # An account's row has its password hash after the user's columns.
    assert user_from_row((user.id, user.email, user.name, user.created_at, "hash")) == user


def test_a_record_row_reads_back_as_the_record() -> None:
    record = IdempotencyRecord(
        user_id=UserId("u-1"),
        key="k",
        fingerprint="f" * 64,
        reply=Reply(status=201, headers={"ETag": '"1"'}, body=b"{}"),
        created_at=NOW,
    )
    assert [c.table for c in RECORD_COLUMNS] == [idempotency_keys] * len(RECORD_COLUMNS)
    row = ("u-1", "k", "f" * 64, 201, {"ETag": '"1"'}, memoryview(b"{}"), NOW)
    assert record_from_row(row) == record
