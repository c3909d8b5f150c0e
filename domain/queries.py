"""What a task list asks for: filters, order and the keyset position of a page.

Every storage adapter answers the same query; the semantics live here, in plain Python, so that the
in-memory adapter can apply them directly and the SQL adapter can translate them into conditions.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, available_timezones

import attrs

from domain.errors import FieldError
from domain.tasks import Priority, Task
from domain.types import ListId, TaskId

LIMIT_DEFAULT: Final = 50
LIMIT_MAX: Final = 100
TEXT_MAX: Final = 100
SEARCH_SEPARATOR: Final = "\x1f"
"""Joins title and description in the search text; a control character neither may contain."""

_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
_LATEST: Final = datetime.max.replace(tzinfo=UTC)


class Status(enum.Enum):
    """Which tasks a list shows by completion."""

    ALL = "all"
    PENDING = "pending"
    COMPLETED = "completed"


class Due(enum.Enum):
    """Which tasks a list shows by their due date or moment, in calendar days of the caller's zone."""

    OVERDUE = "overdue"
    TODAY = "today"
    NEXT_7_DAYS = "next_7_days"
    NONE = "none"
    ANY = "any"


class SortField(enum.Enum):
    """A column a list can be ordered by; `id` always breaks ties in the same direction."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    DUE = "due"
    PRIORITY = "priority"
    TITLE = "title"
    POSITION = "position"
    """Manual order (domain.placement): only within one list (TaskQuery.list_id)."""


class Parent(enum.Enum):
    """Which tasks by their parent, when the scope names no parent task."""

    ANY = "any"
    """Top-level tasks and subtasks."""
    NONE = "none"
    """Top-level tasks only (`parent=none`)."""


ParentScope = Parent | TaskId
"""The parent part of a query's scope: a Parent, or the task whose subtasks are listed."""


SortValue = datetime | int | str
Position = tuple[SortValue | None, TaskId]
"""Where a task sits in a list: its sort value (None: no due, under the due sort), then its id."""


def fold(text: str) -> str:
    """Text as the search compares it: Unicode case folding, so that matching ignores case."""
    return text.casefold()


