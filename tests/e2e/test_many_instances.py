"""Two instances behind HAProxy on one PostgreSQL and one Redis (SPEC §9), all real processes.

Any instance answers any request; sign-in limits are counted once across both; an instance
killed with SIGKILL in the middle of concurrent writes loses none that were acknowledged, and
clients see no error but for the requests that were in flight on it when it died.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final

import asyncpg
import attrs
import httpx
import pytest

from tests.infra.fixtures import StartHaproxy
from tests.infra.service import Service, service, service_environment
from tests.integration.sql_backends import migrated_postgres
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

STRICT: Final = 5
"""Failed sign-ins per e-mail and address, across all instances."""
CLIENTS: Final = 6
WRITES_BEFORE_KILL: Final = 40
WRITES_AFTER_KILL: Final = 40
CREATE_ATTEMPTS: Final = 20
DOWN_WITHIN: Final = 5.0


@attrs.frozen
class Attempt:
    """One request through the balancer: what it was, when, and the status (None: no answer)."""

    what: str
    started: float
    ended: float
    status: int | None

    @property
    def failed(self) -> bool:
        """Answered by no one, or by a server error: its write may or may not have happened."""
        return self.status is None or self.status >= 500


@attrs.frozen
class State:
    """What the database must hold for a task: its title, completion and version."""

    title: str
    completed: bool
    version: int


@attrs.define
class Tracked:
    """A created task, its last acknowledged state (None: deleted), and what a lost answer may have left."""

    id: int
    acknowledged: State | None
    unanswered: list[State | None] = attrs.Factory(list)

    def allows(self, actual: State | None) -> bool:
        """Whether the database's state is the acknowledged one, or one an unanswered write made."""
        return actual == self.acknowledged or actual in self.unanswered


