"""The PostgreSQL change relay (SPEC §8): a commit in one process wakes the streams of another
through LISTEN/NOTIFY, and a listener whose connection is killed comes back and wakes them all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from adapters.persistence import Database, PgChangeRelay
from domain.types import ListId, UserId
from taskservice.services.live import ChangeHub, Subscription
from tests.integration.sql_backends import database_for, fresh_postgres

pytestmark = pytest.mark.postgres
WITHIN = 5.0
"""Seconds a wake-up may take at most before the test fails (it comes in milliseconds)."""
USER = UserId("reader")
LIST = ListId(7)


class Process:
    """What one service process holds: its database, hub and relay."""

    def __init__(self, database: Database) -> None:
        self.hub = ChangeHub()
        self.relay = PgChangeRelay(database, self.hub, pauses=(0.05, 0.1))


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """An empty database of the test's own (the relay needs no table)."""
    async with fresh_postgres() as made:
        yield made


@pytest.fixture
async def two(url: str) -> AsyncIterator[tuple[Process, Process]]:
    """Two processes on one database, both listening."""
    async with database_for(url) as first_db, database_for(url) as second_db:
        first, second = Process(first_db), Process(second_db)
        for process in (first, second):
            await process.relay.start()
        try:
            for process in (first, second):
                await wait_for_listening(process.relay)
            yield first, second
        finally:
            for process in (first, second):
                await process.relay.stop()


async def wait_for_listening(relay: PgChangeRelay) -> None:
    """Until the relay's LISTEN connection is up."""
    async with asyncio.timeout(WITHIN):
        await relay.listening.wait()


async def woken(subscription: Subscription) -> bool:
    """Whether the subscription is woken within WITHIN; True with what woke it."""
    return await subscription.wait(WITHIN) is not None


async def test_a_commit_in_one_process_wakes_a_stream_in_the_other(
    two: tuple[Process, Process],
) -> None:
    writer, reader = two
    with reader.hub.subscribe(USER) as stream, writer.hub.subscribe(USER) as local:
        stream.watch(frozenset({LIST}))
        local.watch(frozenset({LIST}))
        writer.relay.published(frozenset({LIST}), frozenset())
        assert await local.wait(0) is not None, "the writer's own streams wake at once"
        wake = await stream.wait(WITHIN)
        assert wake is not None
        assert not wake.members
        # Another list's change wakes nobody here; a change of the user's memberships does.
        writer.relay.published(frozenset({ListId(8)}), frozenset({USER}))
        assert await local.wait(0) is not None
        wake = await stream.wait(WITHIN)
        assert wake is not None
        assert wake.members
        assert await local.wait(0.2) is None, "its own notification does not wake it again"


async def test_a_killed_listener_reconnects_and_wakes_every_stream(
    two: tuple[Process, Process], url: str
) -> None:
    writer, reader = two
    with reader.hub.subscribe(USER) as stream:
        stream.watch(frozenset({LIST}))
        pid = reader.relay.server_pid
        assert pid is not None
        admin = await asyncpg.connect(url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        # Whatever was notified while it was away is unknown to it: it wakes everyone.
        wake = await stream.wait(WITHIN)
        assert wake is not None
        assert wake.members
        await wait_for_listening(reader.relay)
        assert reader.relay.server_pid not in (None, pid)
        writer.relay.published(frozenset({LIST}), frozenset())
        assert await woken(stream)


async def test_too_many_names_for_one_notification_wake_everything(
    two: tuple[Process, Process],
) -> None:
    writer, reader = two
    with reader.hub.subscribe(USER) as stream:
        many = frozenset(UserId(f"user-{i:05}-" + "x" * 40) for i in range(400))
        writer.relay.published(frozenset(), many)
        wake = await stream.wait(WITHIN)
        assert wake is not None
        assert wake.members
