"""The use cases: one async function per operation, the policy checked before data is touched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from domain.errors import Conflict, IdempotencyKeyReused, NotFound, PreconditionFailed
from domain.idempotency import KEEP_FOR, IdempotencyRecord, IdempotentRequest, Reply
from domain.queries import TaskCounts, TaskQuery
from domain.tasks import Task, TaskChanges
from domain.types import TaskId, UserId
from domain.users import Principal, User, ensure_owner
from taskservice.cursors import CursorCodec
from taskservice.ports import Clock, UnitOfWork, UnitOfWorkFactory

# Without If-Match a write is last-writer-wins; a lost race is retried on the fresh row.
_WRITE_ATTEMPTS = 5
# Expired idempotency records deleted per create: more than one, so purging outpaces creating.
_PURGE_BATCH = 100

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
    clock: Clock,
    cursors: CursorCodec,
    *,
    principal: Principal,
    owner: UserId,
    query: TaskQuery,
    cursor: str | None = None,
) -> TaskPage:
    """A page of the owner's tasks, continuing after `cursor` when one is given.

    `due` windows are measured from `clock`.
    """
    ensure_owner(principal, owner)
    after = cursors.decode(cursor, owner, query) if cursor is not None else None
    now = clock.now()
    # One row more than asked tells whether another page exists.
    ask = attrs.evolve(query, now=now, after=after, limit=query.limit + 1)
    async with uow_factory() as uow:
        rows, counts = await uow.tasks.page_with_counts(owner, ask)
    tasks = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = cursors.encode(owner, query, ask.position_of(tasks[-1]))
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
    async with uow_factory() as uow:
        task = await _add(uow, clock, principal, owner, changes)
        await uow.commit()
    return task


@attrs.frozen(kw_only=True)
class KeyedOutcome:
    """The answer to a request sent with an Idempotency-Key, and whether it is a replay."""

    reply: Reply
    replayed: bool


class _LostRace(Exception):
    """Another writer changed the task between our read and our write; nothing was kept."""


async def create_task_once(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    principal: Principal,
    owner: UserId,
    changes: TaskChanges,
    request: IdempotentRequest,
    render: Callable[[Task], Reply],
) -> KeyedOutcome:
    """Create a task once per key: a retry within 24 h gets the first answer and creates nothing.

    `render` turns the new task into the answer to keep.
    """
    ensure_owner(principal, owner)

    async def create(uow: UnitOfWork) -> Reply:
        return render(await _add(uow, clock, principal, owner, changes))

    return await _once(uow_factory, clock, owner, request, create)


async def set_completion_once(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    principal: Principal,
    owner: UserId,
    task_id: TaskId,
    completed: bool | None,
    request: IdempotentRequest,
    render: Callable[[Task], Reply],
    expected: ExpectedVersions = None,
) -> KeyedOutcome:
    """Set or toggle completion (as `set_completion`) once per key, so a toggle is safe to retry."""
    ensure_owner(principal, owner)

    async def complete(uow: UnitOfWork) -> Reply:
        task = await _existing(uow, owner, task_id)
        _check(task, expected)
        updated = task.apply(_completion(task, completed), clock.now())
        if updated is not task and not await uow.tasks.replace(updated, previous=task):
            raise _LostRace()
        return render(updated)

    for _ in range(_WRITE_ATTEMPTS):
        try:
            return await _once(uow_factory, clock, owner, request, complete)
        except _LostRace:
            _raise_if_conditional(expected)
    raise PreconditionFailed("The task kept changing; try again.")


async def _once(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    owner: UserId,
    request: IdempotentRequest,
    act: Callable[[UnitOfWork], Awaitable[Reply]],
) -> KeyedOutcome:
    # The record of the key is stored in the transaction of the write it answers, so that
    # neither exists without the other.
    now = clock.now()
    async with uow_factory() as uow:
        earlier = await uow.idempotency.get(owner, request.key)
        if earlier is not None and earlier.is_live(now):
            return _replay(earlier, request)
        await uow.idempotency.purge(now - KEEP_FOR, _PURGE_BATCH)
        reply = await act(uow)
        record = IdempotencyRecord(
            user_id=owner,
            key=request.key,
            fingerprint=request.fingerprint,
            reply=reply,
            created_at=now,
        )
        if await uow.idempotency.claim(record, expired_by=now - KEEP_FOR):
            await uow.commit()
            return KeyedOutcome(reply=reply, replayed=False)
        # A concurrent request with this key committed first; ours is dropped uncommitted.
        winner = await uow.idempotency.get(owner, request.key)
    if winner is None:
        raise Conflict("A request with this Idempotency-Key is still in flight; retry shortly.")
    return _replay(winner, request)


def _replay(record: IdempotencyRecord, request: IdempotentRequest) -> KeyedOutcome:
    if record.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused()
    return KeyedOutcome(reply=record.reply, replayed=True)


async def _add(
    uow: UnitOfWork, clock: Clock, principal: Principal, owner: UserId, changes: TaskChanges
) -> Task:
    now = clock.now()
    # The owner is provisioned by the same write, on a first-seen token's claims.
    user = User(id=principal.user_id, email=principal.email, created_at=now)
    return await uow.tasks.add(Task.create(user_id=owner, changes=changes, now=now), user)


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
    completed: bool | None,
    expected: ExpectedVersions = None,
) -> Task:
    """Mark the task completed or pending, or toggle it when `completed` is None.

    Setting the state a task already has changes nothing; a toggle always changes it.
    """
    ensure_owner(principal, owner)
    return await _write(
        uow_factory,
        owner,
        task_id,
        expected,
        lambda t: t.apply(_completion(t, completed), clock.now()),
    )


def _completion(task: Task, completed: bool | None) -> TaskChanges:
    # A toggle flips the state the task has in this unit of work, so that a retried write
    # toggles the fresh row rather than the one it lost to.
    return TaskChanges(completed=not task.completed if completed is None else completed)


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
            if await uow.tasks.replace(updated, previous=task):
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
