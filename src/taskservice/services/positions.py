"""Where a task goes among its siblings: reading the neighbours, making a key, respacing.

The keys and their form are the domain's (domain.placement); this module asks the repository for
the neighbours of a spot and writes the siblings again when their keys have grown too long.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final

from domain.placement import key_between, key_of, spaced_keys, under
from domain.tasks import Place, Task
from domain.types import ListId, TaskId
from taskservice.ports import UnitOfWork


class LostRace(Exception):
    """Another writer changed a task between our read and our write; nothing may be kept."""


class _End(enum.Enum):
    END = enum.auto()


END: Final = _End.END
"""The spot after the last sibling (a new task's, or a moved one's in a new group)."""
Spot = Task | None | _End
"""Where among the siblings: after a sibling task, first (None), or END."""


async def position_at(
    uow: UnitOfWork,
    list_id: ListId,
    parent: Task | None,
    spot: Spot,
    *,
    moving: TaskId | None,
    now: datetime,
) -> str:
    """The position for a task at `spot` among the siblings in `list_id` under `parent`.

    `moving` is the task being placed when it is stored already: never its own neighbour.
    When the key would grow too long, the siblings are respaced first, in this unit of work.
    """
    parent_id = None if parent is None else parent.id
    lower, upper = await _neighbours(uow, list_id, parent_id, spot, moving)
    key = key_between(_key(lower), _key(upper))
    if key is None:
        order = await _respace(uow, list_id, parent, moving, now)
        key = _between_in(order, spot)
    return under(None if parent is None else parent.position, key)


def _key(position: str | None) -> str | None:
    return None if position is None else key_of(position)


async def _neighbours(
    uow: UnitOfWork, list_id: ListId, parent_id: TaskId | None, spot: Spot, moving: TaskId | None
) -> tuple[str | None, str | None]:
    tasks, other = uow.tasks, moving or TaskId(0)
    if spot is END:
        return await tasks.last_position(list_id, parent_id), None
    lower = None if spot is None else spot.position
    return lower, await tasks.position_after(list_id, parent_id, lower, other)


def _between_in(order: list[tuple[TaskId, str]], spot: Spot) -> str:
    # The neighbours again, among freshly spaced keys, where a key between them is short.
    keys = [key for _, key in order]
    if spot is END:
        lower, upper = (keys[-1] if keys else None), None
    elif spot is None:
        lower, upper = None, (keys[0] if keys else None)
    else:
        index = next(i for i, (task_id, _) in enumerate(order) if task_id == spot.id)
        lower = keys[index]
        upper = keys[index + 1] if index + 1 < len(keys) else None
    key = key_between(lower, upper)
    assert key is not None, "evenly spaced keys always leave room"
    return key


async def _respace(
    uow: UnitOfWork, list_id: ListId, parent: Task | None, moving: TaskId | None, now: datetime
) -> list[tuple[TaskId, str]]:
    # Fresh keys for the siblings in their order; the moving task (and what sits under it)
    # is left to the move, which writes it anyway.
    if parent is None:
        every = [t for t in await uow.tasks.in_list(list_id) if moving not in (t.id, t.parent_id)]
        siblings = [t for t in every if t.parent_id is None]
    else:
        every = [t for t in await uow.tasks.subtasks(parent.id) if t.id != moving]
        siblings = every
    order = list(zip(siblings, spaced_keys(len(siblings)), strict=True))
    prefix = None if parent is None else parent.position
    for task, key in order:
        position = under(prefix, key)
        await reposition(uow, task, position, now)
        for sub in (t for t in every if t.parent_id == task.id):
            await reposition(uow, sub, under(position, key_of(sub.position)), now)
    return [(task.id, key) for task, key in order]


async def reposition(uow: UnitOfWork, task: Task, position: str, now: datetime) -> None:
    """Write `task` at `position` in its list and under its parent; LostRace if it changed."""
    place = Place(list_id=task.list_id, parent_id=task.parent_id, position=position)
    moved = task.placed(place, user_id=task.user_id, now=now)
    if moved is not task and not await uow.tasks.replace(moved, previous=task):
        raise LostRace()
