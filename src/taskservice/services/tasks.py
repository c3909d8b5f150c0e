"""The task use cases, bound once to their ports; the policy is checked before data is touched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from domain.errors import PreconditionFailed, ValidationFailed
from domain.idempotency import IdempotentRequest, Reply
from domain.policy import Action
from domain.queries import Parent, TaskCounts, TaskQuery, scope_errors
from domain.tasks import Move, Task, TaskChanges
from domain.types import TaskId
from domain.users import Caller
from taskservice.cursors import CursorCodec
from taskservice.ports import Clock, UnitOfWork, UnitOfWorkFactory
from taskservice.services.access import caller_user, list_for, task_for
from taskservice.services.keyed import KeyedOutcome, once
from taskservice.services.moves import move_task, new_place
from taskservice.services.positions import LostRace
from taskservice.services.trash import purge_expired

# Without If-Match a write is last-writer-wins; a lost race is retried on the fresh row.
_WRITE_ATTEMPTS = 5

ExpectedVersions = frozenset[int] | None
"""The versions an If-Match accepts; None when the request set no precondition."""
Render = Callable[[Task], Reply]
"""Turns a task into the answer that an Idempotency-Key keeps."""


@attrs.frozen(kw_only=True)
class TaskPage:
    """One page of a list, the cursor of the next one, and the user's counts."""

    tasks: list[Task]
    next_cursor: str | None
    counts: TaskCounts


