"""The trash (SPEC §8): deleted tasks, kept for a while, restored or purged as one entry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from domain.tasks import Task, field_values
from domain.types import TaskId, UserId

KEPT_FOR: Final = timedelta(days=30)
"""How long a deleted task stays in the trash before it is purged."""
PURGE_BATCH: Final = 100
"""Expired entries purged per delete: more than one, so purging outpaces deleting."""

TrashPosition = tuple[datetime, TaskId]
"""Where a page of the trash stops: the last entry's (deleted_at, id); pages run newest first."""


@attrs.frozen(kw_only=True)
class TrashedTask:
    """A task as it was when deleted, with who deleted it and when.

    `root` is the task whose deletion put it here: itself, or its parent, which was deleted
    with its subtasks; an entry of the trash is a root and the subtasks deleted with it.
    """

    task: Task
    deleted_at: datetime
    deleted_by: UserId
    root: TaskId

    @property
    def is_root(self) -> bool:
        """Whether this task is an entry of its own (not a subtask deleted with its parent)."""
        return self.root == self.task.id

    @property
    def position(self) -> TrashPosition:
        """Where a page that ends with this entry stops."""
        return (self.deleted_at, self.task.id)


def trashed_values(entry: TrashedTask) -> dict[str, Any]:
    """Every field of the task as it was, then who deleted it and when, by name."""
    return field_values(entry.task) | {
        "deleted_at": entry.deleted_at,
        "deleted_by": entry.deleted_by,
    }
