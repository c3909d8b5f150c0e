"""The change feed in a unit of work's private copy of the state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from adapters.memory.state import State, Tombstone
from domain.lists import ListView
from domain.sync import Change, FeedPosition, Kind, Op
from domain.tasks import Task
from domain.types import UserId


class MemoryChangeRepository:
    """A user's feed, computed from the numbers and tombstones the other repositories keep."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def page(self, user_id: UserId, after: FeedPosition | None, limit: int) -> list[Change]:
        """The entries after `after` in position order, at most `limit`."""
        entries = sorted(
            (e for e in self._entries(user_id) if after is None or e.position > after),
            key=lambda e: e.position,
        )
        return entries[:limit]

    async def horizon(self) -> int:
        """The greatest number of a purged tombstone."""
        return self._state.horizon

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` tombstones recorded by `expired_by`, oldest first."""
        state = self._state
        doomed = sorted(
            (k for k, t in state.tombstones.items() if t.at <= expired_by),
            key=lambda k: state.tombstones[k].at,
        )[:limit]
        for key in doomed:
            state.horizon = max(state.horizon, state.tombstones.pop(key).changed)
        return len(doomed)

    def _entries(self, user_id: UserId) -> Iterator[Change]:
        state = self._state
        for (list_id, member), membership in state.memberships.items():
            if member != user_id:
                continue
            joined = state.joined_changed[(list_id, member)]
            task_list = state.lists[list_id]
            view = ListView(
                list=task_list,
                role=membership.role,
                members=sum(lid == list_id for lid, _ in state.memberships),
                counts=state.counts({list_id}),
            )
            key = max(state.list_changed[list_id], joined)
            yield _entry(key, Kind.LIST, list_id, Op.UPSERT, list_view=view)
            for task in state.tasks.values():
                if task.list_id == list_id:
                    key = max(state.task_changed[task.id], joined)
                    yield _entry(key, Kind.TASK, task.id, Op.UPSERT, task=task)
            # Only what left the list after the member joined it concerns them.
            yield from self._deletes(_left(list_id, joined))
        yield from self._deletes(lambda t: t.kind is Kind.LIST and t.user_id == user_id)

    def _deletes(self, chosen: Callable[[Tombstone], bool]) -> Iterator[Change]:
        for tomb in self._state.tombstones.values():
            if chosen(tomb):
                yield _entry(tomb.changed, tomb.kind, tomb.entity_id, Op.DELETE)


def _left(list_id: int, joined: int) -> Callable[[Tombstone], bool]:
    return lambda t: t.kind is Kind.TASK and t.list_id == list_id and t.changed > joined


def _entry(
    changed: int,
    kind: Kind,
    entity_id: int,
    op: Op,
    *,
    task: Task | None = None,
    list_view: ListView | None = None,
) -> Change:
    return Change(
        kind=kind,
        id=entity_id,
        op=op,
        position=FeedPosition(changed, kind, entity_id, op),
        task=task,
        list=list_view,
    )
