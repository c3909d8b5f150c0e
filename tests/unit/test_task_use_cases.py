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
from domain.users import Principal, User
from taskservice import services
from tests.clock import FakeClock
from tests.sealing import CURSORS

ALICE = Principal(user_id=UserId("alice"), email="alice@example.com")
BOB = Principal(user_id=UserId("bob"))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2030, 1, 1, tzinfo=UTC), tick=timedelta(seconds=1))


async def create(
    store: MemoryStore, clock: FakeClock, title: str = "t", who: Principal = ALICE
) -> TaskId:
    changes = parse_changes({"title": title}, "create")
    task = await services.create_task(
        store, clock, principal=who, owner=who.user_id, changes=changes
    )
    return task.id


async def test_create_provisions_the_user_and_stores_the_task(
    store: MemoryStore, clock: FakeClock
) -> None:
    task_id = await create(store, clock)
    assert store.state.users[ALICE.user_id].email == "alice@example.com"
    task = await services.get_task(store, principal=ALICE, owner=ALICE.user_id, task_id=task_id)
    assert (task.title, task.user_id, task.version) == ("t", "alice", 1)


async def test_policy_is_checked_before_data_is_touched(
    store: MemoryStore, clock: FakeClock
) -> None:
    task_id = await create(store, clock)
    with pytest.raises(Forbidden):
        await services.get_task(store, principal=BOB, owner=ALICE.user_id, task_id=task_id)
    with pytest.raises(Forbidden):
        await services.create_task(
            store, clock, principal=BOB, owner=ALICE.user_id, changes=TaskChanges(title="x")
        )
    with pytest.raises(Forbidden):
        await services.list_tasks(
            store, clock, CURSORS, principal=BOB, owner=ALICE.user_id, query=TaskQuery()
        )
    assert BOB.user_id not in store.state.users


async def test_someone_elses_task_is_not_found(store: MemoryStore, clock: FakeClock) -> None:
    task_id = await create(store, clock)
    for call in (
        services.get_task(store, principal=BOB, owner=BOB.user_id, task_id=task_id),
        services.delete_task(store, principal=BOB, owner=BOB.user_id, task_id=task_id),
        services.update_task(
            store,
            clock,
            principal=BOB,
            owner=BOB.user_id,
            task_id=task_id,
            changes=TaskChanges(title="x"),
        ),
        services.set_completion(
            store, clock, principal=BOB, owner=BOB.user_id, task_id=task_id, completed=True
        ),
    ):
        with pytest.raises(NotFound):
            await call
    assert store.state.tasks[task_id].title == "t"


async def test_update_with_a_stale_version_is_refused(store: MemoryStore, clock: FakeClock) -> None:
    task_id = await create(store, clock)
    with pytest.raises(PreconditionFailed):
        await services.update_task(
            store,
            clock,
            principal=ALICE,
            owner=ALICE.user_id,
            task_id=task_id,
            changes=TaskChanges(title="x"),
            expected=frozenset({2}),
        )
    assert store.state.tasks[task_id].title == "t"
    updated = await services.update_task(
        store,
        clock,
        principal=ALICE,
        owner=ALICE.user_id,
        task_id=task_id,
        changes=TaskChanges(title="x"),
        expected=frozenset({1, 3}),
    )
    assert (updated.title, updated.version) == ("x", 2)


async def test_delete_with_a_stale_version_is_refused(store: MemoryStore, clock: FakeClock) -> None:
    task_id = await create(store, clock)
    with pytest.raises(PreconditionFailed):
        await services.delete_task(
            store, principal=ALICE, owner=ALICE.user_id, task_id=task_id, expected=frozenset({9})
        )
    deleted = await services.delete_task(
        store, principal=ALICE, owner=ALICE.user_id, task_id=task_id, expected=frozenset({1})
    )
    assert deleted.id == task_id
    assert task_id not in store.state.tasks


async def test_completion_is_set_when_given(store: MemoryStore, clock: FakeClock) -> None:
    task_id = await create(store, clock)
    first = await services.set_completion(
        store, clock, principal=ALICE, owner=ALICE.user_id, task_id=task_id, completed=True
    )
    second = await services.set_completion(
        store, clock, principal=ALICE, owner=ALICE.user_id, task_id=task_id, completed=True
    )
    assert first.completed
    assert second.completed
    assert second.version == first.version == 2


async def test_completion_is_toggled_when_not_given(store: MemoryStore, clock: FakeClock) -> None:
    task_id = await create(store, clock)
    toggles = [
        await services.set_completion(
            store, clock, principal=ALICE, owner=ALICE.user_id, task_id=task_id, completed=None
        )
        for _ in range(3)
    ]
    assert [(t.completed, t.version) for t in toggles] == [(True, 2), (False, 3), (True, 4)]
    assert toggles[0].completed_at is not None
    assert toggles[1].completed_at is None


async def test_concurrent_conditional_writes_one_wins(store: MemoryStore, clock: FakeClock) -> None:
    task_id = await create(store, clock)
    results = await asyncio.gather(
        *(
            services.update_task(
                store,
                clock,
                principal=ALICE,
                owner=ALICE.user_id,
                task_id=task_id,
                changes=TaskChanges(title=f"w{i}"),
                expected=frozenset({1}),
            )
            for i in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, PreconditionFailed) for r in results) == 2


async def test_paging_returns_each_task_once_with_counts(
    store: MemoryStore, clock: FakeClock
) -> None:
    ids = [await create(store, clock, f"t{i}") for i in range(7)]
    await services.set_completion(
        store, clock, principal=ALICE, owner=ALICE.user_id, task_id=ids[0], completed=True
    )
    await create(store, clock, "bob's", BOB)
    query = TaskQuery(sort=Sort(field=SortField.TITLE, descending=False), limit=3)

    seen: list[TaskId] = []
    cursor = None
    while True:
        page = await services.list_tasks(
            store, clock, CURSORS, principal=ALICE, owner=ALICE.user_id, query=query, cursor=cursor
        )
        seen += [t.id for t in page.tasks]
        assert (page.counts.pending, page.counts.completed) == (6, 1)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == ids


async def test_a_cursor_for_another_query_is_refused(store: MemoryStore, clock: FakeClock) -> None:
    for i in range(3):
        await create(store, clock, f"t{i}")
    page = await services.list_tasks(
        store, clock, CURSORS, principal=ALICE, owner=ALICE.user_id, query=TaskQuery(limit=1)
    )
    pending = TaskQuery(filter=TaskFilter(status=Status.PENDING), limit=1)
    with pytest.raises(ValidationFailed):
        await services.list_tasks(
            store,
            clock,
            CURSORS,
            principal=ALICE,
            owner=ALICE.user_id,
            query=pending,
            cursor=page.next_cursor,
        )


async def test_a_failed_unit_of_work_leaves_nothing_behind(store: MemoryStore) -> None:
    async def fail_midway() -> None:
        async with store() as uow:
            await uow.users.ensure(User(id=UserId("x"), created_at=datetime.now(UTC)))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await fail_midway()
    assert UserId("x") not in store.state.users
