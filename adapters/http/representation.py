"""How tasks and list queries look on the wire."""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import QueryParams

from domain.errors import FieldError, ValidationFailed
from domain.queries import LIMIT_DEFAULT, LIMIT_MAX, Sort, Status, TaskFilter, TaskQuery
from domain.tasks import Task

LIST_PARAMETERS: Final = frozenset({"status", "sort", "limit", "cursor"})


def task_json(task: Task) -> dict[str, Any]:
    """The JSON object of a task (datetimes are rendered by the envelope)."""
    return {
        "id": task.id,
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": task.completed_at,
        "priority": task.priority.value,
        "due_date": task.due_date,
        "due_at": task.due_at,
        "tags": task.tags,
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def list_query(params: QueryParams) -> tuple[TaskQuery, str | None]:
    """The list query and cursor from the query string; every broken rule is reported at once."""
    errors = [
        FieldError(
            field=name, code="unknown_parameter", message=f"Unknown query parameter {name!r}."
        )
        for name in sorted(set(params) - LIST_PARAMETERS)
    ]
    errors += [
        FieldError(field=name, code="repeated", message=f"{name} may be given only once.")
        for name in sorted(LIST_PARAMETERS)
        if len(params.getlist(name)) > 1
    ]
    status = _choice(params, "status", Status, Status.ALL, errors)
    sort = _sort(params.get("sort"), errors)
    limit = _limit(params.get("limit"), errors)
    cursor = params.get("cursor")
    if cursor is not None and not cursor:
        errors.append(FieldError(field="cursor", code="invalid", message="The cursor is empty."))
    if errors:
        raise ValidationFailed(errors, "The query has invalid parameters.")
    return TaskQuery(filter=TaskFilter(status=status), sort=sort, limit=limit), cursor


def _choice(
    params: QueryParams, name: str, kind: type[Status], default: Status, errors: list[FieldError]
) -> Status:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        choices = ", ".join(s.value for s in kind)
        errors.append(
            FieldError(
                field=name, code="invalid_choice", message=f"{name} must be one of {choices}."
            )
        )
        return default


def _sort(raw: str | None, errors: list[FieldError]) -> Sort:
    if raw is None:
        return Sort()
    try:
        return Sort.parse(raw)
    except ValueError:
        errors.append(
            FieldError(
                field="sort",
                code="invalid_choice",
                message="sort must be one of created_at, updated_at, priority, title, optionally prefixed by '-'.",
            )
        )
        return Sort()


def _limit(raw: str | None, errors: list[FieldError]) -> int:
    if raw is None:
        return LIMIT_DEFAULT
    if len(raw) <= 3 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= LIMIT_MAX:
        return int(raw)
    errors.append(
        FieldError(
            field="limit",
            code="out_of_range",
            message=f"limit must be an integer from 1 to {LIMIT_MAX}.",
        )
    )
    return LIMIT_DEFAULT
