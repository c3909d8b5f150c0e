"""How tasks, lists, members, invites and list queries look on the wire."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import attrs
from starlette.datastructures import QueryParams

from domain.errors import FieldError, ValidationFailed
from domain.lists import Invite, IssuedInvite, ListView, Member, view_values
from domain.queries import (
    LIMIT_MAX,
    TEXT_MAX,
    Due,
    Parent,
    ParentScope,
    Sort,
    SortField,
    Status,
    TaskFilter,
    TaskQuery,
    scope_errors,
    time_zones,
)
from domain.sync import FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, Change
from domain.tasks import (
    TAGS_MAX,
    InvalidValue,
    Priority,
    Task,
    field_values,
    has_control,
    normalise_tag,
)
from domain.trash import TrashedTask, trashed_values
from domain.types import ListId, parse_list_id, parse_task_id

LIST_PARAMETERS: Final = frozenset(
    {"list", "parent", "status", "q", "priority", "tag", "due", "tz", "sort", "limit", "cursor"}
)
SORTS: Final = tuple(f"{sign}{field.value}" for field in SortField for sign in ("", "-"))
FRONTEND_PARAMETERS: Final = frozenset({"search", "completed", "order"})
"""What frontends written for FastAPI backends send besides SPEC §3.1's names (SPEC §11)."""
FRONTEND_SORTS: Final = {
    "created": Sort(field=SortField.CREATED_AT, descending=True),
    "title": Sort(field=SortField.TITLE, descending=False),
    "due_date": Sort(field=SortField.DUE, descending=False),
    "priority": Sort(field=SortField.PRIORITY, descending=False),
}
"""A frontend's sort names and their order without `order`: `created` is the default list,
newest first; the others read as SPEC §3.1 reads an unsigned sort, ascending."""
ORDERS: Final = {"asc": False, "desc": True}
"""`order` values and whether each is descending."""
COMPLETIONS: Final = {"true": Status.COMPLETED, "false": Status.PENDING}
"""A frontend's `completed` values and the status each asks for."""

T = TypeVar("T")


def task_json(task: Task) -> dict[str, Any]:
    """The JSON object of a task: every field (datetimes are rendered by the envelope)."""
    return field_values(task)


def trashed_json(entry: TrashedTask) -> dict[str, Any]:
    """The JSON object of a task in the trash: the task as it was, and who deleted it when."""
    return trashed_values(entry)


TRASH_PARAMETERS: Final = frozenset({"limit", "cursor"})


def trash_query(params: QueryParams) -> tuple[int, str | None]:
    """The page size and cursor of a page of the trash; every broken rule is reported at once."""
    reader = _Reader(params, TRASH_PARAMETERS)
    limit = reader.read("limit", _limit, _DEFAULT_QUERY.limit)
    cursor = reader.read("cursor", _cursor, None)
    if reader.errors:
        raise ValidationFailed(reader.errors, "The query has invalid parameters.")
    return limit, cursor


HIDDEN_INVITE_FIELDS: Final = frozenset({"code_hash"})
"""What an invite's JSON never shows: its code is shown once, when it is made, and never stored."""


def task_list_json(view: ListView) -> dict[str, Any]:
    """The JSON object of a list as the caller sees it (SPEC §7)."""
    return view_values(view)


def change_json(change: Change) -> dict[str, Any]:
    """The JSON object of a feed entry (SPEC §8): `data` is the task or the list as the task and
    list routes show them, or null for a delete."""
    data = None
    if change.task is not None:
        data = task_json(change.task)
    elif change.list is not None:
        data = task_list_json(change.list)
    return {"kind": change.kind.value, "id": change.id, "op": change.op.value, "data": data}


FEED_PARAMETERS: Final = frozenset({"since", "limit"})


def feed_query(params: QueryParams) -> tuple[str | None, int]:
    """The feed cursor (None: a full sync) and page size of the query string (SPEC §8)."""
    reader = _Reader(params, FEED_PARAMETERS)
    since = reader.read("since", _since, None)
    limit = reader.read("limit", _feed_limit, FEED_LIMIT_DEFAULT)
    if reader.errors:
        raise ValidationFailed(reader.errors, "The query has invalid parameters.")
    return since, limit


def _since(raw: str) -> str:
    if not raw:
        raise InvalidValue("invalid", "since is empty: leave it out for a full sync.")
    return raw


def _feed_limit(raw: str) -> int:
    if len(raw) <= 3 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= FEED_LIMIT_MAX:
        return int(raw)
    raise InvalidValue("out_of_range", f"limit must be an integer from 1 to {FEED_LIMIT_MAX}.")


def member_json(member: Member, *, with_email: bool) -> dict[str, Any]:
    """A member of a list; `email` only for whom the use case showed it (the list's owner)."""
    values = attrs.asdict(member, recurse=False)
    if not with_email:
        del values["email"]
    return values


def invite_json(invite: Invite) -> dict[str, Any]:
    """An open invite: its list, role, expiry, when and by whom it was made; never a code."""
    values = attrs.asdict(invite, recurse=False)
    for name in HIDDEN_INVITE_FIELDS:
        del values[name]
    return values


def issued_invite_json(issued: IssuedInvite) -> dict[str, Any]:
    """A new invite with its code: the one answer that shows the code."""
    return {"code": issued.code, **invite_json(issued.invite)}


def unknown_parameters(names: Iterable[str]) -> list[FieldError]:
    """One `unknown_parameter` error per name, in a stable order."""
    return [
        FieldError(
            field=name, code="unknown_parameter", message=f"Unknown query parameter {name!r}."
        )
        for name in sorted(names)
    ]


