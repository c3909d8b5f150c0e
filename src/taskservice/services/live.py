"""Live events (SPEC §8): the in-process hub that commits wake, and the stream that follows the feed.

A stream never receives changes from the hub, only wake-ups: what it sends it reads from the
change feed, after its cursor, so that a wake-up lost, doubled or early costs a read and never a
change. The hub indexes streams by the lists they can see and by their user, so that a commit
wakes only the streams it may concern.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

import attrs

from domain.policy import Action
from domain.sync import Change, Kind, Op
from domain.types import ListId, UserId
from domain.users import Caller
from taskservice.cursors import FeedCursorCodec
from taskservice.ports import UnitOfWorkFactory
from taskservice.services.sync import FeedPage, SyncUseCases

_K = TypeVar("_K")


@attrs.frozen(kw_only=True)
class LiveTimings:
    """How long streams wait, in seconds: the one place these durations are set."""

    heartbeat: float = 15.0
    """A comment line at least this often keeps proxies open (SPEC: at most 15 s); each one also
    re-reads the feed, in case a wake-up came before its change could be read."""
    lifetime: float = 3600.0
    """A stream ends after this long (SPEC: at most an hour), and its client reconnects."""
    settle: tuple[float, ...] = (0.02, 0.05, 0.1, 0.1, 0.2, 0.2, 0.3, 0.5, 0.5)
    """Pauses between re-reads after a wake-up that found nothing new (2 s in all): on
    PostgreSQL a commit is readable only once every older transaction has ended, which under
    load takes as long as the slowest write in flight."""
    page: int = 100
    """Feed entries read at a time."""


@attrs.frozen(kw_only=True)
class Wake:
    """Why a subscription was woken, beyond "something it watches changed"."""

    members: bool
    """Its user's memberships may have changed (or anything may have): refresh what it watches."""


class Subscription:
    """One stream's interest in the hub: its user and the lists it can see, and what woke it."""

    def __init__(self, hub: ChangeHub, user_id: UserId) -> None:
        self.user_id = user_id
        self.lists: frozenset[ListId] = frozenset()
        self._hub = hub
        self._woken = asyncio.Event()
        self._members = False

    def watch(self, lists: frozenset[ListId]) -> None:
        """Watch exactly `lists` from now on (the lists the user is a member of)."""
        self._hub._reindex(self, lists)

    async def wait(self, within: float) -> Wake | None:
        """What woke it since the last call, waiting at most `within` seconds; None when
        nothing did."""
        if not self._woken.is_set():
            try:
                async with asyncio.timeout(max(within, 0.0)):
                    await self._woken.wait()
            except TimeoutError:
                return None
        wake = Wake(members=self._members)
        self._woken.clear()
        self._members = False
        return wake

    def wake(self, *, members: bool) -> None:
        """Mark it woken (by the hub)."""
        self._members = self._members or members
        self._woken.set()