def search_text(task: Task) -> str:
    """The folded title and description that a text search looks in."""
    return fold(task.title) + SEARCH_SEPARATOR + fold(task.description or "")


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA zone names a list may be asked in (`localtime` is this machine's, not a name)."""
    return frozenset(available_timezones() - {"localtime"})


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of `day` in `tz`, in UTC; clamped where it falls outside the calendar."""
    # A day a zone skipped outright (Pacific/Apia, 2011-12-30) starts when the next one does, so
    # the two days' all-day tasks tie (id decides here, the date first in SQL): left as it is.
    try:
        # fold=0 resolves a midnight that a clock change skips or repeats to its earliest moment.
        return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    except OverflowError:
        return _EARLIEST if day.year == date.min.year else _LATEST


def latest_day_started_by(moment: datetime, tz: ZoneInfo) -> date | None:
    """The last calendar day in `tz` that has begun at `moment`; None when none has."""
    base = moment.astimezone(UTC).date()
    # A zone's offset from UTC is less than a day, so the answer is within a day of the UTC date.
    for offset in (1, 0, -1):
        day = _add_days(base, offset)
        if day is not None and day_start(day, tz) <= moment:
            return day
    return None


def _add_days(day: date, days: int) -> date | None:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


@attrs.frozen(kw_only=True)
class Sort:
    """An order: a field and a direction."""

    field: SortField = SortField.CREATED_AT
    descending: bool = True

    @classmethod
    def parse(cls, text: str) -> Sort:
        """The order written as `field` or `-field`; ValueError for anything else."""
        descending = text.startswith("-")
        return cls(field=SortField(text.removeprefix("-")), descending=descending)

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.field.value

    def value_of(self, task: Task, tz: ZoneInfo) -> SortValue | None:
        """The value `task` is ordered by under this sort; None for no due under the due sort."""
        return _SORT_VALUE[self.field](task, tz)


def _due_moment(task: Task, tz: ZoneInfo) -> datetime | None:
    if task.due_at is not None:
        return task.due_at
    return None if task.due_date is None else day_start(task.due_date, tz)


_SORT_VALUE: Final[dict[SortField, Callable[[Task, ZoneInfo], SortValue | None]]] = {
    SortField.CREATED_AT: lambda t, _: t.created_at,
    SortField.UPDATED_AT: lambda t, _: t.updated_at,
    SortField.DUE: _due_moment,
    SortField.PRIORITY: lambda t, _: t.priority.rank,
    SortField.TITLE: lambda t, _: t.title,
    SortField.POSITION: lambda t, _: t.position,
}


def _ranked(priorities: Iterable[Priority]) -> tuple[Priority, ...]:
    return tuple(sorted(set(priorities), key=lambda p: p.rank))


def _unique_sorted(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(tags)))


@attrs.frozen(kw_only=True)
class TaskFilter:
    """Which of a user's tasks a list includes; every given condition must hold.

    Lists are kept in one canonical order so that equal filters have equal reprs, which cursors
    are bound to.
    """

    status: Status = Status.ALL
    text: str | None = None
    priorities: tuple[Priority, ...] = attrs.field(default=(), converter=_ranked)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_unique_sorted)
    due: Due | None = None

    def matches(self, task: Task) -> bool:
        """Whether `task` passes every condition but `due`, which needs a moment and a zone."""
        if self.status is not Status.ALL and task.completed != (self.status is Status.COMPLETED):
            return False
        if self.text is not None and fold(self.text) not in search_text(task):
            return False
        if self.priorities and task.priority not in self.priorities:
            return False
        return not self.tags or any(tag in self.tags for tag in task.tags)


Bounds = tuple[Any, Any]
"""A half-open range [from, before); None on either side leaves it open."""


@attrs.frozen(kw_only=True)
class DueWindow:
    """A `due` filter resolved at one moment in one zone: the due dates and moments it admits."""

    due: Due
    dates: tuple[date | None, date | None] = (None, None)
    moments: tuple[datetime | None, datetime | None] = (None, None)

    @property
    def pending_only(self) -> bool:
        """Whether only tasks not completed pass (a completed task is never overdue)."""
        return self.due is Due.OVERDUE

    def matches(self, task: Task) -> bool:
        """Whether `task` is due within this window."""
        if self.due is Due.NONE:
            return task.due_date is None and task.due_at is None
        if self.pending_only and task.completed:
            return False
        if task.due_date is not None:
            return _within(task.due_date, self.dates)
        return task.due_at is not None and _within(task.due_at, self.moments)


def _within(value: Any, bounds: Bounds) -> bool:
    start, before = bounds
    return (start is None or start <= value) and (before is None or value < before)


def due_window(due: Due, now: datetime, tz: ZoneInfo) -> DueWindow:
    """The window `due` means at `now`, with days counted in `tz`."""
    today = now.astimezone(tz).date()
    if due is Due.OVERDUE:
        return DueWindow(due=due, dates=(None, today), moments=(None, now))
    if due in (Due.TODAY, Due.NEXT_7_DAYS):
        end = _add_days(today, 1 if due is Due.TODAY else 7)
        return DueWindow(
            due=due,
            dates=(today, end),
            moments=(day_start(today, tz), None if end is None else day_start(end, tz)),
        )
    return DueWindow(due=due)


def _utc() -> ZoneInfo:
    return ZoneInfo("UTC")


def cursor_binding(
    chosen: TaskFilter,
    tz_key: str,
    sort: Sort,
    list_id: ListId | None = None,
    parent: ParentScope = Parent.ANY,
) -> str:
    """What a cursor is bound to: the filters, zone, order and scope of the query that issued it."""
    scope = "" if list_id is None and parent is Parent.ANY else f"|{list_id}|{parent!r}"
    return f"{chosen!r}|{tz_key}|{sort}{scope}"


def scope_errors(sort: Sort, list_id: ListId | None) -> list[FieldError]:
    """The broken rules of a query's scope and order: `sort=position` needs one list."""
    if sort.field is SortField.POSITION and list_id is None:
        return [
            FieldError(
                field="sort",
                code="needs_list",
                message="sort=position orders the tasks of one list: name it with list=<id>.",
            )
        ]
    return []


@attrs.frozen(kw_only=True)
class TaskQuery:
    """One page request: scope, filter, order, zone, the position to continue after, a page size.

    The scope is every list the user belongs to, or the one `list_id`; `parent` narrows it to
    top-level tasks or one task's subtasks. `now` is the moment `due` windows are measured
    from; the use case sets it from the clock.
    """

    list_id: ListId | None = None
    parent: ParentScope = Parent.ANY
    filter: TaskFilter = TaskFilter()
    sort: Sort = Sort()
    tz: ZoneInfo = attrs.field(factory=_utc)
    now: datetime | None = None
    after: Position | None = None
    limit: int = LIMIT_DEFAULT

    @property
    def binding(self) -> str:
        """What a cursor of this query is bound to: the filters, the zone and the order."""
        return cursor_binding(self.filter, self.tz.key, self.sort, self.list_id, self.parent)

    def in_scope(self, task: Task) -> bool:
        """Whether `task` is within the list and parent the query names (membership aside)."""
        if self.list_id is not None and task.list_id != self.list_id:
            return False
        if self.parent is Parent.ANY:
            return True
        if self.parent is Parent.NONE:
            return task.parent_id is None
        return task.parent_id == self.parent

    def due_window(self) -> DueWindow | None:
        """The resolved `due` filter, or None without one."""
        if self.filter.due is None:
            return None
        if self.now is None:
            raise ValueError("A due filter needs the current moment: set TaskQuery.now.")
        return due_window(self.filter.due, self.now, self.tz)

    def matches(self, task: Task) -> bool:
        """Whether `task` is in scope and passes the filter, `due` included."""
        window = self.due_window()
        return (
            self.in_scope(task)
            and self.filter.matches(task)
            and (window is None or window.matches(task))
        )

    def position_of(self, task: Task) -> Position:
        """The keyset position of `task` under this query's order."""
        return (self.sort.value_of(task, self.tz), task.id)

    def order_key(self, task: Task) -> tuple[bool, Any, TaskId]:
        """A key that sorts tasks in this query's order when sorted with reverse=descending."""
        return self._key(self.position_of(task))

    def is_beyond(self, task: Task) -> bool:
        """Whether `task` comes after the query's position (every task does on a first page)."""
        if self.after is None:
            return True
        key, after = self.order_key(task), self._key(self.after)
        return key < after if self.sort.descending else key > after

    def _key(self, position: Position) -> tuple[bool, Any, TaskId]:
        value, task_id = position
        # Tasks without a due come last in both directions: the flag is flipped for a reversed sort.
        return ((value is None) != self.sort.descending, value, task_id)


@attrs.frozen(kw_only=True)
class TaskCounts:
    """How many tasks of the lists in scope are pending and completed, unfiltered."""

    pending: int = 0
    completed: int = 0

    def __add__(self, other: TaskCounts) -> TaskCounts:
        return TaskCounts(
            pending=self.pending + other.pending, completed=self.completed + other.completed
        )
