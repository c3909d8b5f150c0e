"""Tasks in a unit of work's private copy of the state, seen through list membership."""

from __future__ import annotations

from datetime import datetime

import attrs

from adapters.memory.state import State
from domain.lists import Role
from domain.queries import TaskCounts, TaskQuery
from domain.sync import Kind
from domain.tasks import Task
from domain.types import ListId, TaskId, UserId
from domain.users import User
from taskservice.ports import Touched


def _in_order(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: (t.position, t.id))


class MemoryTaskRepository:
    """Tasks in a unit of work's private copy of the state."""

    def __init__(self, state: State, touched: Touched | None = None) -> None:
        self._state = state
        self._touched = Touched() if touched is None else touched

    async def add(self, task: Task, creator: User) -> Task:
        """Store a new task with the next id, and its creator if first seen."""
        self._state.users.setdefault(creator.id, creator)
        self._state.last_id += 1
        stored = attrs.evolve(task, id=TaskId(self._state.last_id))
        self._state.tasks[stored.id] = stored
        changed = self._state.next_change()
        self._state.task_changed[stored.id] = changed
        self._state.list_changed[stored.list_id] = changed
        self._touched.list(task.list_id)
        return stored

    async def get_visible(self, user_id: UserId, task_id: TaskId) -> tuple[Task, Role] | None:
        """The task and the user's role in its list, if the user is a member of it."""
        task = self._state.tasks.get(task_id)
        role = None if task is None else self._state.role(user_id, task.list_id)
        return None if task is None or role is None else (task, role)

    async def replace(self, task: Task, previous: Task) -> bool:
        """Store `task` if the stored one is still at the version of `previous`."""
        current = self._state.tasks.get(task.id)
        if current is None or current.version != previous.version:
            return False
        state = self._state
        state.tasks[task.id] = task
        changed = state.next_change()
        state.task_changed[task.id] = changed
        state.list_changed[task.list_id] = changed
        if task.list_id != current.list_id:
            state.list_changed[current.list_id] = changed
            state.tombstone(
                changed, Kind.TASK, task.id, list_id=current.list_id, at=task.updated_at
            )
        self._touched.list(task.list_id, current.list_id)
        return True

    async def remove(self, task: Task, by: UserId, at: datetime) -> bool:
        """Move `task` and its subtasks to the trash if the stored one is still at its version."""
        state = self._state
        current = state.tasks.get(task.id)
        if current is None or current.version != task.version:
            return False
        family = [current, *await self.subtasks(task.id)]
        state.bin(family, by, at, root=task.id)
        changed = state.next_change()
        for gone in family:
            state.tombstone(changed, Kind.TASK, gone.id, list_id=gone.list_id, at=at)
        state.list_changed[current.list_id] = changed
        self._touched.list(current.list_id)
        return True

    async def page(self, user_id: UserId, query: TaskQuery) -> list[Task]:
        """The matching tasks of the user's lists in scope, in the query's order, after its
        position."""
        lists = self._scope(user_id, query.list_id)
        rows = sorted(
            (
                t
                for t in self._state.tasks.values()
                if t.list_id in lists and query.matches(t) and query.is_beyond(t)
            ),
            key=query.order_key,
            reverse=query.sort.descending,
        )
        return rows[: query.limit]

    async def counts(self, user_id: UserId, list_id: ListId | None = None) -> TaskCounts:
        """How many tasks of the user's lists in scope are pending and completed."""
        return self._state.counts(self._scope(user_id, list_id))

    async def page_with_counts(
        self, user_id: UserId, query: TaskQuery
    ) -> tuple[list[Task], TaskCounts]:
        """`page` and `counts`; in memory there is no round trip to save."""
        return await self.page(user_id, query), await self.counts(user_id, query.list_id)

    async def last_position(self, list_id: ListId, parent_id: TaskId | None) -> str | None:
        """The greatest position among the siblings."""
        return max((t.position for t in self._siblings(list_id, parent_id)), default=None)

    async def position_after(
        self,
        list_id: ListId,
        parent_id: TaskId | None,
        position: str | None,
        excluding: TaskId,
    ) -> str | None:
        """The least sibling position above `position` (any when None), `excluding` left out."""
        return min(
            (
                t.position
                for t in self._siblings(list_id, parent_id)
                if t.id != excluding and (position is None or t.position > position)
            ),
            default=None,
        )

    async def subtasks(self, parent_id: TaskId) -> list[Task]:
        """The subtasks of `parent_id` in position order."""
        return _in_order([t for t in self._state.tasks.values() if t.parent_id == parent_id])

    async def in_list(self, list_id: ListId) -> list[Task]:
        """Every task of the list in position order."""
        return _in_order([t for t in self._state.tasks.values() if t.list_id == list_id])

    def _scope(self, user_id: UserId, list_id: ListId | None) -> set[ListId]:
        lists = self._state.member_lists(user_id)
        return lists if list_id is None else lists & {list_id}

    def _siblings(self, list_id: ListId, parent_id: TaskId | None) -> list[Task]:
        return [
            t
            for t in self._state.tasks.values()
            if t.list_id == list_id and t.parent_id == parent_id
        ]
