"""Deleted tasks in a unit of work's private copy of the state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.memory.state import State
from domain.lists import Role
from domain.tasks import Task
from domain.trash import TrashedTask, TrashPosition
from domain.types import TaskId, UserId
from taskservice.ports import Touched


def _newest_first(entries: list[TrashedTask]) -> list[TrashedTask]:
    return sorted(entries, key=lambda e: e.position, reverse=True)


def _after(entries: list[TrashedTask], after: TrashPosition | None) -> list[TrashedTask]:
    return [e for e in entries if after is None or e.position < after]


class MemoryTrashRepository:
    """The trash in a unit of work's private copy of the state."""

    def __init__(self, state: State, touched: Touched | None = None) -> None:
        self._state = state
        self._touched = Touched() if touched is None else touched

    async def page(
        self,
        user_id: UserId,
        roles: frozenset[Role],
        after: TrashPosition | None,
        limit: int,
    ) -> list[TrashedTask]:
        """The entries the user sees, newest first, after `after`."""
        seen = [e for e in self._seen(user_id, roles) if e.is_root]
        return _newest_first(_after(seen, after))[:limit]

    async def get_visible(
        self, user_id: UserId, task_id: TaskId
    ) -> tuple[TrashedTask, Role] | None:
        """The entry and the user's role in its list, if an entry and a role."""
        entry = self._state.trash.get(task_id)
        if entry is None or not entry.is_root:
            return None
        role = self._role(user_id, entry)
        return None if role is None else (entry, role)

    async def family(self, root: TaskId) -> list[TrashedTask]:
        """The subtasks deleted with the entry, in position order."""
        subtasks = [e for e in self._state.trash.values() if e.root == root and not e.is_root]
        return sorted(subtasks, key=lambda e: (e.task.position, e.task.id))

    async def restore(self, root: TaskId, tasks: Sequence[Task]) -> bool:
        """Swap the entry's trashed rows for `tasks`."""
        if not await self.purge(root):
            return False
        changed = self._state.next_change()
        for task in tasks:
            self._state.tasks[task.id] = task
            self._state.task_changed[task.id] = changed
            self._state.list_changed[task.list_id] = changed
            self._touched.list(task.list_id)
        return True

    async def purge(self, root: TaskId) -> bool:
        """Delete the entry and its subtasks."""
        gone = [k for k, e in self._state.trash.items() if e.root == root]
        for key in gone:
            del self._state.trash[key]
        return bool(gone)

    async def empty(self, user_id: UserId, roles: frozenset[Role]) -> int:
        """Delete every entry the user sees."""
        gone = self._seen(user_id, roles)
        for entry in gone:
            del self._state.trash[entry.task.id]
        return len(gone)

    async def purge_expired(self, deleted_by: datetime, limit: int) -> int:
        """Delete up to `limit` entries deleted by `deleted_by`, earliest first."""
        roots = sorted(
            (e for e in self._state.trash.values() if e.is_root and e.deleted_at <= deleted_by),
            key=lambda e: e.position,
        )[:limit]
        for entry in roots:
            await self.purge(entry.task.id)
        return len(roots)

    async def of_owner(
        self, owner_id: UserId, after: TrashPosition | None, limit: int
    ) -> list[TrashedTask]:
        """The owner's trashed tasks, newest first, after `after`."""
        owned = [e for e in self._state.trash.values() if e.task.user_id == owner_id]
        return _newest_first(_after(owned, after))[:limit]

    def _seen(self, user_id: UserId, roles: frozenset[Role]) -> list[TrashedTask]:
        return [e for e in self._state.trash.values() if self._role(user_id, e) in roles]

    def _role(self, user_id: UserId, entry: TrashedTask) -> Role | None:
        # A list that is gone leaves its trash to its owner.
        list_id = entry.task.list_id
        if list_id in self._state.lists:
            return self._state.role(user_id, list_id)
        return Role.OWNER if entry.task.user_id == user_id else None
