"""The trash use cases (SPEC §8): a page of deleted tasks, restore, purge one, empty.

Tasks get here through TaskUseCases.delete and ListUseCases.delete; who sees and restores an
entry is the policy's (domain.policy.TRASH_ACTION), applied to the caller's role in the list
the entry came from, or as its owner when that list is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

import attrs

from domain.errors import NotFound, PreconditionFailed
from domain.idempotency import IdempotentRequest, Reply
from domain.lists import Role, TaskList
from domain.placement import key_of, under
from domain.policy import TRASH_ACTION, Action, authorize, roles_permitting
from domain.queries import LIMIT_MAX
from domain.tasks import Place, Task
from domain.trash import KEPT_FOR, PURGE_BATCH, TrashedTask
from domain.types import TaskId
from domain.users import Caller
from taskservice.cursors import CursorCodec
from taskservice.ports import Clock, UnitOfWork, UnitOfWorkFactory
from taskservice.services.access import TASK_NOT_FOUND, caller_user
from taskservice.services.keyed import KeyedOutcome, once
from taskservice.services.positions import END, LostRace, position_at
from taskservice.services.sync import purge_history

_WRITE_ATTEMPTS: Final = 5
_SEEN_BY: Final = roles_permitting(TRASH_ACTION)
"""The roles whose members see a list's trash."""


async def purge_expired(uow: UnitOfWork, now: datetime) -> None:
    """Purge a batch of the trash kept longer than KEPT_FOR, and of the feed's deletes kept
    longer than theirs; every delete calls it, so that both are purged as long as anything is
    deleted (as idempotency records are on creates)."""
    await uow.trash.purge_expired(now - KEPT_FOR, PURGE_BATCH)
    await purge_history(uow, now)