class ChangeHub:
    """The process's one ChangeSignal for streams: wakes the subscriptions a commit concerns."""

    def __init__(self) -> None:
        self._by_list: dict[ListId, set[Subscription]] = {}
        self._by_user: dict[UserId, set[Subscription]] = {}

    def published(self, lists: frozenset[ListId], users: frozenset[UserId]) -> None:
        """Wake the subscriptions watching any of `lists`, and those of `users` (to re-watch)."""
        for user_id in users:
            for subscription in self._by_user.get(user_id, ()):
                subscription.wake(members=True)
        for list_id in lists:
            for subscription in self._by_list.get(list_id, ()):
                subscription.wake(members=False)

    def everything(self) -> None:
        """Wake every subscription, each to refresh what it watches and catch up."""
        for subscriptions in self._by_user.values():
            for subscription in subscriptions:
                subscription.wake(members=True)

    @contextmanager
    def subscribe(self, user_id: UserId) -> Iterator[Subscription]:
        """A subscription of `user_id`'s stream, woken from now on until the block ends."""
        subscription = Subscription(self, user_id)
        self._by_user.setdefault(user_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            self._reindex(subscription, frozenset())
            _drop(self._by_user, user_id, subscription)

    def __len__(self) -> int:
        """How many subscriptions there are."""
        return sum(len(subscriptions) for subscriptions in self._by_user.values())

    def _reindex(self, subscription: Subscription, lists: frozenset[ListId]) -> None:
        for gone in subscription.lists - lists:
            _drop(self._by_list, gone, subscription)
        for new in lists - subscription.lists:
            self._by_list.setdefault(new, set()).add(subscription)
        subscription.lists = lists


def _drop(index: dict[_K, set[Subscription]], key: _K, subscription: Subscription) -> None:
    held = index.get(key)
    if held is None:
        return
    held.discard(subscription)
    if not held:
        del index[key]


@attrs.frozen(kw_only=True)
class Event:
    """One feed entry to send, and the cursor that resumes after it."""

    entry: Change
    cursor: str


class Heartbeat:
    """Nothing to send for a while: a comment line keeps the connection open."""


HEARTBEAT: Final = Heartbeat()
Item = Event | Heartbeat


@attrs.frozen(kw_only=True)
class LiveEvents:
    """Streams of a user's feed entries, each sent as soon as a commit makes it readable."""

    uow: UnitOfWorkFactory
    feed: SyncUseCases
    cursors: FeedCursorCodec
    hub: ChangeHub
    timings: LiveTimings = attrs.field(factory=LiveTimings)

    async def open(self, caller: Caller, since: str | None) -> AsyncGenerator[Item, None]:
        """The caller's stream after `since`; its first page is read here, so that a refused or
        expired cursor fails before anything is sent."""
        caller.authorize(Action.READ)
        first = await self.feed.changes(caller, since, self.timings.page)
        return self._follow(caller, first)

    async def _follow(self, caller: Caller, first: FeedPage) -> AsyncGenerator[Item, None]:
        timings = self.timings
        with self.hub.subscribe(caller.owner) as subscription:
            subscription.watch(await self._lists(caller))
            loop = asyncio.get_running_loop()
            ends_at = loop.time() + timings.lifetime
            beat_at = loop.time() + timings.heartbeat
            cursor = first.cursor
            page: FeedPage | None = first
            # What was committed between the first read and the subscription woke nobody:
            # one more read after the first page, whatever it said.
            caught_up = False
            while True:
                if page is not None:
                    for item in self._events(caller, page):
                        yield item
                        beat_at = loop.time() + timings.heartbeat
                    cursor = page.cursor
                    if _membership_news(page, subscription.lists):
                        subscription.watch(await self._lists(caller))
                    if page.has_more or not caught_up:
                        caught_up = True
                        page = await self.feed.changes(caller, cursor, timings.page)
                        continue
                    page = None
                now = loop.time()
                if now >= ends_at:
                    return
                if now >= beat_at:
                    # Nothing sent for a heartbeat: say so, and read in case a wake-up was
                    # missed or came before its change could be read.
                    yield HEARTBEAT
                    beat_at = now + timings.heartbeat
                    page = await self.feed.changes(caller, cursor, timings.page)
                    continue
                wake = await subscription.wait(min(beat_at, ends_at) - now)
                if wake is None:
                    continue
                if wake.members:
                    subscription.watch(await self._lists(caller))
                page = await self._settled(caller, cursor, subscription, until=beat_at)

    async def _settled(
        self, caller: Caller, cursor: str, subscription: Subscription, until: float
    ) -> FeedPage:
        # A wake-up whose change is not readable yet (an older transaction still runs) is
        # followed by a few quick re-reads, until the next heartbeat at the latest; a later
        # wake-up cuts a wait short.
        loop = asyncio.get_running_loop()
        page = await self.feed.changes(caller, cursor, self.timings.page)
        for delay in self.timings.settle:
            if page.entries or loop.time() + delay >= until:
                return page
            wake = await subscription.wait(delay)
            if wake is not None and wake.members:
                subscription.watch(await self._lists(caller))
            page = await self.feed.changes(caller, cursor, self.timings.page)
        return page

    def _events(self, caller: Caller, page: FeedPage) -> Iterator[Event]:
        # Each entry carries the cursor after it, so that a client that reconnects resumes
        # after the last entry it received, even in the middle of a page.
        for entry in page.entries:
            yield Event(entry=entry, cursor=self.cursors.encode(caller.owner, entry.position))

    async def _lists(self, caller: Caller) -> frozenset[ListId]:
        async with self.uow() as uow:
            return frozenset(view.list.id for view in await uow.lists.all_for(caller.owner))


def _membership_news(page: FeedPage, watched: frozenset[ListId]) -> bool:
    # A list that appears or goes changes what the stream watches; a watched list's new
    # name or counts do not.
    return any(
        entry.kind is Kind.LIST and (entry.op is Op.DELETE or entry.id not in watched)
        for entry in page.entries
    )
