"""How tasks and list queries look on the wire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from starlette.datastructures import QueryParams

from domain.errors import FieldError, ValidationFailed
from domain.queries import (
    LIMIT_MAX,
    TEXT_MAX,
    Due,
    Sort,
    SortField,
    Status,
    TaskFilter,
    TaskQuery,
    time_zones,
)
from domain.tasks import TAGS_MAX, InvalidValue, Priority, Task, has_control, normalise_tag

LIST_PARAMETERS: Final = frozenset(
    {"status", "q", "priority", "tag", "due", "tz", "sort", "limit", "cursor"}
)
SORTS: Final = tuple(f"{sign}{field.value}" for field in SortField for sign in ("", "-"))

T = TypeVar("T")


def task_json(task: Task) -> dict[str, Any]:
    """The JSON object of a task (datetimes are rendered by the envelope)."""
    return {
        "id": task.id,
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": task.completed_at,
        "priority": task.priority,
        "due_date": task.due_date,
        "due_at": task.due_at,
        "tags": task.tags,
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


class _Reader:
    """Reads query parameters one rule at a time, collecting every broken rule."""

    def __init__(self, params: QueryParams) -> None:
        self.params = params
        self.errors: list[FieldError] = [
            FieldError(
                field=name, code="unknown_parameter", message=f"Unknown query parameter {name!r}."
            )
            for name in sorted(set(params) - LIST_PARAMETERS)
        ]
        self.errors += [
            FieldError(field=name, code="repeated", message=f"{name} may be given only once.")
            for name in sorted(LIST_PARAMETERS)
            if len(params.getlist(name)) > 1
        ]

    def read(self, name: str, parse: Callable[[str], T], default: T) -> T:
        """The parsed parameter, or `default` when it is absent or broken (and then noted)."""
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except InvalidValue as exc:
            self.errors.append(FieldError(field=name, code=exc.code, message=exc.message))
            return default


def list_query(params: QueryParams) -> tuple[TaskQuery, str | None]:
    """The list query and cursor from the query string; every broken rule is reported at once."""
    items = params.multi_items()
    if not items:
        # The commonest list of all, the first page as it comes, is built once.
        return _DEFAULT_QUERY, None
    if len(items) == 1 and items[0][0] == "cursor" and items[0][1]:
        # And the pages after it.
        return _DEFAULT_QUERY, items[0][1]
    reader = _Reader(params)
    task_filter = TaskFilter(
        status=reader.read("status", _status, _DEFAULT_FILTER.status),
        text=reader.read("q", _text, _DEFAULT_FILTER.text),
        priorities=reader.read("priority", _priorities, _DEFAULT_FILTER.priorities),
        tags=reader.read("tag", _tags, _DEFAULT_FILTER.tags),
        due=reader.read("due", _due, _DEFAULT_FILTER.due),
    )
    query = TaskQuery(
        filter=task_filter,
        sort=reader.read("sort", _sort, _DEFAULT_QUERY.sort),
        tz=reader.read("tz", _zone, _DEFAULT_QUERY.tz),
        limit=reader.read("limit", _limit, _DEFAULT_QUERY.limit),
    )
    cursor = reader.read("cursor", _cursor, None)
    if reader.errors:
        raise ValidationFailed(reader.errors, "The query has invalid parameters.")
    return query, cursor


E = TypeVar("E", Status, Due)


def _choice(kind: type[E], name: str) -> Callable[[str], E]:
    def parse(raw: str) -> E:
        try:
            return kind(raw)
        except ValueError:
            choices = ", ".join(k.value for k in kind)
            raise InvalidValue("invalid_choice", f"{name} must be one of {choices}.") from None

    return parse


_status: Final = _choice(Status, "status")
_due: Final = _choice(Due, "due")
_DEFAULT_QUERY: Final = TaskQuery()
_DEFAULT_FILTER: Final = _DEFAULT_QUERY.filter


def _text(raw: str) -> str:
    if not 1 <= len(raw) <= TEXT_MAX:
        raise InvalidValue("invalid_length", f"q must be 1 to {TEXT_MAX} characters.")
    # No title or description holds these, so such a search could never match.
    if has_control(raw, spacing_allowed=True):
        raise InvalidValue(
            "control_character",
            "q cannot contain control characters other than tab and line breaks.",
        )
    return raw


def _items(raw: str, name: str) -> list[str]:
    items = raw.split(",")
    if not all(items):
        raise InvalidValue("blank", f"{name} is a comma-separated list without empty items.")
    return items


def _priorities(raw: str) -> tuple[Priority, ...]:
    items = _items(raw, "priority")
    try:
        return tuple(Priority(item) for item in items)
    except ValueError:
        raise InvalidValue(
            "invalid_choice", "priority is a comma-separated list of none, low, medium, high."
        ) from None


def _tags(raw: str) -> tuple[str, ...]:
    items = _items(raw, "tag")
    if len(items) > TAGS_MAX:
        raise InvalidValue("too_many", f"tag lists at most {TAGS_MAX} tags.")
    return tuple(normalise_tag(item) for item in items)


def _sort(raw: str) -> Sort:
    try:
        return Sort.parse(raw)
    except ValueError:
        raise InvalidValue("invalid_choice", f"sort must be one of {', '.join(SORTS)}.") from None


def _zone(raw: str) -> ZoneInfo:
    # Only names from the zone database: user input never becomes a file path.
    if raw not in time_zones():
        raise InvalidValue(
            "invalid_time_zone", "tz must be an IANA time zone name, e.g. Europe/Berlin."
        )
    return ZoneInfo(raw)


def _limit(raw: str) -> int:
    if len(raw) <= 3 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= LIMIT_MAX:
        return int(raw)
    raise InvalidValue("out_of_range", f"limit must be an integer from 1 to {LIMIT_MAX}.")


def _cursor(raw: str) -> str:
    if not raw:
        raise InvalidValue("invalid", "The cursor is empty.")
    return raw
