"""Live events across processes on PostgreSQL: LISTEN/NOTIFY on one connection per process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any, Final

import asyncpg

from adapters.persistence.database import Database
from domain.types import ListId, UserId
from taskservice.ports import ChangeSignal

log = logging.getLogger(__name__)

CHANNEL: Final = "task_changes"
EVERYTHING: Final = "*"
"""The payload that wakes every stream: a change too broad to name, or names too many for one
notification."""
LISTENER: Final = "taskservice listener"
"""The application_name of the LISTEN connections, followed by the process id: operators (and
tests) find each process's in pg_stat_activity."""
MAX_PAYLOAD: Final = 7_000
"""Bytes of one notification's payload at most (PostgreSQL refuses 8,000 and more)."""


class PgChangeRelay:
    """The ChangeSignal of a process on PostgreSQL: wakes its own streams at once, and those of
    every other process through NOTIFY on its one dedicated connection, where it also LISTENs.

    Local changes are sent coalesced, at most one notification per `coalesce` seconds. A lost
    connection is made again with growing pauses; once it is back, every local stream is woken
    to catch up from the feed, since notifications sent meanwhile were never heard, and what
    this process could not send meanwhile is sent then.
    """

    def __init__(
        self,
        database: Database,
        local: ChangeSignal,
        *,
        coalesce: float = 0.05,
        liveness: float = 10.0,
        pauses: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
    ) -> None:
        self._database = database
        self._local = local
        self._coalesce = coalesce
        self._liveness = liveness
        self._pauses = pauses
        self._lists: set[ListId] = set()
        self._users: set[UserId] = set()
        self._all = False
        self._pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up (for readiness checks and tests)."""
        self.server_pid: int | None = None
        """The backend process of the LISTEN connection, while it is up."""

    def published(self, lists: frozenset[ListId], users: frozenset[UserId]) -> None:
        """Wake the local streams, and send the names to other processes soon."""
        self._local.published(lists, users)
        self._lists |= lists
        self._users |= users
        self._pending.set()

    def everything(self) -> None:
        """Wake every stream, here and in other processes."""
        self._local.everything()
        self._all = True
        self._pending.set()

    async def start(self) -> None:
        """Listen and relay in the background until `stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="change-relay")

    async def stop(self) -> None:
        """Stop listening and relaying, and close the connection."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        failures = 0
        was_up = False
        while True:
            try:
                async with self._database.dedicated() as connection:
                    lost = asyncio.Event()
                    connection.add_termination_listener(_setter(lost))
                    name = f"{LISTENER} {os.getpid()}"
                    await connection.execute(f"SET application_name = '{name}'")
                    await connection.add_listener(CHANNEL, self._heard)
                    self.server_pid = connection.get_server_pid()
                    self.listening.set()
                    failures = 0
                    if was_up:
                        log.info("change relay listening again")
                        # What other processes notified meanwhile was lost: catch up.
                        self._local.everything()
                    was_up = True
                    await self._relay(connection, lost)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("change relay lost its connection: %r", error)
            finally:
                self.listening.clear()
                self.server_pid = None
            await asyncio.sleep(self._pauses[min(failures, len(self._pauses) - 1)])
            failures += 1

    async def _relay(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        # Sends what is pending, coalesced; returns when the connection is lost.
        while not lost.is_set():
            if not await _first(self._pending, lost, within=self._liveness):
                # Quiet for a while: a connection silently gone would never say so.
                await connection.execute("SELECT 1", timeout=self._liveness)
                continue
            if lost.is_set():
                return
            await asyncio.sleep(self._coalesce)
            payload = self._take()
            try:
                await connection.execute(
                    "SELECT pg_notify($1, $2)", CHANNEL, payload, timeout=self._liveness
                )
            except BaseException:
                self._keep(payload)
                raise

    def _take(self) -> str:
        lists, users, everything = self._lists, self._users, self._all
        self._lists, self._users, self._all = set(), set(), False
        self._pending.clear()
        if everything:
            return EVERYTHING
        payload = json.dumps({"l": sorted(lists), "u": sorted(users)}, separators=(",", ":"))
        return payload if len(payload.encode()) <= MAX_PAYLOAD else EVERYTHING

    def _keep(self, payload: str) -> None:
        # Not sent: sent again with the next, by name or as everything.
        lists, users, everything = _parse(payload)
        self._all = self._all or everything
        self._lists |= lists
        self._users |= users
        self._pending.set()

    def _heard(self, connection: Any, pid: int, _channel: str, payload: str) -> None:
        if pid == self.server_pid:
            return  # this process's own, whose streams were woken at its commit
        lists, users, everything = _parse(payload)
        if everything:
            self._local.everything()
        else:
            self._local.published(lists, users)


def _setter(event: asyncio.Event) -> Any:
    # asyncpg's termination listener, called with the connection when it is lost.
    return lambda _connection: event.set()


def _parse(payload: str) -> tuple[frozenset[ListId], frozenset[UserId], bool]:
    if payload == EVERYTHING:
        return frozenset(), frozenset(), True
    try:
        names = json.loads(payload)
        lists = frozenset(ListId(int(i)) for i in names["l"])
        users = frozenset(UserId(str(u)) for u in names["u"])
    except (ValueError, KeyError, TypeError):
        log.warning("change relay heard a payload it cannot read: %.100r", payload)
        return frozenset(), frozenset(), True
    return lists, users, False


async def _first(pending: asyncio.Event, lost: asyncio.Event, *, within: float) -> bool:
    # Whether `pending` or `lost` was set within `within` seconds.
    if pending.is_set() or lost.is_set():
        return True
    waits = [asyncio.ensure_future(pending.wait()), asyncio.ensure_future(lost.wait())]
    try:
        done, _ = await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return bool(done)
