"""GET /api/{user_id}/events over real HTTP (SPEC §8 live events): the feed as it happens,
resumed with Last-Event-ID or ?since=, heartbeats, the end of a stream, and who may open one.

The service runs in uvicorn on a loopback port (httpx's ASGITransport waits for a whole
response, which a stream never gives), in memory, with its stream durations shortened.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest

from taskservice.bootstrap import build_app
from taskservice.services import LiveTimings
from tests.e2e.browser import serve
from tests.e2e.conftest import memory_adapters, settings_for
from tests.e2e.sse import WITHIN, opened
from tests.tokens import hs256

TIMINGS: Final = LiveTimings(heartbeat=0.3, lifetime=2.0)
EVENTS: Final = "text/event-stream"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service in memory, with short heartbeats and two-second streams."""
    data: Path = tmp_path_factory.mktemp("events")
    settings = settings_for(f"sqlite:///{data / 'unused.db'}", data, cookie_secure=False)
    with serve(build_app(settings, memory_adapters(settings, TIMINGS))) as served:
        yield served


@pytest.fixture
async def client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the served service."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as made:
        yield made


@pytest.fixture
def user() -> str:
    """A user of their own."""
    return f"user-{uuid.uuid4().hex[:10]}"


def bearer(user: str) -> dict[str, str]:
    """The Authorization header of a sign-in token of `user`."""
    return {"Authorization": f"Bearer {hs256(user)}"}


async def create(client: httpx.AsyncClient, user: str, title: str) -> int:
    """A new task of `user`'s; its id."""
    response = await client.post(f"/api/{user}/tasks", json={"title": title}, headers=bearer(user))
    assert response.status_code == 201, response.text
    task_id: int = response.json()["data"]["id"]
    return task_id


async def test_a_stream_sends_the_full_sync_then_each_change_as_it_happens(
    client: httpx.AsyncClient, user: str
) -> None:
    first = await create(client, user, "before")
    async with opened(client, f"/api/{user}/events", bearer(user)) as stream:
        assert stream.response.headers["cache-control"] == "no-store"
        listed = await stream.entry_where(kind="list", op="upsert")
        assert listed.event == "change"
        assert listed.entry["data"]["is_default"] is True
        synced = await stream.entry_where(kind="task", id=first)
        assert synced.entry["op"] == "upsert"
        assert synced.entry["data"]["title"] == "before"
        assert synced.id

        later = await create(client, user, "after")
        live = await stream.entry_where(kind="task", id=later)
        assert live.entry["data"]["title"] == "after"
        assert live.id not in (None, synced.id)

        response = await client.delete(f"/api/{user}/tasks/{first}", headers=bearer(user))
        assert response.status_code == 200
        gone = await stream.entry_where(kind="task", id=first)
        assert gone.entry == {"kind": "task", "id": first, "op": "delete", "data": None}

        response = await client.post(f"/api/{user}/trash/{first}/restore", headers=bearer(user))
        assert response.status_code == 200, response.text
        back = await stream.entry_where(kind="task", id=first)
        assert back.entry["op"] == "upsert"


async def test_a_reconnect_resumes_after_the_last_event_it_received(
    client: httpx.AsyncClient, user: str
) -> None:
    first = await create(client, user, "one")
    async with opened(client, f"/api/{user}/events", bearer(user)) as stream:
        seen = await stream.entry_where(kind="task", id=first)
    assert seen.id is not None
    second = await create(client, user, "two")

    resumed_headers = {**bearer(user), "Last-Event-ID": seen.id}
    async with opened(client, f"/api/{user}/events", resumed_headers) as stream:
        resumed = await stream.entry_where(kind="task")
        # The list comes again (its counts changed), the first task does not.
        assert resumed.entry["id"] == second
    # The same with ?since=, and Last-Event-ID wins over it (a browser sends both on reconnect).
    async with opened(client, f"/api/{user}/events?since={seen.id}", bearer(user)) as stream:
        assert (await stream.entry_where(kind="task")).entry["id"] == second
    assert resumed.id is not None
    both = {**bearer(user), "Last-Event-ID": resumed.id}
    async with opened(client, f"/api/{user}/events?since={seen.id}", both) as stream:
        third = await create(client, user, "three")
        assert (await stream.entry_where(kind="task")).entry["id"] == third


