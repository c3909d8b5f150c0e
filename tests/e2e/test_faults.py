"""The service under database faults: a proxy between it and PostgreSQL cuts, stalls and delays."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from adapters.persistence.engine import COMMAND_TIMEOUT_MARGIN_S
from taskservice.bootstrap import build_app
from tests.e2e.conftest import settings_for
from tests.e2e.wire import Wire
from tests.faulty_proxy import FaultyProxy
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

POOL_SIZE: Final = 3
POOL_TIMEOUT: Final = 1.0
CONNECT_TIMEOUT: Final = 1.0
STATEMENT_TIMEOUT_MS: Final = 1000
# No request may take longer than the slowest path through the configured timeouts.
ANSWER_WITHIN: Final = 4.0
RECOVER_WITHIN: Final = 5.0


@pytest.fixture
async def proxy(migrated_postgres_url: str) -> AsyncIterator[FaultyProxy]:
    """A proxy in front of this session's migrated database."""
    async with FaultyProxy.to(migrated_postgres_url) as running:
        yield running


@asynccontextmanager
async def service_behind(
    proxy: FaultyProxy, database_url: str, tmp: Path, api_style: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service, built from settings, talking to the database through `proxy`."""
    settings = settings_for(
        proxy.url(database_url),
        tmp,
        pool_size=POOL_SIZE,
        pool_timeout=POOL_TIMEOUT,
        connect_timeout=CONNECT_TIMEOUT,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        api_style=api_style,
    )
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


@pytest.fixture
async def client(
    proxy: FaultyProxy, migrated_postgres_url: str, tmp_path: Path, api_style: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The service behind `proxy`."""
    async with service_behind(proxy, migrated_postgres_url, tmp_path, api_style) as running:
        yield running


class User:
    """A fresh user of the API with its token."""

    def __init__(self) -> None:
        self.id = f"user-{uuid.uuid4().hex[:10]}"
        self.headers = {"Authorization": f"Bearer {hs256(self.id)}"}
        self.tasks = f"/api/{self.id}/tasks"


async def answered(
    request: Awaitable[httpx.Response], within: float = ANSWER_WITHIN
) -> httpx.Response:
    """The response to `request`, which must come within `within` seconds."""
    async with asyncio.timeout(within):
        return await request


def assert_unavailable(response: httpx.Response, wire: Wire) -> None:
    """The response is SPEC §1's 503 with a Retry-After."""
    assert response.status_code == 503, response.text
    assert wire.error(response) == "SERVICE_UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0


async def seconds_until_ok(client: httpx.AsyncClient, user: User) -> float:
    """Retries a create and a readiness probe until both succeed; returns how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < RECOVER_WITHIN + 2:
        created = await answered(client.post(user.tasks, json={"title": "t"}, headers=user.headers))
        ready = await answered(client.get("/readyz"))
        assert created.status_code in {201, 503}, created.text
        if created.status_code == 201 and ready.status_code == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    pytest.fail("the service did not recover")


async def test_a_lost_database_is_a_503_at_once_and_the_service_recovers(
    proxy: FaultyProxy, client: httpx.AsyncClient, wire: Wire
) -> None:
    user = User()
    created = await client.post(user.tasks, json={"title": "before"}, headers=user.headers)
    assert created.status_code == 201

    await proxy.cut()
    for _ in range(3):
        started = time.monotonic()
        assert_unavailable(await answered(client.get(user.tasks, headers=user.headers)), wire)
        assert_unavailable(
            await answered(client.post(user.tasks, json={"title": "x"}, headers=user.headers)),
            wire,
        )
        # Refused connections are known at once: no timeout is waited out.
        assert time.monotonic() - started < 0.5
    ready = await answered(client.get("/readyz"))
    assert ready.status_code == 503
    assert (await client.get("/healthz")).status_code == 200

    await proxy.restore()
    assert await seconds_until_ok(client, user) < RECOVER_WITHIN


async def test_a_stalled_database_is_a_503_within_the_timeouts_not_a_hang(
    proxy: FaultyProxy, client: httpx.AsyncClient, wire: Wire
) -> None:
    user = User()
    assert (await client.get(user.tasks, headers=user.headers)).status_code == 200

    proxy.blackhole()
    started = time.monotonic()
    assert_unavailable(await answered(client.get(user.tasks, headers=user.headers)), wire)
    # The connection answered a moment ago, so it is trusted without a ping (database.py): its
    # statement waits out the command timeout, and the connection is dropped.
    assert time.monotonic() - started < STATEMENT_TIMEOUT_MS / 1000 + COMMAND_TIMEOUT_MARGIN_S + 0.5
    for _ in range(2):
        started = time.monotonic()
        assert_unavailable(await answered(client.get(user.tasks, headers=user.headers)), wire)
        # A pooled connection gets one check and one reconnect, each within the connect timeout.
        assert time.monotonic() - started < 2 * CONNECT_TIMEOUT + 0.5
    assert (await answered(client.get("/readyz"))).status_code == 503

    await proxy.restore()
    assert await seconds_until_ok(client, user) < RECOVER_WITHIN


async def test_an_exhausted_pool_is_a_503_within_the_pool_timeout(
    proxy: FaultyProxy, client: httpx.AsyncClient, wire: Wire
) -> None:
    user = User()
    # Open every pooled connection first: slow requests overlap, so each needs its own.
    proxy.delay = 0.05
    warm = [client.get(user.tasks, headers=user.headers) for _ in range(POOL_SIZE)]
    assert {r.status_code for r in await asyncio.gather(*warm)} == {200}

    # Each round trip is slow, but quicker than any timeout: a create holds its connection for
    # three of them (BEGIN, INSERT, COMMIT), much longer than the pool timeout.
    proxy.delay = CONNECT_TIMEOUT * 0.7
    holders = [
        asyncio.create_task(client.post(user.tasks, json={"title": "slow"}, headers=user.headers))
        for _ in range(POOL_SIZE)
    ]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    assert_unavailable(await answered(client.get(user.tasks, headers=user.headers)), wire)
    assert time.monotonic() - started < POOL_TIMEOUT + 1

    await proxy.restore()
    async with asyncio.timeout(ANSWER_WITHIN):
        held = await asyncio.gather(*holders)
    assert [r.status_code for r in held] == [201] * POOL_SIZE


async def test_the_service_starts_without_its_database_and_gets_ready_when_it_appears(
    proxy: FaultyProxy, migrated_postgres_url: str, tmp_path: Path, wire: Wire
) -> None:
    await proxy.cut()
    async with service_behind(proxy, migrated_postgres_url, tmp_path, wire.style) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert_unavailable(await answered(client.get("/readyz")), wire)
        user = User()
        assert_unavailable(await answered(client.get(user.tasks, headers=user.headers)), wire)

        await proxy.restore()
        assert await seconds_until_ok(client, user) < RECOVER_WITHIN


async def test_a_login_the_database_refuses_is_a_503_not_a_500(
    migrated_postgres_url: str, tmp_path: Path, wire: Wire
) -> None:
    # An unknown role (SQLSTATE 28000), like a wrong password: the deployment's to mend.
    parts = urlsplit(migrated_postgres_url)
    refused = urlunsplit(parts._replace(netloc=f"nobody_at_all@{parts.hostname}:{parts.port}"))
    app = build_app(settings_for(refused, tmp_path, api_style=wire.style))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        user = User()
        assert_unavailable(await answered(client.get(user.tasks, headers=user.headers)), wire)
        assert_unavailable(
            await answered(client.post(user.tasks, json={"title": "x"}, headers=user.headers)),
            wire,
        )
        assert_unavailable(await answered(client.get("/readyz")), wire)


class Writer:
    """Creates tasks and rewrites one task of its own, recording what was acknowledged."""

    def __init__(self, client: httpx.AsyncClient, user: User, name: str, wire: Wire) -> None:
        self.client = client
        self.wire = wire
        self.user = user
        self.name = name
        self.acknowledged: dict[int, str] = {}
        self.failed: list[str] = []
        self.last_rewrite = ""
        self.statuses: list[int] = []

    async def run(self, own_task: int, until: float) -> None:
        """Write until the monotonic clock reaches `until`."""
        n = 0
        while time.monotonic() < until:
            n += 1
            await self._create(f"{self.name}-c{n}")
            await self._rewrite(own_task, f"{self.name}-r{n}")

    async def _create(self, token: str) -> None:
        response = await answered(
            self.client.post(self.user.tasks, json=_fields(token), headers=self.user.headers)
        )
        self.statuses.append(response.status_code)
        if response.status_code == 201:
            self.acknowledged[self.wire.data(response)["id"]] = token
        else:
            self.failed.append(token)

    async def _rewrite(self, task_id: int, token: str) -> None:
        url = f"{self.user.tasks}/{task_id}"
        response = await answered(
            self.client.patch(url, json=_fields(token), headers=self.user.headers)
        )
        self.statuses.append(response.status_code)
        if response.status_code == 200:
            self.last_rewrite = token


def _fields(token: str) -> dict[str, object]:
    # Three columns carry the same token, so a half-applied write would show as a mismatch.
    return {"title": token, "description": token, "tags": [token]}


async def test_acknowledged_writes_survive_a_cut_and_failed_ones_are_never_half_applied(
    proxy: FaultyProxy, client: httpx.AsyncClient, migrated_postgres_url: str, wire: Wire
) -> None:
    user = User()
    writers = [Writer(client, user, f"w{i}", wire) for i in range(4)]
    own = []
    for writer in writers:
        response = await client.post(
            user.tasks, json=_fields(f"{writer.name}-r0"), headers=user.headers
        )
        own.append(wire.data(response)["id"])

    until = time.monotonic() + 3.0
    runs = [asyncio.create_task(w.run(t, until)) for w, t in zip(writers, own, strict=True)]
    await asyncio.sleep(0.7)
    await proxy.cut()
    await asyncio.sleep(0.8)
    await proxy.restore()
    async with asyncio.timeout(10):
        await asyncio.gather(*runs)

    statuses = {s for w in writers for s in w.statuses}
    assert statuses <= {200, 201, 503}
    assert {201, 503} <= statuses, "the cut fell outside the writes"
    rows = await _rows(migrated_postgres_url, user.id)
    for task_id, (title, description, tags) in rows.items():
        assert (description, tags) == (title, [title]), f"half-applied write in task {task_id}"
    requested = {t for w in writers for t in [*w.acknowledged.values(), *w.failed]}
    assert {title for i, (title, _, _) in rows.items() if i not in own} <= requested
    for writer, task_id in zip(writers, own, strict=True):
        for acknowledged_id, token in writer.acknowledged.items():
            assert rows[acknowledged_id][0] == token
        # The last acknowledged rewrite is there, or a later one whose answer was lost.
        stored = rows[task_id][0]
        assert _n(stored) >= _n(writer.last_rewrite)


def _n(token: str) -> int:
    return int(token.rsplit("-r", 1)[1]) if "-r" in token else 0


async def _rows(database_url: str, user_id: str) -> dict[int, tuple[str, str, list[str]]]:
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        records = await connection.fetch(
            "SELECT id, title, description, tags::text AS tags FROM tasks WHERE user_id = $1",
            user_id,
        )
    finally:
        await connection.close()
    return {r["id"]: (r["title"], r["description"], json.loads(r["tags"])) for r in records}
