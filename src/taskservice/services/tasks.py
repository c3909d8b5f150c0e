"""The use cases: one async function per operation, the policy checked before data is touched."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from domain.errors import NotFound, PreconditionFailed
from domain.queries import TaskCounts, TaskQuery
from domain.tasks import Task, TaskChanges
from domain.types import TaskId, UserId
from domain.users import Principal, User, ensure_owner
from taskservice.cursors import decode_cursor, encode_cursor
from taskservice.ports import Clock, UnitOfWork, UnitOfWorkFactory

# Without If-Match a write is last-writer-wins; a lost race is retried on the fresh row.
_WRITE_ATTEMPTS = 5

ExpectedVersions = frozenset[int] | None
"""The versions an If-Match accepts; None when the request set no precondition."""


@attrs.frozen(kw_only=True)
class TaskPage:
    """One page of a list, the cursor of the next one, and the user's counts."""

    tasks: list[Task]
    next_cursor: str | None
    counts: TaskCounts


async def list_tasks(
    uow_factory: UnitOfWorkFactory,
    *,
    principal: Principal,
    owner: UserId,
    query: TaskQuery,
    cursor: str | None = None,
) -> TaskPage:
    """A page of the owner's tasks, continuing after `cursor` when one is given."""
    ensure_owner(principal, owner)
    after = decode_cursor(cursor, query.filter, query.sort) if cursor is not None else None
    # One row more than asked tells whether another page exists.
    ask = attrs.evolve(query, after=after, limit=query.limit + 1)
    async with uow_factory() as uow:
        rows = await uow.tasks.page(owner, ask)
        counts = await uow.tasks.counts(owner)
    tasks = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(query.filter, query.sort, query.sort.key_of(tasks[-1]))
    return TaskPage(tasks=tasks, next_cursor=next_cursor, counts=counts)


async def create_task(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    principal: Principal,
    owner: UserId,
    changes: TaskChanges,
) -> Task:
    """Store a new task for the owner, provisioning a first-seen user in the same transaction."""
    ensure_owner(principal, owner)
    now = clock.now()
    async with uow_factory() as uow:
        await _provision(uow, principal, clock)
        task = await uow.tasks.add(Task.create(user_id=owner, changes=changes, now=now))
        await uow.commit()
    return task


async def get_task(
    uow_factory: UnitOfWorkFactory, *, principal: Principal, owner: UserId, task_id: TaskId
) -> Task:
    """The owner's task `task_id`; NotFound if it is missing or someone else's."""
    ensure_owner(principal, owner)
    async with uow_factory() as uow:
        return await _existing(uow, owner, task_id)


async def update_task(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    principal: Principal,
    owner: UserId,
    task_id: TaskId,
    changes: TaskChanges,
    expected: ExpectedVersions = None,
) -> Task:
    """Apply `changes` to the task if its version is one of `expected` (when given)."""
    ensure_owner(principal, owner)
    return await _write(
        uow_factory, owner, task_id, expected, lambda t: t.apply(changes, clock.now())
    )


async def set_completion(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    principal: Principal,
    owner: UserId,
    task_id: TaskId,
    completed: bool,
    expected: ExpectedVersions = None,
) -> Task:
    """Mark the task completed or pending; setting the state it already has changes nothing."""
    changes = TaskChanges(completed=completed)
    return await update_task(
        uow_factory,
        clock,
        principal=principal,
        owner=owner,
        task_id=task_id,
        changes=changes,
        expected=expected,
    )


async def delete_task(
    uow_factory: UnitOfWorkFactory,
    *,
    principal: Principal,
    owner: UserId,
    task_id: TaskId,
    expected: ExpectedVersions = None,
) -> Task:
    """Delete the task and return it as it was, so that a client can offer undo."""
    ensure_owner(principal, owner)
    for _ in range(_WRITE_ATTEMPTS):
        async with uow_factory() as uow:
            task = await _existing(uow, owner, task_id)
            _check(task, expected)
            if await uow.tasks.remove(task):
                await uow.commit()
                return task
        _raise_if_conditional(expected)
    raise PreconditionFailed("The task kept changing; try again.")


async def _write(
    uow_factory: UnitOfWorkFactory,
    owner: UserId,
    task_id: TaskId,
    expected: ExpectedVersions,
    change: Callable[[Task], Task],
) -> Task:
    for _ in range(_WRITE_ATTEMPTS):
        async with uow_factory() as uow:
            task = await _existing(uow, owner, task_id)
            _check(task, expected)
            updated = change(task)
            if updated is task:
                return task
            if await uow.tasks.replace(updated, expected_version=task.version):
                await uow.commit()
                return updated
        _raise_if_conditional(expected)
    raise PreconditionFailed("The task kept changing; try again.")


async def _existing(uow: UnitOfWork, owner: UserId, task_id: TaskId) -> Task:
    task = await uow.tasks.get(owner, task_id)
    if task is None:
        raise NotFound("No such task.")
    return task


def _check(task: Task, expected: ExpectedVersions) -> None:
    if expected is not None and task.version not in expected:
        raise PreconditionFailed()


def _raise_if_conditional(expected: ExpectedVersions) -> None:
    # Another writer got in between our read and our conditional write; with If-Match the caller's
    # version is now stale for sure, so answer 412 rather than write over the winner.
    if expected is not None:
        raise PreconditionFailed()


async def _provision(uow: UnitOfWork, principal: Principal, clock: Clock) -> None:
    await uow.users.ensure(
        User(id=principal.user_id, email=principal.email, created_at=clock.now())
    )
