"""Completing with an Idempotency-Key on the in-memory adapters: a toggle safe to retry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.memory import MemoryStore
from domain.errors import Forbidden, IdempotencyKeyReused, NotFound, PreconditionFailed
from domain.idempotency import IdempotentRequest, Reply
from domain.tasks import Task, parse_changes
from domain.types import TaskId
from domain.users import Caller, Principal
from taskservice.services import KeyedOutcome
from tests.clock import FakeClock
from tests.unit.test_idempotent_create import ALICE, BOB, START, bound


def render(task: Task) -> Reply:
    """A stand-in for the HTTP adapter's answer: the state and version in the body."""
    return Reply(
        status=200, headers={"ETag": task.etag}, body=f"{task.completed} {task.version}".encode()
    )


async def new_task(store: MemoryStore, clock: FakeClock) -> TaskId:
    """One of Alice's tasks, pending."""
    changes = parse_changes({"title": "t"}, "create")
    task = await bound(store, clock).create(Caller.of(ALICE), changes)
    return task.id


async def toggle(
    store: MemoryStore,
    clock: FakeClock,
    task_id: TaskId,
    key: str,
    *,
    completed: bool | None = None,
    fingerprint: str = "toggle",
    who: Principal = ALICE,
    expected: frozenset[int] | None = None,
) -> KeyedOutcome:
    """Complete (toggle, unless `completed` is given) with `key`."""
    return await bound(store, clock).set_completion_once(
        Caller.of(who),
        task_id,
        completed,
        request=IdempotentRequest(key=key, fingerprint=fingerprint),
        render=render,
        expected=expected,
    )


def state(store: MemoryStore, task_id: TaskId) -> tuple[bool, int]:
    """Whether the stored task is completed, and its version."""
    task = store.state.tasks[task_id]
    return task.completed, task.version


async def test_a_retried_toggle_replays_and_toggles_once() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)

    first = await toggle(store, clock, task_id, "k1")
    again = await toggle(store, clock, task_id, "k1")

    assert (first.replayed, again.replayed) == (False, True)
    assert again.reply == first.reply == render(store.state.tasks[task_id])
    assert state(store, task_id) == (True, 2)


async def test_another_key_toggles_again() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)

    await toggle(store, clock, task_id, "k1")
    back = await toggle(store, clock, task_id, "k2")

    assert back.reply.body == b"False 3"
    assert state(store, task_id) == (False, 3)


async def test_setting_with_a_key_keeps_the_answer_even_when_nothing_changes() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)

    done = await toggle(store, clock, task_id, "k1", completed=True, fingerprint="true")
    same = await toggle(store, clock, task_id, "k2", completed=True, fingerprint="true")

    assert (done.reply.body, same.reply.body) == (b"True 2", b"True 2")
    assert set(store.state.replies) == {(ALICE.user_id, "k1"), (ALICE.user_id, "k2")}


async def test_the_key_with_another_request_is_refused_and_nothing_changes() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)
    await toggle(store, clock, task_id, "k1")

    with pytest.raises(IdempotencyKeyReused):
        await toggle(store, clock, task_id, "k1", completed=False, fingerprint="false")
    assert state(store, task_id) == (True, 2)


async def test_after_24_hours_the_key_toggles_again() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)
    await toggle(store, clock, task_id, "k1")
    clock.moment += timedelta(hours=24)

    later = await toggle(store, clock, task_id, "k1")

    assert not later.replayed
    assert state(store, task_id) == (False, 3)


async def test_concurrent_toggles_with_one_key_toggle_once() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)

    outcomes = await asyncio.gather(*(toggle(store, clock, task_id, "k1") for _ in range(5)))

    assert sorted(o.replayed for o in outcomes) == [False, True, True, True, True]
    assert state(store, task_id) == (True, 2)


async def test_a_stale_if_match_is_refused_and_keeps_no_answer() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)

    with pytest.raises(PreconditionFailed):
        await toggle(store, clock, task_id, "k1", expected=frozenset({7}))
    done = await toggle(store, clock, task_id, "k1", expected=frozenset({1}))

    assert not done.replayed
    assert state(store, task_id) == (True, 2)


async def test_a_missing_or_foreign_task_keeps_no_answer() -> None:
    store, clock = MemoryStore(), FakeClock(START)
    task_id = await new_task(store, clock)

    with pytest.raises(NotFound):
        await toggle(store, clock, TaskId(999), "k1")
    with pytest.raises(NotFound):
        await toggle(store, clock, task_id, "k1", who=BOB)
    with pytest.raises(Forbidden):
        await bound(store, clock).set_completion_once(
            Caller(principal=BOB, owner=ALICE.user_id),
            task_id,
            None,
            request=IdempotentRequest(key="k1", fingerprint="toggle"),
            render=render,
        )
    assert not store.state.replies
    assert state(store, task_id) == (False, 1)
