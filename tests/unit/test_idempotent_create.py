"""Creating with an Idempotency-Key on the in-memory adapters: replay, reuse, expiry, purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory import MemoryStore
from domain.errors import Forbidden, IdempotencyKeyReused
from domain.idempotency import IdempotentRequest, Reply
from domain.tasks import Task, parse_changes
from domain.types import UserId
from domain.users import Caller, Principal
from taskservice.services import KeyedOutcome, TaskUseCases
from tests.clock import FakeClock
from tests.sealing import CURSORS

ALICE = Principal(user_id=UserId("alice"))
BOB = Principal(user_id=UserId("bob"))
START = datetime(2030, 1, 1, tzinfo=UTC)


def bound(store: MemoryStore, clock: FakeClock) -> TaskUseCases:
    """The task use cases on `store` and `clock`."""
    return TaskUseCases(uow=store, clock=clock, cursors=CURSORS)


def render(task: Task) -> Reply:
    """A stand-in for the HTTP adapter's answer: the id in the body."""
    return Reply(status=201, headers={"ETag": task.etag}, body=str(task.id).encode())


async def create(
    store: MemoryStore,
    clock: FakeClock,
    key: str,
    *,
    title: str = "t",
    who: Principal = ALICE,
    owner: UserId | None = None,
) -> KeyedOutcome:
    """Create with `key`; the fingerprint stands for the body, here the title."""
    return await bound(store, clock).create_once(
        Caller(principal=who, owner=owner or who.user_id),
        parse_changes({"title": title}, "create"),
        request=IdempotentRequest(key=key, fingerprint=title),
        render=render,
    )


def task_count(store: MemoryStore) -> int:
    """How many tasks the store holds."""
    return len(store.state.tasks)


async def test_a_retry_replays_the_first_answer_and_creates_nothing() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    first = await create(store, clock, "k1")
    clock.moment += timedelta(hours=23, minutes=59)
    again = await create(store, clock, "k1")

    assert (first.replayed, again.replayed) == (False, True)
    assert again.reply == first.reply
    assert task_count(store) == 1


async def test_the_same_key_with_another_body_is_refused() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    await create(store, clock, "k1", title="one")
    with pytest.raises(IdempotencyKeyReused):
        await create(store, clock, "k1", title="two")
    assert task_count(store) == 1


async def test_keys_belong_to_their_user() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    alice = await create(store, clock, "shared")
    bob = await create(store, clock, "shared", who=BOB)
    assert not alice.replayed
    assert not bob.replayed
    assert task_count(store) == 2


async def test_after_24_hours_the_key_names_a_new_request() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    first = await create(store, clock, "k1", title="one")
    clock.moment += timedelta(hours=24)
    second = await create(store, clock, "k1", title="two")
    third = await create(store, clock, "k1", title="two")

    assert not second.replayed
    assert second.reply != first.reply
    assert third.replayed
    assert third.reply == second.reply
    assert task_count(store) == 2


async def test_creating_purges_expired_records_of_every_user() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    for n in range(3):
        await create(store, clock, f"old-{n}", who=BOB)
    clock.moment += timedelta(hours=1)
    await create(store, clock, "recent", who=BOB)
    clock.moment += timedelta(hours=23)
    await create(store, clock, "fresh")

    assert set(store.state.replies) == {(BOB.user_id, "recent"), (ALICE.user_id, "fresh")}


async def test_concurrent_requests_with_one_key_create_one_task() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    outcomes = await asyncio.gather(*(create(store, clock, "k1") for _ in range(5)))
    assert sorted(o.replayed for o in outcomes) == [False, True, True, True, True]
    assert all(o.reply == outcomes[0].reply for o in outcomes)
    assert task_count(store) == 1


async def test_the_policy_is_checked_before_the_key_is_looked_at() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    with pytest.raises(Forbidden):
        await create(store, clock, "k1", who=BOB, owner=ALICE.user_id)
    assert not store.state.replies