class Load:
    """Clients writing through the balancer, each its own user's tasks, and every attempt's fate."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.attempts: list[Attempt] = []
        self.tasks: list[Tracked] = []
        self.acknowledged = 0
        self._progress = asyncio.Condition()

    async def until(self, acknowledged: int) -> None:
        """Wait until that many writes in all have been acknowledged."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.acknowledged >= acknowledged)

    async def writer(self, user: str, stop: asyncio.Event) -> None:
        """Create, rename, complete and (every third) delete tasks until `stop`."""
        headers = {"Authorization": f"Bearer {hs256(user)}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10) as client:
            for n in range(1, 10_000):
                if stop.is_set():
                    return
                task = await self._create(client, f"/api/{user}/tasks", f"{user} task {n}")
                self.tasks.append(task)
                path = f"/api/{user}/tasks/{task.id}"
                _ = (
                    await self._write(
                        client, task, "PUT", path, {"title": f"{user} task {n}, renamed"}
                    )
                    and await self._write(
                        client, task, "PATCH", f"{path}/complete", {"completed": True}
                    )
                    and n % 3 == 0
                    and await self._write(client, task, "DELETE", path, None)
                )

    async def _create(self, client: httpx.AsyncClient, path: str, title: str) -> Tracked:
        # Retried with the same key until answered: the retry replays what a lost answer created.
        key = uuid.uuid4().hex
        for _ in range(CREATE_ATTEMPTS):
            response = await self._send(
                client, "create", "POST", path, {"title": title}, {"Idempotency-Key": key}
            )
            if response is not None and response.status_code != 409:
                assert response.status_code == 201, response.text
                data = response.json()["data"]
                return Tracked(data["id"], State(title, False, data["version"]))
            await asyncio.sleep(0.05)
        raise AssertionError(f"{title!r} was never created")

    async def _write(
        self,
        client: httpx.AsyncClient,
        task: Tracked,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> bool:
        """One change under If-Match; False, leaving the task alone from then on, without an answer."""
        before = task.acknowledged
        assert before is not None
        after = (
            None
            if method == "DELETE"
            else State(
                body.get("title", before.title) if body else before.title,
                body.get("completed", before.completed) if body else before.completed,
                before.version + 1,
            )
        )
        response = await self._send(
            client, method, method, path, body, {"If-Match": f'"{before.version}"'}
        )
        if response is None:
            task.unanswered.append(after)
            return False
        assert response.status_code == 200, response.text
        task.acknowledged = after
        return True

    async def _send(
        self,
        client: httpx.AsyncClient,
        what: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> httpx.Response | None:
        """The answer, or None when there was none or a server error (the write's fate unknown)."""
        started = time.monotonic()
        try:
            response: httpx.Response | None = await client.request(
                method, path, json=body, headers=headers
            )
        except httpx.TransportError:
            response = None
        status = None if response is None else response.status_code
        self.attempts.append(Attempt(what, started, time.monotonic(), status))
        if response is None or response.status_code >= 500:
            return None
        if response.is_success:
            async with self._progress:
                self.acknowledged += 1
                self._progress.notify_all()
        return response


async def stored(database_url: str, users: Sequence[str]) -> dict[int, State]:
    """Every task of `users` in the database, read directly."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT id, title, completed, version FROM tasks WHERE user_id = ANY($1::text[])",
            list(users),
        )
    finally:
        await connection.close()
    return {row["id"]: State(row["title"], row["completed"], row["version"]) for row in rows}


async def sign_in_limits_are_counted_once(url: str, instances: Sequence[Service]) -> None:
    """Wrong passwords through the balancer meet the strict limit at exactly its count."""
    email = f"many.{uuid.uuid4().hex[:10]}@example.com"
    # An address of a /64 of our own: the shared Redis counts nobody else's attempts under it.
    address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    async with httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": address}) as client:
        created = await client.post(
            "/api/auth/sign-up", json={"email": email, "password": "correct horse battery"}
        )
        assert created.status_code == 201, created.text
        answers = [
            await client.post("/api/auth/sign-in", json={"email": email, "password": "wrong one"})
            for _ in range(STRICT + 1)
        ]
    assert [a.status_code for a in answers] == [401] * STRICT + [429]
    assert answers[-1].json()["error"] == "RATE_LIMITED"
    for instance in instances:
        routes = [line["route"] for line in instance.events("request")]
        assert "/api/auth/sign-in" in routes, f"{instance.address} counted no sign-in"


async def test_two_instances_share_limits_and_lose_no_acknowledged_write_when_one_is_killed(
    tmp_path: Path, redis_url: str, start_haproxy: StartHaproxy
) -> None:
    run = uuid.uuid4().hex[:8]
    users = [f"many-{run}-{n}" for n in range(CLIENTS)]
    async with migrated_postgres() as url, AsyncExitStack() as stack:
        settings = {
            "RATE_LIMIT_STORAGE": redis_url,
            "RATE_LIMIT_FAILED_SIGN_IN_PER_EMAIL": f"{STRICT}/15 minutes",
            "SHUTDOWN_TIMEOUT": "3",
        }
        homes = [tmp_path / name for name in ("a", "b")]
        for home in homes:
            home.mkdir()
        a, b = await asyncio.gather(
            *(
                stack.enter_async_context(service(service_environment(url, **settings), home))
                for home in homes
            )
        )
        balancer = await start_haproxy([a.address, b.address])
        await balancer.wait_until(up={a.address, b.address})

        await sign_in_limits_are_counted_once(balancer.url, [a, b])

        load = Load(balancer.url)
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as clients:
            for user in users:
                clients.create_task(load.writer(user, stop))
            await load.until(WRITES_BEFORE_KILL)
            killed_from = time.monotonic()
            await a.process.kill()
            killed_by = time.monotonic()
            await balancer.wait_until(up={b.address}, within=DOWN_WITHIN)
            await load.until(load.acknowledged + WRITES_AFTER_KILL)
            stop.set()
        in_database = await stored(url, users)

    # Every write answered 2xx is there; a write left unanswered is there or not, whole.
    wrong = {
        t.id: (in_database.get(t.id), t.acknowledged, t.unanswered)
        for t in load.tasks
        if not t.allows(in_database.get(t.id))
    }
    assert not wrong, wrong
    # Nothing else: a create retried after a lost answer did not make a second task.
    assert in_database.keys() <= {t.id for t in load.tasks}
    # Only requests in flight on the killed instance went unanswered.
    failed = [x for x in load.attempts if x.failed]
    late = [x for x in failed if not (x.started <= killed_by and x.ended >= killed_from)]
    assert not late, late
    assert len(failed) <= CLIENTS
    # Both instances took writes before one of them was killed.
    for instance in (a, b):
        writes = [line for line in instance.events("request") if line["method"] != "GET"]
        assert writes, f"{instance.address} took no writes"
