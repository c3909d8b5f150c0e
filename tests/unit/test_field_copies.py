"""Where a copy of the task's fields must stay, it stays equal to the domain's definition.

The OpenAPI schemas carry prose for each field, the web forms present each one, and the bench's
reference app must not import the service: each is written out, and checked here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest

from adapters.http.accounts import user_json
from adapters.http.openapi import openapi_document
from adapters.http.representation import (
    invite_json,
    issued_invite_json,
    member_json,
    task_list_json,
)
from adapters.http.style import ENVELOPE, PLAIN
from adapters.persistence.rows import TASK_COLUMNS, WRITTEN
from adapters.web.forms import task_data, task_form
from bench import reference, reference_sql
from domain import queries
from domain.batches import BATCH_MAX
from domain.lists import (
    LIST_FIELDS,
    VIEW_FIELDS,
    Invite,
    IssuedInvite,
    ListView,
    Member,
    Role,
    TaskList,
)
from domain.queries import TaskCounts
from domain.tasks import PLACEMENT_FIELDS, TASK_FIELDS, WRITABLE_FIELDS, Priority, Task
from domain.types import ListId, TaskId, UserId
from domain.users import User
from taskservice.ports import MAX_TOKEN_LENGTH

NAMES = [field.name for field in TASK_FIELDS]
NULLABLE = {field.name for field in TASK_FIELDS if field.nullable}
# Completion has a button of its own on the list; the task forms do not repeat it.
IN_FORMS = WRITABLE_FIELDS - {"completed"}
NOW = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = openapi_document()["components"]["schemas"]
    return schemas


def _admits_null(schema: dict[str, Any]) -> bool:
    return {"type": "null"} in schema.get("oneOf", [])


def test_the_task_schema_has_every_field_nullable_as_the_domain_says() -> None:
    task = _schemas()["Task"]
    assert set(task["properties"]) == set(task["required"]) == set(NAMES)
    assert {n for n, s in task["properties"].items() if _admits_null(s)} == NULLABLE


@pytest.mark.parametrize("body", ["TaskCreate", "TaskReplace", "TaskPatch"])
def test_task_bodies_type_the_writable_fields_and_ignore_the_others(body: str) -> None:
    properties = _schemas()[body]["properties"]
    assert set(properties) == set(NAMES)
    typed = {name for name, schema in properties.items() if set(schema) - {"description"}}
    assert typed == WRITABLE_FIELDS | set(PLACEMENT_FIELDS)
    refused = {name for name, schema in properties.items() if schema.get("not") == {}}
    assert refused == (set() if body == "TaskCreate" else set(PLACEMENT_FIELDS))
    accepted = typed - refused
    assert {n for n in accepted if _admits_null(properties[n])} == NULLABLE & accepted


def test_the_user_schema_is_what_the_api_writes_of_a_user() -> None:
    user = User(id=UserId("u"), email="u@example.com", name="U", created_at=NOW)
    schema = _schemas()["User"]
    assert set(schema["properties"]) == set(schema["required"]) == set(user_json(user))
    assert set(user_json(user)) <= {field.name for field in attrs.fields(User)}


def test_the_task_forms_show_and_send_every_field_they_present() -> None:
    task = Task(
        id=TaskId(1),
        user_id=UserId("u"),
        title="t",
        created_at=NOW,
        updated_at=NOW,
        description="d",
        priority=Priority.HIGH,
        due_date=date(2030, 1, 3),
        tags=("a",),
    )
    shown = task_form(task)
    assert set(shown) - {"due_offset"} == IN_FORMS
    assert set(task_data(shown)) == IN_FORMS - {"due_at"}
    assert set(task_data({**shown, "due_date": "", "due_at": "2030-01-03T04:05"})) == (
        IN_FORMS - {"due_date"}
    )


def test_the_reference_app_reads_and_writes_the_columns_the_service_does() -> None:
    assert ", ".join(f"tasks.{column.name}" for column in TASK_COLUMNS) == reference_sql.COLUMNS
    written = (*reference_sql.WRITTEN, reference_sql.SEARCH_TEXT)
    assert [name for name, _ in written] == list(WRITTEN)
    row = dict.fromkeys(NAMES, 0)
    assert list(reference.task_json(row)) == NAMES
    assert set(reference._WRITABLE) == WRITABLE_FIELDS


def test_the_reference_app_shares_the_service_limits() -> None:
    assert tuple(Priority) == reference.PRIORITIES
    assert reference.MAX_TOKEN == MAX_TOKEN_LENGTH
    assert reference.BATCH_MAX == BATCH_MAX
    assert (reference.LIMIT_DEFAULT, reference.LIMIT_MAX) == (
        queries.LIMIT_DEFAULT,
        queries.LIMIT_MAX,
    )


def _list_view() -> ListView:
    task_list = TaskList(
        id=ListId(1), owner_id=UserId("u"), name="n", created_at=NOW, updated_at=NOW
    )
    return ListView(list=task_list, role=Role.OWNER, members=1, counts=TaskCounts())


def _invite() -> Invite:
    return Invite(
        list_id=ListId(1),
        role=Role.EDITOR,
        expires_at=NOW,
        created_at=NOW,
        created_by=UserId("u"),
        code_hash="h",
    )


def _closed(schema: dict[str, Any], *optional: str) -> set[str]:
    # Every property required but `optional`, and no other property allowed.
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"]) - set(optional)
    return set(schema["properties"])


@pytest.mark.parametrize("plain", [False, True])
def test_the_list_schemas_are_what_the_api_writes(plain: bool) -> None:
    schemas = openapi_document(PLAIN if plain else ENVELOPE)["components"]["schemas"]
    view = _list_view()
    assert _closed(schemas["List"]) == set(task_list_json(view))
    assert _closed(schemas["Counts"]) == set(task_list_json(view)["counts"])
    assert {*LIST_FIELDS, *VIEW_FIELDS} == set(task_list_json(view))
    member = Member(user_id=UserId("u"), name=None, email="e", role=Role.VIEWER, joined_at=NOW)
    assert _closed(schemas["Member"], "email") == set(member_json(member, with_email=True))
    assert set(member_json(member, with_email=False)) == set(schemas["Member"]["required"])
    assert _closed(schemas["Invite"]) == set(invite_json(_invite()))
    issued = IssuedInvite(invite=_invite(), code="c")
    assert _closed(schemas["NewInvite"]) == set(issued_invite_json(issued))
    assert "code_hash" not in str(schemas)
