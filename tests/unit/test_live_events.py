"""Live streams on the in-memory store (SPEC §8): the hub wakes only the streams a commit
concerns, and a stream follows its user's feed as lists are shared, changed and left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

import pytest

from adapters.memory import MemoryStore
from domain.lists import Role
from domain.sync import Kind, Op
from domain.types import ListId, UserId
from domain.users import Caller
from taskservice.cursors import FeedCursorCodec
from taskservice.services import ChangeHub, LiveEvents, LiveTimings, SyncUseCases
from taskservice.services.live import HEARTBEAT, Event, Item
from tests.sealing import SEALER
from tests.unit.sharing import ALICE, BOB, Household

WITHIN: Final = 5.0
"""Seconds to wait for an item that comes at once, before the test fails."""
QUIET: Final = LiveTimings(heartbeat=60.0, lifetime=600.0)


def household(hub: ChangeHub) -> Household:
    """The three people on a store whose commits wake `hub`."""
    return Household(store=MemoryStore(hub))


def live(home: Household, hub: ChangeHub, timings: LiveTimings = QUIET) -> LiveEvents:
    """The live streams of the household's store."""
    cursors = FeedCursorCodec(SEALER)
    feed = SyncUseCases(uow=home.store, cursors=cursors)
    return LiveEvents(uow=home.store, feed=feed, cursors=cursors, hub=hub, timings=timings)


async def next_event(items: AsyncIterator[Item]) -> Event:
    """The next event, heartbeats skipped."""
    async with asyncio.timeout(WITHIN):
        while True:
            item = await anext(items)
            if isinstance(item, Event):
                return item


async def until(items: AsyncIterator[Item], kind: Kind, entity: int, op: Op = Op.UPSERT) -> Event:
    """The next event about `kind` `entity` with `op`, others skipped."""
    while True:
        event = await next_event(items)
        entry = event.entry
        if (entry.kind, entry.id, entry.op) == (kind, entity, op):
            return event


async def test_the_hub_wakes_a_subscription_only_for_what_it_watches() -> None:
    hub = ChangeHub()
    with hub.subscribe(UserId("u")) as mine, hub.subscribe(UserId("v")) as other:
        mine.watch(frozenset({ListId(1), ListId(2)}))
        other.watch(frozenset({ListId(3)}))
        hub.published(frozenset({ListId(2)}), frozenset())
        woken = await mine.wait(0)
        assert woken is not None
        assert not woken.members
        assert await other.wait(0) is None
        assert await mine.wait(0) is None, "a wake-up is taken once"
        hub.published(frozenset({ListId(9)}), frozenset({UserId("v")}))
        woken = await other.wait(0)
        assert woken is not None
        assert woken.members
        mine.watch(frozenset({ListId(2)}))
        hub.published(frozenset({ListId(1)}), frozenset())
        assert await mine.wait(0) is None, "a list no longer watched wakes nobody"
        hub.everything()
        assert await mine.wait(0) is not None
        assert await other.wait(0) is not None
        assert len(hub) == 2
    assert len(hub) == 0
    assert not hub._by_list, "nothing is left indexed"


async def test_a_stream_follows_shared_lists_as_members_come_and_go() -> None:
    hub = ChangeHub()
    home = household(hub)
    groceries = await home.new_list(ALICE)
    items = await live(home, hub).open(BOB, None)
    try:
        await until(items, Kind.LIST, (await home.lists.list_all(BOB))[0].list.id)
        # Not Bob's list yet: nothing of it reaches him.
        milk = await home.add(ALICE, "milk", list_id=groceries)
        await home.share(groceries, ALICE, BOB, Role.EDITOR)
        shared = await until(items, Kind.LIST, groceries)
        assert shared.entry.list is not None
        assert shared.entry.list.role is Role.EDITOR
        await until(items, Kind.TASK, milk)
        # Now the list is watched: Alice's next change there reaches him as it happens.
        eggs = await home.add(ALICE, "eggs", list_id=groceries)
        event = await until(items, Kind.TASK, eggs)
        assert event.entry.task is not None
        assert event.entry.task.title == "eggs"
        await home.lists.remove_member(ALICE, groceries, BOB.owner)
        await until(items, Kind.LIST, groceries, Op.DELETE)
    finally:
        await items.aclose()
    assert len(hub) == 0


async def test_a_stream_resumes_after_the_cursor_of_any_event() -> None:
    hub = ChangeHub()
    home = household(hub)
    first = await home.add(ALICE, "one")
    stream = live(home, hub)
    items = await stream.open(ALICE, None)
    seen = await until(items, Kind.TASK, first)
    await items.aclose()
    second = await home.add(ALICE, "two")
    items = await stream.open(ALICE, seen.cursor)
    try:
        event = await next_event(items)
        while event.entry.kind is not Kind.TASK:
            event = await next_event(items)
        assert event.entry.id == second
    finally:
        await items.aclose()


async def test_a_quiet_stream_beats_then_ends() -> None:
    hub = ChangeHub()
    home = household(hub)
    timings = LiveTimings(heartbeat=0.05, lifetime=0.3)
    items = await live(home, hub, timings).open(ALICE, None)
    got: list[Item] = []
    async with asyncio.timeout(WITHIN):
        got = [item async for item in items]
    assert got.count(HEARTBEAT) >= 2
    assert len(hub) == 0


async def test_a_stream_of_someone_else_is_refused_before_it_starts() -> None:
    hub = ChangeHub()
    home = household(hub)
    stranger = Caller(principal=BOB.principal, owner=ALICE.owner)
    with pytest.raises(Exception, match="only access your own"):
        await live(home, hub).open(stranger, None)
    assert len(hub) == 0


async def test_wake_ups_that_bring_nothing_do_not_hold_back_the_heartbeat() -> None:
    hub = ChangeHub()
    home = household(hub)
    timings = LiveTimings(heartbeat=0.2, lifetime=60.0, settle=(0.01,))
    items = await live(home, hub, timings).open(ALICE, None)

    async def nudge() -> None:
        # Every stream woken, over and over, with nothing new to read.
        while True:
            hub.everything()
            await asyncio.sleep(0.02)

    nudging = asyncio.create_task(nudge())
    try:
        async with asyncio.timeout(WITHIN):
            beats = 0
            while beats < 3:
                beats += await anext(items) is HEARTBEAT
    finally:
        nudging.cancel()
        await items.aclose()