@attrs.frozen(kw_only=True)
class TrashPage:
    """One page of the trash and the cursor of the next one."""

    entries: list[TrashedTask]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class TrashUseCases:
    """Every operation on the trash, bound to storage, the clock and the cursor codec.

    An entry is a deleted task with the subtasks deleted with it. Every method applies the
    token's scopes first (`caller.authorize`), then the policy to the caller's role in the
    entry's list: no role → NotFound("No such task."), byte-identical to a missing entry; a
    role that may not do TRASH_ACTION (a viewer) → Forbidden.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    cursors: CursorCodec

    async def page(self, caller: Caller, *, limit: int, cursor: str | None = None) -> TrashPage:
        """The entries the caller sees (the trash of the lists they edit or own, and of their
        own lists that are gone), most recently deleted first, continuing after `cursor`."""
        caller.authorize(Action.READ)
        assert 1 <= limit <= LIMIT_MAX
        owner = caller.owner
        after = None if cursor is None else self.cursors.decode_trash(cursor, owner)
        async with self.uow() as uow:
            # One row more than asked tells whether another page exists.
            rows = await uow.trash.page(owner, _SEEN_BY, after, limit + 1)
        entries = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = self.cursors.encode_trash(owner, entries[-1].position)
        return TrashPage(entries=entries, next_cursor=next_cursor)

    async def entry(self, caller: Caller, task_id: TaskId) -> TrashedTask:
        """Entry `task_id`, if the caller may restore or purge it (what a confirmation shows)."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            return await _entry(uow, caller, task_id)

    async def restore(self, caller: Caller, task_id: TaskId) -> Task:
        """Put entry `task_id` back, with the subtasks deleted with it, and return it.

        It goes to the end of its siblings in its list, or in its owner's default list (made
        if need be) when that list is gone; a subtask whose parent is no task (deleted, or moved
        to another list) comes back top-level.
        """
        caller.authorize(TRASH_ACTION)
        for _ in range(_WRITE_ATTEMPTS):
            try:
                async with self.uow() as uow:
                    restored = await self._restore(uow, caller, task_id)
                    await uow.commit()
                    return restored
            except LostRace:
                # Respacing lost to another writer, or the entry went meanwhile: read afresh.
                continue
        raise PreconditionFailed("The list kept changing; try again.")

    async def restore_once(
        self,
        caller: Caller,
        task_id: TaskId,
        *,
        request: IdempotentRequest,
        render: Callable[[Task], Reply],
    ) -> KeyedOutcome:
        """Restore entry `task_id` as `restore` does, once per key: a repeat within 24 h gets
        the first answer (`render`ed) and restores nothing, also after the task was deleted
        again (the web UI's undo)."""
        caller.authorize(TRASH_ACTION)

        async def restore(uow: UnitOfWork) -> Reply:
            return render(await self._restore(uow, caller, task_id))

        for _ in range(_WRITE_ATTEMPTS):
            try:
                return await once(self.uow, self.clock, caller, request, restore)
            except LostRace:
                continue
        raise PreconditionFailed("The list kept changing; try again.")

    async def purge(self, caller: Caller, task_id: TaskId) -> TrashedTask:
        """Delete entry `task_id` and its subtasks for good; the entry as it was."""
        caller.authorize(TRASH_ACTION)
        async with self.uow() as uow:
            entry = await _entry(uow, caller, task_id)
            if not await uow.trash.purge(task_id):
                # Purged or restored by someone else since it was read.
                raise NotFound(TASK_NOT_FOUND)
            await purge_expired(uow, self.clock.now())
            await uow.commit()
        return entry

    async def empty(self, caller: Caller) -> int:
        """Delete every entry the caller sees for good; how many tasks went."""
        caller.authorize(TRASH_ACTION)
        async with self.uow() as uow:
            count = await uow.trash.empty(caller.owner, _SEEN_BY)
            await purge_expired(uow, self.clock.now())
            await uow.commit()
        return count

    async def _restore(self, uow: UnitOfWork, caller: Caller, task_id: TaskId) -> Task:
        now = self.clock.now()
        entry = await _entry(uow, caller, task_id)
        task = entry.task
        home = await _home(uow, caller, task, now)
        parent = None
        if task.parent_id is not None:
            found = await uow.tasks.get_visible(caller.owner, task.parent_id)
            live = None if found is None else found[0]
            if live is not None and live.list_id == home.id and not live.is_subtask:
                parent = live
        position = await position_at(uow, home.id, parent, END, moving=None, now=now)
        place = Place(
            list_id=home.id, parent_id=None if parent is None else parent.id, position=position
        )
        root = task.placed(place, user_id=home.owner_id, now=now)
        subtasks = [
            sub.task.placed(
                Place(
                    list_id=home.id,
                    parent_id=task.id,
                    position=under(position, key_of(sub.task.position)),
                ),
                user_id=home.owner_id,
                now=now,
            )
            for sub in await uow.trash.family(task.id)
        ]
        if not await uow.trash.restore(task.id, [root, *subtasks]):
            raise LostRace()
        return root


async def _entry(uow: UnitOfWork, caller: Caller, task_id: TaskId) -> TrashedTask:
    # Every write here acts on an entry as TRASH_ACTION; a non-member's is a missing one.
    found = await uow.trash.get_visible(caller.owner, task_id)
    authorize(None if found is None else found[1], TRASH_ACTION, not_found=TASK_NOT_FOUND)
    assert found is not None
    return found[0]


async def _home(uow: UnitOfWork, caller: Caller, task: Task, now: datetime) -> TaskList:
    # The entry's list, or when it is gone its owner's default list: a gone list's trash is
    # its owner's alone (the list may have gone since the entry was read).
    found = await uow.lists.access(caller.owner, task.list_id)
    if found is not None:
        authorize(found[1], TRASH_ACTION, not_found=TASK_NOT_FOUND)
        return found[0]
    authorize(
        Role.OWNER if task.user_id == caller.owner else None,
        TRASH_ACTION,
        not_found=TASK_NOT_FOUND,
    )
    default = TaskList.default_for(caller.owner, now)
    return await uow.lists.ensure_default(default, caller_user(caller, now))