@attrs.frozen(kw_only=True)
class TaskUseCases:
    """Every operation on tasks, bound to the storage, the clock and the cursor codec."""

    uow: UnitOfWorkFactory
    clock: Clock
    cursors: CursorCodec

    async def list_page(
        self, caller: Caller, query: TaskQuery, cursor: str | None = None
    ) -> TaskPage:
        """A page of the tasks in the query's scope, continuing after `cursor` when one is given.

        The scope is every list the caller belongs to, or `query.list_id` (NotFound "No such
        list." unless a member), narrowed by `query.parent` (a parent task the caller cannot see:
        NotFound "No such task."). ValidationFailed for `sort=position` without a list
        (domain.queries.scope_errors). `counts` are those of the lists in scope. `due` windows
        are measured from the clock.
        """
        caller.authorize(Action.READ)
        errors = scope_errors(query.sort, query.list_id)
        if errors:
            raise ValidationFailed(errors)
        owner = caller.owner
        after = self.cursors.decode(cursor, owner, query) if cursor is not None else None
        # One row more than asked tells whether another page exists.
        ask = attrs.evolve(query, now=self.clock.now(), after=after, limit=query.limit + 1)
        async with self.uow() as uow:
            if query.list_id is not None:
                await list_for(uow, caller, query.list_id, Action.READ)
            if not isinstance(query.parent, Parent):
                await task_for(uow, caller, query.parent, Action.READ)
            rows, counts = await uow.tasks.page_with_counts(owner, ask)
        tasks = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            next_cursor = self.cursors.encode(owner, query, ask.position_of(tasks[-1]))
        return TaskPage(tasks=tasks, next_cursor=next_cursor, counts=counts)

    async def create(self, caller: Caller, changes: TaskChanges) -> Task:
        """Store a new task at the end of its siblings, provisioning a first-seen user in the same
        transaction.

        `changes.list_id` UNSET puts it in the caller's default list (made on first need);
        otherwise the caller must be an editor or owner of that list (NotFound "No such list."
        for a non-member, Forbidden for a viewer). `changes.parent_id` names a top-level task of
        the same list (NotFound "No such task." if not visible; ValidationFailed if it is a
        subtask or in another list). The task's owner (`user_id`) is the list's; `created_by`
        the caller.
        """
        caller.authorize(Action.WRITE_TASKS)
        for _ in range(_WRITE_ATTEMPTS):
            try:
                async with self.uow() as uow:
                    task = await self._add(uow, caller, changes)
                    await uow.commit()
                    return task
            except LostRace:
                # Respacing the siblings lost to another writer; the next attempt reads afresh.
                continue
        raise PreconditionFailed("The list kept changing; try again.")

    async def create_once(
        self, caller: Caller, changes: TaskChanges, *, request: IdempotentRequest, render: Render
    ) -> KeyedOutcome:
        """Create a task once per key: a retry within 24 h gets the first answer and creates nothing.

        `render` turns the new task into the answer to keep.
        """
        caller.authorize(Action.WRITE_TASKS)

        async def create(uow: UnitOfWork) -> Reply:
            return render(await self._add(uow, caller, changes))

        for _ in range(_WRITE_ATTEMPTS):
            try:
                return await self._once(caller, request, create)
            except LostRace:
                continue
        raise PreconditionFailed("The list kept changing; try again.")

    async def get(self, caller: Caller, task_id: TaskId) -> Task:
        """Task `task_id` of any list the caller belongs to; NotFound if it is missing or in a list
        the caller is no member of (the two alike)."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            return await task_for(uow, caller, task_id, Action.READ)

    async def update(
        self,
        caller: Caller,
        task_id: TaskId,
        changes: TaskChanges,
        *,
        expected: ExpectedVersions = None,
    ) -> Task:
        """Apply `changes` to the task if its version is one of `expected` (when given).

        Editors and owners of its list only (Forbidden for a viewer), as for every write below.
        """
        caller.authorize(Action.WRITE_TASKS)
        return await self._write(
            caller, task_id, expected, lambda t: t.apply(changes, self.clock.now())
        )

    async def set_completion(
        self,
        caller: Caller,
        task_id: TaskId,
        completed: bool | None,
        *,
        expected: ExpectedVersions = None,
    ) -> Task:
        """Mark the task completed or pending, or toggle it when `completed` is None.

        Setting the state a task already has changes nothing; a toggle always changes it.
        """
        caller.authorize(Action.WRITE_TASKS)
        return await self._write(
            caller,
            task_id,
            expected,
            lambda t: t.apply(_completion(t, completed), self.clock.now()),
        )

    async def set_completion_once(
        self,
        caller: Caller,
        task_id: TaskId,
        completed: bool | None,
        *,
        request: IdempotentRequest,
        render: Render,
        expected: ExpectedVersions = None,
    ) -> KeyedOutcome:
        """Set or toggle completion (as `set_completion`) once per key, so a toggle is safe to retry."""
        caller.authorize(Action.WRITE_TASKS)

        async def complete(uow: UnitOfWork) -> Reply:
            task = await _existing(uow, caller, task_id)
            _check(task, expected)
            updated = task.apply(_completion(task, completed), self.clock.now())
            if updated is not task and not await uow.tasks.replace(updated, previous=task):
                raise LostRace()
            return render(updated)

        for _ in range(_WRITE_ATTEMPTS):
            try:
                return await self._once(caller, request, complete)
            except LostRace:
                _raise_if_conditional(expected)
        raise PreconditionFailed("The task kept changing; try again.")

    async def delete(
        self, caller: Caller, task_id: TaskId, *, expected: ExpectedVersions = None
    ) -> Task:
        """Move the task and its subtasks to the trash and return it as it was, so that a
        client can offer undo."""
        caller.authorize(Action.WRITE_TASKS)
        for _ in range(_WRITE_ATTEMPTS):
            async with self.uow() as uow:
                task = await _existing(uow, caller, task_id)
                _check(task, expected)
                now = self.clock.now()
                if await uow.tasks.remove(task, caller.owner, now):
                    await purge_expired(uow, now)
                    await uow.commit()
                    return task
            _raise_if_conditional(expected)
        raise PreconditionFailed("The task kept changing; try again.")

    async def move(
        self,
        caller: Caller,
        task_id: TaskId,
        move: Move,
        *,
        expected: ExpectedVersions = None,
    ) -> Task:
        """Move the task to another list, parent or place among its siblings (domain.tasks.Move).

        The caller must be an editor or owner of the task's list and of the destination list.
        Subtasks travel with their parent. ValidationFailed (details) when the destination
        parent is a subtask, in another list or the task itself, when a task with subtasks
        would become a subtask, or when `after` is no sibling at the destination; NotFound for
        a list or task the caller cannot see. PreconditionFailed unless its version is one of
        `expected` (when given). A move to where the task already is changes nothing.
        """
        caller.authorize(Action.WRITE_TASKS)
        for _ in range(_WRITE_ATTEMPTS):
            try:
                async with self.uow() as uow:
                    task = await _existing(uow, caller, task_id)
                    _check(task, expected)
                    moved = await move_task(uow, caller, task, move, self.clock.now())
                    if moved is not task:
                        await uow.commit()
                    return moved
            except LostRace:
                _raise_if_conditional(expected)
        raise PreconditionFailed("The task kept changing; try again.")

    async def _add(self, uow: UnitOfWork, caller: Caller, changes: TaskChanges) -> Task:
        now = self.clock.now()
        # The caller is provisioned by the same write, on a first-seen token's claims.
        place, owner = await new_place(uow, caller, changes, now)
        task = Task.create(
            user_id=owner, changes=changes, now=now, place=place, created_by=caller.owner
        )
        return await uow.tasks.add(task, caller_user(caller, now))

    async def _once(
        self,
        caller: Caller,
        request: IdempotentRequest,
        act: Callable[[UnitOfWork], Awaitable[Reply]],
    ) -> KeyedOutcome:
        return await once(self.uow, self.clock, caller, request, act)

    async def _write(
        self,
        caller: Caller,
        task_id: TaskId,
        expected: ExpectedVersions,
        change: Callable[[Task], Task],
    ) -> Task:
        for _ in range(_WRITE_ATTEMPTS):
            async with self.uow() as uow:
                task = await _existing(uow, caller, task_id)
                _check(task, expected)
                updated = change(task)
                if updated is task:
                    return task
                if await uow.tasks.replace(updated, previous=task):
                    await uow.commit()
                    return updated
            _raise_if_conditional(expected)
        raise PreconditionFailed("The task kept changing; try again.")


def _completion(task: Task, completed: bool | None) -> TaskChanges:
    # A toggle flips the state the task has in this unit of work, so that a retried write
    # toggles the fresh row rather than the one it lost to.
    return TaskChanges(completed=not task.completed if completed is None else completed)


async def _existing(uow: UnitOfWork, caller: Caller, task_id: TaskId) -> Task:
    # Every write below changes a task: editors and owners of its list only.
    return await task_for(uow, caller, task_id, Action.WRITE_TASKS)


def _check(task: Task, expected: ExpectedVersions) -> None:
    if expected is not None and task.version not in expected:
        raise PreconditionFailed()


def _raise_if_conditional(expected: ExpectedVersions) -> None:
    # Another writer got in between our read and our conditional write; with If-Match the caller's
    # version is now stale for sure, so answer 412 rather than write over the winner.
    if expected is not None:
        raise PreconditionFailed()
