"""The use cases on the in-memory adapters: ownership, preconditions, paging."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory import MemoryStore
from domain.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from domain.queries import Sort, SortField, Status, TaskFilter, TaskQuery
from domain.tasks import TaskChanges, parse_changes
from domain.types import TaskId, UserId
from domain.users import Caller, Principal, User
from taskservice.services import TaskUseCases
from tests.clock import FakeClock
from tests.sealing import CURSORS

ALICE = Principal(user_id=UserId("alice"), email="alice@example.com")
BOB = Principal(user_id=UserId("bob"))
AS_ALICE = Caller.of(ALICE)
AS_BOB = Caller.of(BOB)
BOB_AT_ALICES = Caller(principal=BOB, owner=ALICE.user_id)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def tasks(store: MemoryStore) -> TaskUseCases:
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=UTC), tick=timedelta(seconds=1))
    return TaskUseCases(uow=store, clock=clock, cursors=CURSORS)


async def create(tasks: TaskUseCases, title: str = "t", caller: Caller = AS_ALICE) -> TaskId:
    task = await tasks.create(caller, parse_changes({"title": title}, "create"))
    return task.id


async def test_create_provisions_the_user_and_stores_the_task(
    store: MemoryStore, tasks: TaskUseCases
) -> None:
    task_id = await create(tasks)
    assert store.state.users[ALICE.user_id].email == "alice@example.com"
    task = await tasks.get(AS_ALICE, task_id)
    assert (task.title, task.user_id, task.version) == ("t", "alice", 1)


async def test_policy_is_checked_before_data_is_touched(
    store: MemoryStore, tasks: TaskUseCases
) -> None:
    task_id = await create(tasks)
    with pytest.raises(Forbidden):
        await tasks.get(BOB_AT_ALICES, task_id)
    with pytest.raises(Forbidden):
        await tasks.create(BOB_AT_ALICES, TaskChanges(title="x"))
    with pytest.raises(Forbidden):
        await tasks.list_page(BOB_AT_ALICES, TaskQuery())
    assert BOB.user_id not in store.state.users


async def test_someone_elses_task_is_not_found(store: MemoryStore, tasks: TaskUseCases) -> None:
    task_id = await create(tasks)
    for call in (
        tasks.get(AS_BOB, task_id),
        tasks.delete(AS_BOB, task_id),
        tasks.update(AS_BOB, task_id, TaskChanges(title="x")),
        tasks.set_completion(AS_BOB, task_id, completed=True),
    ):
        with pytest.raises(NotFound):
            await call
    assert store.state.tasks[task_id].title == "t"


async def test_update_with_a_stale_version_is_refused(
    store: MemoryStore, tasks: TaskUseCases
) -> None:
    task_id = await create(tasks)
    with pytest.raises(PreconditionFailed):
        await tasks.update(AS_ALICE, task_id, TaskChanges(title="x"), expected=frozenset({2}))
    assert store.state.tasks[task_id].title == "t"
    updated = await tasks.update(
        AS_ALICE, task_id, TaskChanges(title="x"), expected=frozenset({1, 3})
    )
    assert (updated.title, updated.version) == ("x", 2)


async def test_delete_with_a_stale_version_is_refused(
    store: MemoryStore, tasks: TaskUseCases
) -> None:
    task_id = await create(tasks)
    with pytest.raises(PreconditionFailed):
        await tasks.delete(AS_ALICE, task_id, expected=frozenset({9}))
    deleted = await tasks.delete(AS_ALICE, task_id, expected=frozenset({1}))
    assert deleted.id == task_id
    assert task_id not in store.state.tasks


async def test_completion_is_set_when_given(tasks: TaskUseCases) -> None:
    task_id = await create(tasks)
    first = await tasks.set_completion(AS_ALICE, task_id, completed=True)
    second = await tasks.set_completion(AS_ALICE, task_id, completed=True)
    assert first.completed
    assert second.completed
    assert second.version == first.version == 2


async def test_completion_is_toggled_when_not_given(tasks: TaskUseCases) -> None:
    task_id = await create(tasks)
    toggles = [await tasks.set_completion(AS_ALICE, task_id, completed=None) for _ in range(3)]
    assert [(t.completed, t.version) for t in toggles] == [(True, 2), (False, 3), (True, 4)]
    assert toggles[0].completed_at is not None
    assert toggles[1].completed_at is None


async def test_concurrent_conditional_writes_one_wins(tasks: TaskUseCases) -> None:
    task_id = await create(tasks)
    results = await asyncio.gather(
        *(
            tasks.update(AS_ALICE, task_id, TaskChanges(title=f"w{i}"), expected=frozenset({1}))
            for i in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, PreconditionFailed) for r in results) == 2


async def test_paging_returns_each_task_once_with_counts(tasks: TaskUseCases) -> None:
    ids = [await create(tasks, f"t{i}") for i in range(7)]
    await tasks.set_completion(AS_ALICE, ids[0], completed=True)
    await create(tasks, "bob's", AS_BOB)
    query = TaskQuery(sort=Sort(field=SortField.TITLE, descending=False), limit=3)

    seen: list[TaskId] = []
    cursor = None
    while True:
        page = await tasks.list_page(AS_ALICE, query, cursor)
        seen += [t.id for t in page.tasks]
        assert (page.counts.pending, page.counts.completed) == (6, 1)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == ids


async def test_a_cursor_for_another_query_is_refused(tasks: TaskUseCases) -> None:
    for i in range(3):
        await create(tasks, f"t{i}")
    page = await tasks.list_page(AS_ALICE, TaskQuery(limit=1))
    pending = TaskQuery(filter=TaskFilter(status=Status.PENDING), limit=1)
    with pytest.raises(ValidationFailed):
        await tasks.list_page(AS_ALICE, pending, page.next_cursor)


async def test_a_failed_unit_of_work_leaves_nothing_behind(store: MemoryStore) -> None:
    async def fail_midway() -> None:
        async with store() as uow:
            await uow.users.ensure(User(id=UserId("x"), created_at=datetime.now(UTC)))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await fail_midway()
    assert UserId("x") not in store.state.users
