"""The task use cases, bound once to their ports; the policy is checked before data is touched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import attrs

from domain.batches import (
    CompleteTask,
    CreateTask,
    DeleteTask,
    Expected,
    Operation,
    UpdateTask,
    at_operation,
)
from domain.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from domain.idempotency import IdempotentRequest, Reply
from domain.policy import Action
from domain.queries import Parent, TaskCounts, TaskQuery, due_window, scope_errors
from domain.sync import scope_tag
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
_TASK_KEPT_CHANGING = "The task kept changing; try again."
_LIST_KEPT_CHANGING = "The list kept changing; try again."
_BATCH_KEPT_CHANGING = "The tasks kept changing; try again."

_T = TypeVar("_T")
ExpectedVersions = Expected
"""The versions an If-Match accepts; None when the request set no precondition."""
Render = Callable[[Task], Reply]
"""Turns a task into the answer that an Idempotency-Key keeps."""


@attrs.frozen(kw_only=True)
class TaskPage:
    """One page of a list, the cursor of the next one, and the user's counts."""

    tasks: list[Task]
    next_cursor: str | None
    counts: TaskCounts
    tag: str
    """The page's weak ETag (domain.sync.scope_tag), as `page_tag` would answer it."""


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
        now = self.clock.now()
        # One row more than asked tells whether another page exists.
        ask = attrs.evolve(query, now=now, after=after, limit=query.limit + 1)
        async with self.uow() as uow:
            # Read before the page, so that the tag is never newer than the page it labels.
            stamps = await uow.changes.stamps(owner, query.list_id)
            if query.list_id is not None and not stamps:
                await list_for(uow, caller, query.list_id, Action.READ)  # not a member: 404
            if not isinstance(query.parent, Parent):
                await task_for(uow, caller, query.parent, Action.READ)
            rows, counts = await uow.tasks.page_with_counts(owner, ask)
        tasks = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            next_cursor = self.cursors.encode(owner, query, ask.position_of(tasks[-1]))
        tag = scope_tag(stamps, _qualifier(query, cursor, now))
        return TaskPage(tasks=tasks, next_cursor=next_cursor, counts=counts, tag=tag)

    async def page_tag(self, caller: Caller, query: TaskQuery, cursor: str | None) -> str | None:
        """The weak ETag `list_page` would give this page now, read without reading the page (one
        indexed lookup); None when the query names a list the caller is no member of."""
        caller.authorize(Action.READ)
        async with self.uow() as uow:
            stamps = await uow.changes.stamps(caller.owner, query.list_id)
        if query.list_id is not None and not stamps:
            return None
        return scope_tag(stamps, _qualifier(query, cursor, self.clock.now()))

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
        return await self._attempts(
            lambda uow: self._add(uow, caller, changes), lost=_LIST_KEPT_CHANGING
        )

    async def create_once(
        self, caller: Caller, changes: TaskChanges, *, request: IdempotentRequest, render: Render
    ) -> KeyedOutcome:
        """Create a task once per key: a retry within 24 h gets the first answer and creates nothing.

        `render` turns the new task into the answer to keep.
        """
        caller.authorize(Action.WRITE_TASKS)

        async def create(uow: UnitOfWork) -> Reply:
            return render(await self._add(uow, caller, changes))

        return await self._once_attempts(caller, request, create, lost=_LIST_KEPT_CHANGING)

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
        return await self._attempts(
            lambda uow: self._update(uow, caller, task_id, changes, expected), expected=expected
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
        return await self._attempts(
            lambda uow: self._complete(uow, caller, task_id, completed, expected),
            expected=expected,
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
            return render(await self._complete(uow, caller, task_id, completed, expected))

        return await self._once_attempts(caller, request, complete, expected=expected)

    async def delete(
        self, caller: Caller, task_id: TaskId, *, expected: ExpectedVersions = None
    ) -> Task:
        """Move the task and its subtasks to the trash and return it as it was, so that a
        client can offer undo."""
        caller.authorize(Action.WRITE_TASKS)
        return await self._attempts(
            lambda uow: self._delete(uow, caller, task_id, expected), expected=expected
        )

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

        async def moved(uow: UnitOfWork) -> Task:
            task = await _existing(uow, caller, task_id)
            _check(task, expected)
            return await move_task(uow, caller, task, move, self.clock.now())

        return await self._attempts(moved, expected=expected)

    async def batch(self, caller: Caller, operations: Sequence[Operation]) -> list[Task]:
        """Apply `operations` in order in one transaction, all or none (SPEC §8).

        Each does what its single use case does (create, update, set_completion, delete) and
        sees what the earlier ones did; the results are the tasks they produced (a delete's: the
        task as it was). The first that fails stops the batch, nothing is applied, and its error
        names it in `details` (domain.batches.at_operation).
        """
        caller.authorize(Action.WRITE_TASKS)
        return await self._attempts(
            lambda uow: self._apply(uow, caller, operations), lost=_BATCH_KEPT_CHANGING
        )

    async def batch_once(
        self,
        caller: Caller,
        operations: Sequence[Operation],
        *,
        request: IdempotentRequest,
        render: Callable[[list[Task]], Reply],
    ) -> KeyedOutcome:
        """Apply a batch (as `batch`) once per key: a retry within 24 h gets the first answer."""
        caller.authorize(Action.WRITE_TASKS)

        async def apply(uow: UnitOfWork) -> Reply:
            return render(await self._apply(uow, caller, operations))

        return await self._once_attempts(caller, request, apply, lost=_BATCH_KEPT_CHANGING)

    # One implementation per operation, on the caller's unit of work: the single routes run one
    # in a unit of work of its own, a batch runs many in one. Each raises LostRace when another
    # writer changed a task between its read and its write.

    async def _add(self, uow: UnitOfWork, caller: Caller, changes: TaskChanges) -> Task:
        now = self.clock.now()
        # The caller is provisioned by the same write, on a first-seen token's claims.
        place, owner = await new_place(uow, caller, changes, now)
        task = Task.create(
            user_id=owner, changes=changes, now=now, place=place, created_by=caller.owner
        )
        return await uow.tasks.add(task, caller_user(caller, now))

    async def _update(
        self,
        uow: UnitOfWork,
        caller: Caller,
        task_id: TaskId,
        changes: TaskChanges,
        expected: ExpectedVersions,
    ) -> Task:
        task = await _existing(uow, caller, task_id)
        _check(task, expected)
        return await _replaced(uow, task, task.apply(changes, self.clock.now()))

    async def _complete(
        self,
        uow: UnitOfWork,
        caller: Caller,
        task_id: TaskId,
        completed: bool | None,
        expected: ExpectedVersions,
    ) -> Task:
        task = await _existing(uow, caller, task_id)
        _check(task, expected)
        return await _replaced(
            uow, task, task.apply(_completion(task, completed), self.clock.now())
        )

    async def _delete(
        self, uow: UnitOfWork, caller: Caller, task_id: TaskId, expected: ExpectedVersions
    ) -> Task:
        task = await _existing(uow, caller, task_id)
        _check(task, expected)
        now = self.clock.now()
        if not await uow.tasks.remove(task, caller.owner, now):
            raise LostRace()
        await purge_expired(uow, now)
        return task

    async def _apply(
        self, uow: UnitOfWork, caller: Caller, operations: Sequence[Operation]
    ) -> list[Task]:
        results: list[Task] = []
        for index, operation in enumerate(operations):
            try:
                results.append(await self._one(uow, caller, operation))
            except (ValidationFailed, NotFound, Forbidden, PreconditionFailed) as exc:
                raise at_operation(exc, index) from None
        return results

    async def _one(self, uow: UnitOfWork, caller: Caller, operation: Operation) -> Task:
        match operation:
            case CreateTask(changes=changes):
                return await self._add(uow, caller, changes)
            case UpdateTask(task_id=task_id, changes=changes, expected=expected):
                return await self._update(uow, caller, task_id, changes, expected)
            case CompleteTask(task_id=task_id, completed=completed, expected=expected):
                return await self._complete(uow, caller, task_id, completed, expected)
            case DeleteTask(task_id=task_id, expected=expected):
                return await self._delete(uow, caller, task_id, expected)

    async def _attempts(
        self,
        act: Callable[[UnitOfWork], Awaitable[_T]],
        *,
        expected: ExpectedVersions = None,
        lost: str = _TASK_KEPT_CHANGING,
    ) -> _T:
        for _ in range(_WRITE_ATTEMPTS):
            try:
                async with self.uow() as uow:
                    result = await act(uow)
                    await uow.commit()
                    return result
            except LostRace:
                _raise_if_conditional(expected)
        raise PreconditionFailed(lost)

    async def _once_attempts(
        self,
        caller: Caller,
        request: IdempotentRequest,
        act: Callable[[UnitOfWork], Awaitable[Reply]],
        *,
        expected: ExpectedVersions = None,
        lost: str = _TASK_KEPT_CHANGING,
    ) -> KeyedOutcome:
        for _ in range(_WRITE_ATTEMPTS):
            try:
                return await self._once(caller, request, act)
            except LostRace:
                _raise_if_conditional(expected)
        raise PreconditionFailed(lost)

    async def _once(
        self,
        caller: Caller,
        request: IdempotentRequest,
        act: Callable[[UnitOfWork], Awaitable[Reply]],
    ) -> KeyedOutcome:
        return await once(self.uow, self.clock, caller, request, act)


async def _replaced(uow: UnitOfWork, task: Task, updated: Task) -> Task:
    # A write that changes nothing writes nothing (version and updated_at stay as they were).
    if updated is not task and not await uow.tasks.replace(updated, previous=task):
        raise LostRace()
    return updated


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


def _qualifier(query: TaskQuery, cursor: str | None, now: datetime) -> str:
    # What else a page depends on: the request, and the window its `due` filter means now (for
    # "overdue" that is every moment, so such a page is never answered 304).
    due = query.filter.due
    window = None if due is None else due_window(due, now, query.tz)
    return f"{query.binding}|{query.limit}|{cursor}|{window!r}"