async def test_a_quiet_stream_sends_heartbeats_and_ends_after_its_lifetime(
    client: httpx.AsyncClient, user: str
) -> None:
    async with opened(client, f"/api/{user}/events", bearer(user)) as stream:
        comments = 0
        while (received := await stream.next()) is not None:
            comments += received.comment == "ping"
    # Two seconds of a stream with a heartbeat every 0.3 s: it pinged, then the server ended it.
    assert comments >= 2


async def test_a_stream_needs_a_token_and_never_takes_one_from_the_url(
    client: httpx.AsyncClient, user: str
) -> None:
    token = hs256(user)
    for path in (
        f"/api/{user}/events",
        f"/api/{user}/events?access_token={token}",
        f"/api/{user}/events?token={token}",
    ):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"] == "UNAUTHORIZED"
    response = await client.get(f"/api/{user}/events?access_token={token}", headers=bearer(user))
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "access_token"
    other = f"user-{uuid.uuid4().hex[:10]}"
    response = await client.get(f"/api/{other}/events", headers=bearer(user))
    assert response.status_code == 403
    for since in ("forged", ""):
        response = await client.get(f"/api/{user}/events?since={since}", headers=bearer(user))
        assert response.status_code == 422
        assert response.json()["details"][0]["field"] == "since"


async def test_the_web_session_cookie_opens_a_stream_from_the_same_origin_only(
    client: httpx.AsyncClient, user: str, url: str
) -> None:
    cookie = {"Cookie": f"session={hs256(user)}"}
    first = await create(client, user, "by cookie")
    same_origin = {**cookie, "Sec-Fetch-Site": "same-origin", "Origin": url}
    async with opened(client, f"/api/{user}/events", same_origin) as stream:
        assert (await stream.entry_where(kind="task")).entry["id"] == first
    for foreign in (
        {**cookie, "Sec-Fetch-Site": "same-site"},
        {**cookie, "Sec-Fetch-Site": "cross-site"},
        {**cookie, "Origin": "http://elsewhere.example"},
    ):
        response = await client.get(f"/api/{user}/events", headers=foreign)
        assert response.status_code == 401, foreign
    made = await client.post(
        "/api/auth/tokens", json={"name": "script", "scopes": ["tasks:read"]}, headers=bearer(user)
    )
    assert made.status_code == 201, made.text
    scoped = made.json()["data"]["token"]
    response = await client.get(
        f"/api/{user}/events", headers={"Authorization": f"Bearer {scoped}"}
    )
    assert response.status_code == 200, "the token itself may stream, in its header"
    response = await client.get(f"/api/{user}/events", headers={"Cookie": f"session={scoped}"})
    assert response.status_code == 401, "a personal access token in a cookie signs nobody in"


async def test_signing_out_everywhere_ends_an_open_stream(tmp_path: Path) -> None:
    # A stream that would last a minute: only the revoked token can end it within the wait.
    settings = settings_for(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path)
    timings = LiveTimings(heartbeat=0.3, lifetime=60.0)
    with serve(build_app(settings, memory_adapters(settings, timings))) as served:
        async with httpx.AsyncClient(base_url=served, timeout=10) as client:
            email = f"stream-{uuid.uuid4().hex[:8]}@example.com"
            made = await client.post(
                "/api/auth/sign-up", json={"email": email, "password": "correct horse battery"}
            )
            assert made.status_code == 201, made.text
            session = made.json()["data"]
            user, headers = session["user"]["id"], {"Authorization": f"Bearer {session['token']}"}
            async with opened(client, f"/api/{user}/events", headers) as stream:
                response = await client.post("/api/auth/sign-out-everywhere", headers=headers)
                assert response.status_code == 200, response.text
                # Heartbeats keep coming until the next check of the token ends the stream.
                async with asyncio.timeout(WITHIN):
                    while await stream.next() is not None:
                        pass
            response = await client.get(f"/api/{user}/events", headers=headers)
            assert response.status_code == 401
