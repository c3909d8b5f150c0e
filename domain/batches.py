"""Batches (SPEC §8): operations on tasks applied together or not at all.

An operation is one of the single task routes, in a body: `create` is POST …/tasks, `update` is
PATCH …/tasks/{id}, `complete` is PATCH …/tasks/{id}/complete, `delete` is DELETE
…/tasks/{id}; `if_match` is the version an If-Match ETag would name. Their bodies are parsed by
domain.tasks, as the routes' are; here only the batch's own shape is judged, and every broken
rule is named by its operation's index (`operations[3].title`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeVar

import attrs

from domain.errors import (
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    unknown_fields,
)
from domain.tasks import TaskChanges, parse_changes, parse_completion
from domain.types import TaskId, is_id

BATCH_MAX: Final = 100
"""The most operations one batch holds (and the fewest is one)."""

Expected = frozenset[int] | None
"""The versions an operation's `if_match` accepts; None without one."""


@attrs.frozen(kw_only=True)
class CreateTask:
    """Create a task, as POST …/tasks does (list and parent included)."""

    changes: TaskChanges


@attrs.frozen(kw_only=True)
class UpdateTask:
    """Change a task as a merge patch does."""

    task_id: TaskId
    changes: TaskChanges
    expected: Expected = None


@attrs.frozen(kw_only=True)
class CompleteTask:
    """Set a task's completion, or toggle it when `completed` is None."""

    task_id: TaskId
    completed: bool | None
    expected: Expected = None


@attrs.frozen(kw_only=True)
class DeleteTask:
    """Delete a task (with its subtasks), as DELETE …/tasks/{id} does."""

    task_id: TaskId
    expected: Expected = None


Operation = CreateTask | UpdateTask | CompleteTask | DeleteTask

_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "create": frozenset({"op", "data"}),
    "update": frozenset({"op", "id", "data", "if_match"}),
    "complete": frozenset({"op", "id", "data", "if_match"}),
    "delete": frozenset({"op", "id", "if_match"}),
}
"""The keys each kind of operation takes; any other is an unknown field."""
_KINDS: Final = " or ".join(repr(kind) for kind in _FIELDS)
_ERROR_CODES: Final[tuple[tuple[type[DomainError], str], ...]] = (
    (NotFound, "not_found"),
    (Forbidden, "forbidden"),
    (PreconditionFailed, "precondition_failed"),
)
"""The failures of an operation other than a broken rule, by the code its details carry."""


def parse_batch(data: Mapping[str, object]) -> list[Operation]:
    """The operations of a batch body `{"operations": [...]}`.

    ValidationFailed lists every broken rule, each named by its operation (`operations[2].id`).
    """
    errors = unknown_fields(data, {"operations"})
    raw = data.get("operations")
    if raw is None:
        errors.append(_error("operations", "required", "operations is required."))
    elif not isinstance(raw, list):
        errors.append(_error("operations", "invalid_type", "operations must be an array."))
    elif not 1 <= len(raw) <= BATCH_MAX:
        code = "too_few" if not raw else "too_many"
        message = f"A batch holds 1 to {BATCH_MAX} operations."
        errors.append(_error("operations", code, message))
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(raw, list)
    operations: list[Operation] = []
    for index, item in enumerate(raw):
        try:
            operations.append(_operation(item))
        except ValidationFailed as exc:
            errors += at_operation(exc, index).details
    if errors:
        raise ValidationFailed(errors)
    return operations


_Error = TypeVar("_Error", bound=DomainError)


def at_operation(error: _Error, index: int) -> _Error:
    """`error`, its details naming operation `index`: every broken rule's field under
    `operations[index].`, or for a refusal (NotFound, Forbidden, PreconditionFailed) the
    operation itself; any other error is left as it is (it is not the operation's)."""
    where = f"operations[{index}]"
    if isinstance(error, ValidationFailed):
        error.details = [
            attrs.evolve(d, field=f"{where}.{d.field}" if d.field else where) for d in error.details
        ]
        return error
    code = next((code for kind, code in _ERROR_CODES if isinstance(error, kind)), None)
    if code is not None:
        error.details = [FieldError(field=where, code=code, message=error.message)]
    return error


def _operation(item: object) -> Operation:
    if not isinstance(item, dict):
        raise ValidationFailed([_error("", "invalid_type", "An operation must be an object.")])
    kind = item.get("op")
    if not isinstance(kind, str) or kind not in _FIELDS:
        code = "required" if kind is None else "invalid_choice"
        raise ValidationFailed([_error("op", code, f"op must be {_KINDS}.")])
    errors = unknown_fields(item, _FIELDS[kind])
    # An id or version that breaks a rule is reported; the operation is then never used.
    task_id = TaskId(0) if kind == "create" else _task_id(item, errors)
    expected = _expected(item, errors)
    data = _data(item, errors) if "data" in _FIELDS[kind] else {}
    try:
        operation = _read(kind, data, task_id, expected)
    except ValidationFailed as exc:
        errors += exc.details
    if errors:
        raise ValidationFailed(errors)
    return operation


def _read(kind: str, data: Mapping[str, object], task_id: TaskId, expected: Expected) -> Operation:
    # Each reads its `data` as its single route reads its body (left out: `{}`).
    match kind:
        case "create":
            return CreateTask(changes=parse_changes(data, "create"))
        case "update":
            changes = parse_changes(data, "patch")
            return UpdateTask(task_id=task_id, changes=changes, expected=expected)
        case "complete":
            completed = parse_completion(data)
            return CompleteTask(task_id=task_id, completed=completed, expected=expected)
        case _:
            return DeleteTask(task_id=task_id, expected=expected)


def _data(item: Mapping[str, object], errors: list[FieldError]) -> Mapping[str, object]:
    data = item.get("data", {})
    if isinstance(data, dict):
        return data
    errors.append(_error("data", "invalid_type", "data must be an object."))
    return {}


def _task_id(item: Mapping[str, object], errors: list[FieldError]) -> TaskId:
    raw = item.get("id")
    if is_id(raw):
        assert isinstance(raw, int)
        return TaskId(raw)
    if raw is None:
        errors.append(_error("id", "required", "id is required."))
    else:
        errors.append(_error("id", "invalid_type", "id must be the id of a task."))
    return TaskId(0)


def _expected(item: Mapping[str, object], errors: list[FieldError]) -> Expected:
    if "if_match" not in item:
        return None
    raw = item["if_match"]
    # A version is a positive integer, as an id is; the ETag "<version>" carries it in quotes.
    if not is_id(raw):
        message = "if_match must be a task's version, a positive integer."
        errors.append(_error("if_match", "invalid_type", message))
        return None
    assert isinstance(raw, int)
    return frozenset({raw})


def _error(field: str, code: str, message: str) -> FieldError:
    return FieldError(field=field, code=code, message=message)
