"""Where a task goes: the list and parent of a new task, and the destination of a move.

The rules are SPEC §7's: subtasks are one level deep, a parent is a top-level task of the same
list, a task with subtasks cannot become one, `after` names a sibling at the destination.
"""

from __future__ import annotations

from datetime import datetime

from domain.errors import FieldError, ValidationFailed
from domain.placement import key_of, under
from domain.policy import Action
from domain.tasks import UNSET, Move, Place, Task, TaskChanges
from domain.types import ListId, TaskId, UserId
from domain.users import Caller
from taskservice.ports import UnitOfWork
from taskservice.services.access import default_list, list_for, task_for
from taskservice.services.positions import END, LostRace, Spot, position_at


async def new_place(
    uow: UnitOfWork, caller: Caller, changes: TaskChanges, now: datetime
) -> tuple[Place, UserId]:
    """Where a new task goes (the end of its siblings) and who owns that list."""
    if changes.list_id is UNSET:
        task_list = await default_list(uow, caller, now)
    else:
        task_list, _ = await list_for(uow, caller, changes.list_id, Action.WRITE_TASKS)
    parent_id = None if changes.parent_id is UNSET else changes.parent_id
    parent = await _parent(uow, caller, parent_id)
    _raise(_parent_errors(parent, task_list.id, moving=None))
    position = await position_at(uow, task_list.id, parent, END, moving=None, now=now)
    return Place(list_id=task_list.id, parent_id=parent_id, position=position), task_list.owner_id


async def move_task(uow: UnitOfWork, caller: Caller, task: Task, move: Move, now: datetime) -> Task:
    """`task` moved as `move` asks, written with its subtasks; itself when nothing changes.

    The caller may write tasks in `task`'s list (checked by the use case); here the destination
    list is checked. LostRace when another writer got in between.
    """
    list_id, owner = task.list_id, task.user_id
    if move.list_id is not UNSET and move.list_id != task.list_id:
        target, _ = await list_for(uow, caller, move.list_id, Action.WRITE_TASKS)
        list_id, owner = target.id, target.owner_id
    stays = list_id == task.list_id
    parent_id = (task.parent_id if stays else None) if move.parent_id is UNSET else move.parent_id
    parent = await _parent(uow, caller, parent_id)
    subtasks = await uow.tasks.subtasks(task.id)
    errors = _parent_errors(parent, list_id, moving=task)
    if parent is not None and subtasks:
        errors.append(
            _error("parent_id", "has_subtasks", "A task with subtasks cannot become a subtask.")
        )
    spot = await _spot(uow, caller, move, task, group=(list_id, parent_id), errors=errors)
    _raise(errors)
    if isinstance(spot, _Keep):
        position = task.position
    else:
        position = await position_at(uow, list_id, parent, spot, moving=task.id, now=now)
    place = Place(list_id=list_id, parent_id=parent_id, position=position)
    moved = task.placed(place, user_id=owner, now=now)
    if moved is task:
        return task
    if not await uow.tasks.replace(moved, previous=task):
        raise LostRace()
    for sub in subtasks:
        # Subtasks travel: their list and owner follow the parent, their keys stay theirs.
        where = Place(
            list_id=list_id, parent_id=task.id, position=under(position, key_of(sub.position))
        )
        carried = sub.placed(where, user_id=owner, now=now)
        if carried is not sub and not await uow.tasks.replace(carried, previous=sub):
            raise LostRace()
    return moved


class _Keep:
    """The task keeps its place: neither its group nor `after` changes."""


_KEEP = _Keep()


async def _spot(
    uow: UnitOfWork,
    caller: Caller,
    move: Move,
    task: Task,
    *,
    group: tuple[ListId, TaskId | None],
    errors: list[FieldError],
) -> Spot | _Keep:
    # The destination's siblings are the tasks of `group`: (list, parent).
    same_group = group == (task.list_id, task.parent_id)
    if move.after is UNSET:
        return _KEEP if same_group else END
    if move.after is None:
        return None
    sibling = await task_for(uow, caller, move.after, Action.READ)
    if sibling.id == task.id or (sibling.list_id, sibling.parent_id) != group:
        errors.append(
            _error(
                "after",
                "not_sibling",
                "after must name another task with the destination's list and parent.",
            )
        )
    return sibling


async def _parent(uow: UnitOfWork, caller: Caller, parent_id: TaskId | None) -> Task | None:
    # A parent the caller cannot see is answered as a missing one.
    return None if parent_id is None else await task_for(uow, caller, parent_id, Action.READ)


def _parent_errors(
    parent: Task | None, list_id: ListId, *, moving: Task | None
) -> list[FieldError]:
    if parent is None:
        return []
    if moving is not None and parent.id == moving.id:
        return [_error("parent_id", "self", "A task cannot be its own parent.")]
    if parent.is_subtask:
        return [
            _error(
                "parent_id",
                "not_top_level",
                "Subtasks are one level deep: the parent must be a top-level task.",
            )
        ]
    if parent.list_id != list_id:
        return [_error("parent_id", "other_list", "The parent must be a task of the same list.")]
    return []


def _error(field: str, code: str, message: str) -> FieldError:
    return FieldError(field=field, code=code, message=message)


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)
