"""What a task list asks for: filters, order and the keyset position of a page."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Final

import attrs

from domain.tasks import Task
from domain.types import TaskId

LIMIT_DEFAULT: Final = 50
LIMIT_MAX: Final = 100


class Status(enum.Enum):
    """Which tasks a list shows by completion."""

    ALL = "all"
    PENDING = "pending"
    COMPLETED = "completed"


class SortField(enum.Enum):
    """A column a list can be ordered by; `id` always breaks ties in the same direction."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    PRIORITY = "priority"
    TITLE = "title"


SortValue = datetime | int | str


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

    def value_of(self, task: Task) -> SortValue:
        """The value `task` is ordered by under this sort."""
        return _SORT_VALUE[self.field](task)

    def key_of(self, task: Task) -> tuple[SortValue, TaskId]:
        """The full keyset position of `task`: its sort value, then its id."""
        return (self.value_of(task), task.id)


_SORT_VALUE: Final[dict[SortField, Callable[[Task], SortValue]]] = {
    SortField.CREATED_AT: lambda t: t.created_at,
    SortField.UPDATED_AT: lambda t: t.updated_at,
    SortField.PRIORITY: lambda t: t.priority.rank,
    SortField.TITLE: lambda t: t.title,
}


@attrs.frozen(kw_only=True)
class TaskFilter:
    """Which of a user's tasks a list includes."""

    status: Status = Status.ALL

    def matches(self, task: Task) -> bool:
        """Whether `task` passes this filter."""
        if self.status is Status.PENDING:
            return not task.completed
        if self.status is Status.COMPLETED:
            return task.completed
        return True


@attrs.frozen(kw_only=True)
class TaskQuery:
    """One page request: filter, order, the position to continue after, and a page size."""

    filter: TaskFilter = TaskFilter()
    sort: Sort = Sort()
    after: tuple[SortValue, TaskId] | None = None
    limit: int = LIMIT_DEFAULT


@attrs.frozen(kw_only=True)
class TaskCounts:
    """How many of a user's tasks are pending and completed, unfiltered."""

    pending: int = 0
    completed: int = 0