class _Reader:
    """Reads query parameters one rule at a time, collecting every broken rule."""

    def __init__(self, params: QueryParams, known: frozenset[str]) -> None:
        self.params = params
        self.known = known
        self.errors: list[FieldError] = unknown_parameters(set(params) - known)
        self.errors += [
            FieldError(field=name, code="repeated", message=f"{name} may be given only once.")
            for name in sorted(known)
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

    def either(
        self, name: str, parse: Callable[[str], T], alias: str, parse_alias: Callable[[str], T]
    ) -> T | None:
        """`name`, or `alias` where that is read; None when neither is given; both: a conflict."""
        if alias not in self.known or alias not in self.params:
            return self.read(name, parse, None)
        if name in self.params:
            self.conflict(alias, f"Give {name} or {alias}, not both.")
            return None
        return self.read(alias, parse_alias, None)

    def conflict(self, name: str, message: str) -> None:
        """Note that `name` contradicts another parameter."""
        self.errors.append(FieldError(field=name, code="conflict", message=message))


def list_query(
    params: QueryParams, *, frontend_names: bool = False
) -> tuple[TaskQuery, str | None]:
    """The list query and cursor from the query string; every broken rule is reported at once.

    With `frontend_names`, `search`, `completed` and `order` and the frontends' sort names are
    read too (SPEC §11).
    """
    items = params.multi_items()
    if not items:
        # The commonest list of all, the first page as it comes, is built once.
        return _DEFAULT_QUERY, None
    if len(items) == 1 and items[0][0] == "cursor" and items[0][1]:
        # And the pages after it.
        return _DEFAULT_QUERY, items[0][1]
    known = LIST_PARAMETERS | FRONTEND_PARAMETERS if frontend_names else LIST_PARAMETERS
    reader = _Reader(params, known)
    task_filter = TaskFilter(
        status=reader.either("status", _status, "completed", _completion) or _DEFAULT_FILTER.status,
        text=reader.either("q", _q, "search", _search),
        priorities=reader.read("priority", _priorities, _DEFAULT_FILTER.priorities),
        tags=reader.read("tag", _tags, _DEFAULT_FILTER.tags),
        due=reader.read("due", _due, _DEFAULT_FILTER.due),
    )
    query = TaskQuery(
        list_id=reader.read("list", _list, None),
        parent=reader.read("parent", _parent, _ANY_PARENT),
        filter=task_filter,
        sort=_frontend_sort(reader)
        if frontend_names
        else reader.read("sort", _sort, _DEFAULT_SORT),
        tz=reader.read("tz", _zone, _DEFAULT_QUERY.tz),
        limit=reader.read("limit", _limit, _DEFAULT_QUERY.limit),
    )
    cursor = reader.read("cursor", _cursor, None)
    if "list" not in params:
        # sort=position needs a list; a list given but broken is reported as such already.
        reader.errors += scope_errors(query.sort, query.list_id)
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
_ANY_PARENT: Final[ParentScope] = Parent.ANY
_DEFAULT_FILTER: Final = _DEFAULT_QUERY.filter
_DEFAULT_SORT: Final = _DEFAULT_QUERY.sort


def _text(name: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not 1 <= len(raw) <= TEXT_MAX:
            raise InvalidValue("invalid_length", f"{name} must be 1 to {TEXT_MAX} characters.")
        # No title or description holds these, so such a search could never match.
        if has_control(raw, spacing_allowed=True):
            raise InvalidValue(
                "control_character",
                f"{name} cannot contain control characters other than tab and line breaks.",
            )
        return raw

    return parse


_q: Final = _text("q")
_search_text: Final = _text("search")


def _search(raw: str) -> str | None:
    # A frontend's empty search box arrives as `search=`: no search, as its old backend read it.
    return _search_text(raw) if raw else None


def _completion(raw: str) -> Status:
    try:
        return COMPLETIONS[raw]
    except KeyError:
        raise InvalidValue("invalid_choice", "completed must be true or false.") from None


def _order(raw: str) -> bool:
    try:
        return ORDERS[raw]
    except KeyError:
        raise InvalidValue("invalid_choice", f"order must be {' or '.join(ORDERS)}.") from None


def _frontend_sort(reader: _Reader) -> Sort:
    # `sort` is a frontend's name or a sort of SPEC §3.1; `order` gives the direction, which a
    # `-` in `sort` must not give as well.
    descending = reader.read("order", _order, None)
    raw = reader.params.get("sort")
    if raw is None:
        sort = _DEFAULT_SORT
    elif raw in FRONTEND_SORTS:
        sort = FRONTEND_SORTS[raw]
    else:
        sort = reader.read("sort", _any_sort, _DEFAULT_SORT)
    if descending is None:
        return sort
    if raw is not None and raw.startswith("-"):
        reader.conflict("order", "Give the direction with order or with a '-' in sort, not both.")
        return sort
    return attrs.evolve(sort, descending=descending)


def _any_sort(raw: str) -> Sort:
    try:
        return Sort.parse(raw)
    except ValueError:
        names = ", ".join([*FRONTEND_SORTS, *SORTS])
        raise InvalidValue("invalid_choice", f"sort must be one of {names}.") from None


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
            "invalid_choice", f"priority is a comma-separated list of {', '.join(Priority)}."
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


def _list(raw: str) -> ListId:
    found = parse_list_id(raw)
    if found is None:
        raise InvalidValue("invalid", "list must be the id of a list: a positive integer.")
    return found


def _parent(raw: str) -> ParentScope:
    if raw == Parent.NONE.value:
        return Parent.NONE
    found = parse_task_id(raw)
    if found is None:
        raise InvalidValue(
            "invalid", "parent must be the id of a task (a positive integer) or none."
        )
    return found


def _cursor(raw: str) -> str:
    if not raw:
        raise InvalidValue("invalid", "The cursor is empty.")
    return raw
