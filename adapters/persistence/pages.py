"""Pages of tasks, scoped by list membership first.

A page reads the lists the user belongs to (`scope`: their memberships, or the one list asked
for, with each list's counters), then in each list a keyset scan on an index (list_id, sort
column, id) that stops after `limit` rows, and merges those by one ORDER BY … LIMIT. A page so
costs the same at any depth, and its rows come from at most `limit` per list, never from sorting
all of a user's tasks. PostgreSQL scans per list with LATERAL; SQLite, which has no LATERAL,
with a correlated `id IN (… LIMIT n)` per list, which it evaluates per scope row alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)

from adapters.persistence.executors import Prepared
from adapters.persistence.rows import TASK_COLUMNS
from adapters.persistence.tables import NO_DUE, lists, memberships, tasks
from domain.queries import (
    Due,
    DueWindow,
    Parent,
    ParentScope,
    Position,
    SortField,
    Status,
    day_start,
    latest_day_started_by,
)

SORT_COLUMNS: Final = {
    SortField.CREATED_AT: tasks.c.created_at,
    SortField.UPDATED_AT: tasks.c.updated_at,
    SortField.PRIORITY: tasks.c.priority,
    SortField.TITLE: tasks.c.title,
    SortField.POSITION: tasks.c.position,
}
Conditions = list[ColumnElement[bool]]
USER: Final = bindparam("user_id", type_=memberships.c.user_id.type)
LIST: Final = bindparam("list_id", type_=memberships.c.list_id.type)
PARENT: Final = bindparam("parent_id", type_=tasks.c.parent_id.type)
LIMIT: Final = bindparam("limit", type_=Integer)
ZERO: Final = literal_column("0", Integer)
"""Constants in SQL (a prepared statement's parameters all come from the call)."""
ONE: Final = literal_column("1", Integer)


def scope(*, one_list: bool) -> CTE:
    """The lists in scope with their counters: the user's memberships (parameter `user_id`),
    or of them only `list_id`."""
    chosen = (
        select(
            memberships.c.list_id,
            lists.c.pending.label("list_pending"),
            lists.c.completed.label("list_completed"),
        )
        .join_from(memberships, lists, lists.c.id == memberships.c.list_id)
        .where(memberships.c.user_id == USER)
    )
    if one_list:
        chosen = chosen.where(memberships.c.list_id == LIST)
    return chosen.cte("scope")


def counts_of(lists_in_scope: CTE) -> tuple[Any, Any]:
    """The pending and completed counts summed over the lists in scope, as two columns."""
    return (
        select(func.coalesce(func.sum(lists_in_scope.c.list_pending), ZERO)).scalar_subquery(),
        select(func.coalesce(func.sum(lists_in_scope.c.list_completed), ZERO)).scalar_subquery(),
    )


Keys = tuple[Any, ...]
"""The columns of `tasks` a page is ordered by, the id last."""


class Merge(Protocol):
    """Builds a page: per list in scope the rows meeting `conditions` in the order of `keys`,
    at most `limit` of them, merged; `extra` columns follow the task's in each row."""

    def __call__(
        self,
        lists_in_scope: CTE,
        *,
        conditions: Conditions,
        keys: Keys,
        descending: bool,
        limit: Any,
        extra: Sequence[Any],
    ) -> Select[Any]: ...


def lateral_page(
    lists_in_scope: CTE,
    *,
    conditions: Conditions,
    keys: Keys,
    descending: bool,
    limit: Any,
    extra: Sequence[Any],
) -> Select[Any]:
    """PostgreSQL: per list in scope, a LATERAL keyset scan of at most `limit` keys; merged,
    and only the chosen rows read whole.

    The scans read keys alone, from the index (an index-only scan, which INCLUDEs `completed`
    and `parent_id` for the status and parent filters): the rows of every list but the page's
    are never fetched.
    """
    per_list = (
        select(*keys)
        .where(tasks.c.list_id == lists_in_scope.c.list_id, *conditions)
        .order_by(*ordered(keys, descending))
        .limit(limit)
        .lateral("keyed")
    )
    merged = [per_list.c[key.name] for key in keys]
    chosen = (
        select(per_list.c.id)
        .select_from(lists_in_scope.join(per_list, true()))
        .order_by(*ordered(merged, descending))
        .limit(limit)
        .subquery("chosen")
    )
    return (
        select(*TASK_COLUMNS, *extra)
        .join_from(chosen, tasks, tasks.c.id == chosen.c.id)
        .order_by(*ordered(keys, descending))
    )


def correlated_page(
    lists_in_scope: CTE,
    *,
    conditions: Conditions,
    keys: Keys,
    descending: bool,
    limit: Any,
    extra: Sequence[Any],
) -> Select[Any]:
    """SQLite: per list in scope, the ids of at most `limit` rows by a correlated subquery."""
    per_list = (
        select(tasks.c.id)
        .where(tasks.c.list_id == lists_in_scope.c.list_id, *conditions)
        .order_by(*ordered(keys, descending))
        .limit(limit)
        .correlate(lists_in_scope)
    )
    shown = tasks.alias("shown")
    merged = [shown.c[key.name] for key in keys]
    return (
        select(*(shown.c[column.name] for column in TASK_COLUMNS), *extra)
        .select_from(lists_in_scope.join(shown, shown.c.id.in_(per_list)))
        .order_by(*ordered(merged, descending))
        .limit(limit)
    )


def ordered(keys: Sequence[Any], descending: bool) -> list[Any]:
    """The keys as ORDER BY terms, all in the one direction."""
    return [key.desc() for key in keys] if descending else list(keys)


def keys_of(column: Any) -> Keys:
    """The order of a page by `column` (None: by id alone), ties broken by id."""
    return (tasks.c.id,) if column is None else (column, tasks.c.id)


Shape = tuple[SortField, bool, Status, bool, bool, bool, str]
"""A simple page's statement: sort field, descending, status, continued (after a position),
counted, one list, and the parent scope's kind (parent_kind)."""


def parent_kind(parent: ParentScope) -> str:
    """How a page's parent scope is written: any parent, top level only, or one parent (id)."""
    return parent.value if isinstance(parent, Parent) else "task"


def parent_conditions(kind: str, parent: Any = PARENT) -> Conditions:
    """The conditions of a parent scope of `kind`: `parent` is the one parent's id."""
    if kind == Parent.NONE.value:
        return [tasks.c.parent_id.is_(None)]
    if kind == "task":
        return [tasks.c.parent_id == parent]
    return []


@attrs.frozen
class Pages:
    """One dialect's way to merge per-list scans, and its simple pages, prepared once a shape."""

    merge: Merge
    _prepared: dict[Shape, Prepared] = attrs.field(factory=dict, init=False)

    def simple(self, shape: Shape) -> Prepared:
        """The page of a list sorted by a column and filtered by status at most."""
        statement = self._prepared.get(shape)
        if statement is None:
            statement = self._prepared[shape] = self._simple(shape)
        return statement

    def _simple(self, shape: Shape) -> Prepared:
        field, descending, status, continued, counted, one_list, kind = shape
        column = SORT_COLUMNS[field]
        conditions = [*status_conditions(status), *parent_conditions(kind)]
        if continued:
            value = bindparam("after_value", type_=column.type)
            after_id = bindparam("after_id", type_=tasks.c.id.type)
            conditions.append(after(column, value, after_id, descending=descending))
        lists_in_scope = scope(one_list=one_list)
        extra = counts_of(lists_in_scope) if counted else ()
        page = self.merge(
            lists_in_scope,
            conditions=conditions,
            keys=keys_of(column),
            descending=descending,
            limit=LIMIT,
            extra=extra,
        )
        return Prepared(page)

    def rows(
        self, *, one_list: bool, conditions: Conditions, column: Any, descending: bool
    ) -> Select[Any]:
        """A page built for one call (filters of any kind); parameters `user_id`, `list_id`,
        `limit`, and `parent_id` if a condition names it."""
        return self.merge(
            scope(one_list=one_list),
            conditions=conditions,
            keys=keys_of(column),
            descending=descending,
            limit=LIMIT,
            extra=(),
        )


def status_conditions(status: Status) -> Conditions:
    """The conditions of a status filter."""
    if status is Status.PENDING:
        return [tasks.c.completed.is_(False)]
    if status is Status.COMPLETED:
        return [tasks.c.completed.is_(True)]
    return []


def due_conditions(window: DueWindow) -> Conditions:
    """The conditions of a resolved due filter."""
    if window.due is Due.NONE:
        return [NO_DUE]
    dated = [tasks.c.due_date.is_not(None), *_bounded(tasks.c.due_date, window.dates)]
    timed = [tasks.c.due_at.is_not(None), *_bounded(tasks.c.due_at, window.moments)]
    conditions = [or_(and_(*dated), and_(*timed))]
    if window.pending_only:
        conditions.append(tasks.c.completed.is_(False))
    return conditions


def _bounded(column: Any, bounds: tuple[Any, Any]) -> Conditions:
    start, before = bounds
    return [
        *([] if start is None else [column >= start]),
        *([] if before is None else [column < before]),
    ]


def timed_after(position: Position | None, descending: bool) -> Conditions:
    """The timed tasks past `position` under the due sort."""
    if position is None:
        return []
    value, after_id = position
    cursor = (literal(value, tasks.c.due_at.type), literal(after_id, tasks.c.id.type))
    return [after(tasks.c.due_at, *cursor, descending=descending)]


def dated_after(position: Position | None, tz: ZoneInfo, descending: bool) -> Conditions:
    """The all-day tasks past `position` under the due sort, in zone `tz`."""
    # An all-day task is past the position when its day starts past the moment, or at the
    # moment with a greater id: translated into dates, since the day start is not a column.
    if position is None:
        return []
    moment, after_id = position
    assert isinstance(moment, datetime)
    day = latest_day_started_by(moment, tz)
    if day is None:
        return [false()] if descending else []
    if day_start(day, tz) == moment:
        cursor = (literal(day, tasks.c.due_date.type), literal(after_id, tasks.c.id.type))
        return [after(tasks.c.due_date, *cursor, descending=descending)]
    return [tasks.c.due_date <= day] if descending else [tasks.c.due_date > day]


def after(
    column: Any, value: ColumnElement[Any], after_id: ColumnElement[Any], *, descending: bool
) -> ColumnElement[bool]:
    """The rows past (value, after_id) in the order by `column`, then id."""
    # A row-value comparison is one index range condition on PostgreSQL (the spelled-out
    # `col < v OR (col = v AND id < i)` only bounds list_id there, so deep pages would scan),
    # and SQLite (3.15+) bounds its index range by the sort column alike.
    position = tuple_(column, tasks.c.id)
    cursor = tuple_(value, after_id)
    return position < cursor if descending else position > cursor
