"""Security of SPEC §10: token hashes only at rest, no personal token in any log line, password
changes rate limited, revocation across instances within a second, no extra round trip."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import asyncpg
import attrs
import httpx
import pytest
from starlette.applications import Starlette

from domain.sessions import REVOCATION_DELAY
from taskservice.bootstrap import build_adapters, build_app
from taskservice.ports import UnitOfWork, UnitOfWorkFactory
from tests.e2e.conftest import ON_POSTGRES_ONLY, settings_for
from tests.e2e.test_internal_errors import ExplodingUnitOfWork
from tests.e2e.test_logs import json_logs, parsed
from tests.e2e.wire import Wire

__all__ = ["json_logs"]  # the fixture, used by name below
PASSWORD = "correct horse battery"
SLACK_S = 0.5


async def account(client: httpx.AsyncClient, wire: Wire) -> tuple[dict[str, str], str]:
    """A new local account's bearer header and user id."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post("/api/auth/sign-up", json={"email": email, "password": PASSWORD})
    session = wire.data(response)
    return {"Authorization": f"Bearer {session['token']}"}, session["user"]["id"]


async def new_token(
    client: httpx.AsyncClient, wire: Wire, auth: dict[str, str], scope: str = "tasks:read"
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/tokens", json={"name": "s", "scopes": [scope]}, headers=auth
    )
    made: dict[str, Any] = wire.data(response)
    return made


@ON_POSTGRES_ONLY
async def test_only_the_hash_of_a_token_is_at_rest(
    client: httpx.AsyncClient, wire: Wire, migrated_postgres_url: str
) -> None:
    auth, _ = await account(client, wire)
    made = await new_token(client, wire, auth)
    secret = made["token"]
    connection = await asyncpg.connect(migrated_postgres_url)
    try:
        row = await connection.fetchrow("SELECT * FROM personal_tokens WHERE id = $1", made["id"])
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        dumps = [
            str(await connection.fetch(f'SELECT * FROM "{t["table_name"]}"'))  # noqa: S608
            for t in tables
        ]
    finally:
        await connection.close()
    assert row is not None
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    # Neither the token nor its random part is anywhere in the database.
    assert not [d for d in dumps if secret[4:] in d]


async def test_no_personal_token_is_ever_logged(
    client: httpx.AsyncClient, wire: Wire, json_logs: Callable[[], list[str]], tmp_path: Path
) -> None:
    auth, user_id = await account(client, wire)
    reader, revoked = await new_token(client, wire, auth), await new_token(client, wire, auth)
    await client.delete(f"/api/auth/tokens/{revoked['id']}", headers=auth)
    junk = "tsk_" + "A" * 40
    tasks = f"/api/{user_id}/tasks"

    def as_(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    sent = [
        await client.get(tasks, headers=as_(reader["token"])),
        await client.post(tasks, json={"title": "x"}, headers=as_(reader["token"])),
        await client.post(tasks, json={"bogus": 1}, headers=as_(reader["token"])),
        await client.get("/api/auth/tokens", headers=as_(reader["token"])),
        await client.get(tasks, headers=as_(revoked["token"])),
        await client.get(tasks, headers=as_(junk)),
        await client.get("/no/such/route", headers=as_(reader["token"])),
        await client.get("/tasks", headers={"Cookie": f"__Host-session={reader['token']}"}),
    ]
    assert [r.status_code for r in sent][:6] == [200, 403, 403, 403, 401, 401]
    # A bug while the token is checked: a 500 with its traceback in the log.
    settings = settings_for("sqlite:///unused.db", tmp_path, api_style=wire.style)
    broken = build_app(
        settings,
        attrs.evolve(build_adapters(settings), uow=ExplodingUnitOfWork(RuntimeError("boom"))),
    )
    transport = httpx.ASGITransport(app=broken)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
        failed = await other.get(tasks, headers=as_(reader["token"]))
    assert failed.status_code == 500

    lines = json_logs()
    records = parsed(lines)
    assert any(r.get("event") == "unhandled error" for r in records)
    assert len([r for r in records if r.get("event") == "request"]) >= len(sent) + 1
    for secret in (reader["token"], revoked["token"], junk):
        assert not [line for line in lines if secret[4:] in line]


async def test_password_changes_are_rate_limited(tmp_path: Path, wire: Wire) -> None:
    settings = settings_for(
        "sqlite:///unused.db",
        tmp_path,
        api_style=wire.style,
        rate_limit_failed_sign_in_per_email="3/minute",
    )
    from tests.e2e.conftest import memory_adapters

    app = build_app(settings, memory_adapters(settings))
    async with app.router.lifespan_context(app), client_of(app) as client:
        auth, _ = await account(client, wire)
        statuses = []
        for _ in range(4):
            response = await client.post(
                "/api/auth/password",
                json={"current": "guess guess", "new": "new password"},
                headers=auth,
            )
            statuses.append(response.status_code)
        assert statuses == [403, 403, 403, 429]
        assert int(response.headers["retry-after"]) > 0
        assert wire.error(response) == "RATE_LIMITED"
        right = await client.post(
            "/api/auth/password", json={"current": PASSWORD, "new": "new password"}, headers=auth
        )
        assert right.status_code == 429  # refused unchecked, as a sign-in is


@asynccontextmanager
async def client_of(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def instance(
    url: str, data: Path, uow: Callable[[UnitOfWorkFactory], Any] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """One instance of the service on PostgreSQL, and a client of it."""
    settings = settings_for(url, data)
    adapters = build_adapters(settings)
    if uow is not None:
        adapters = attrs.evolve(adapters, uow=uow(adapters.uow))
    app = build_app(settings, adapters)
    async with app.router.lifespan_context(app), client_of(app) as client:
        yield client


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["sign-out-everywhere", "password"])
async def test_revocation_reaches_every_instance_within_a_second(
    migrated_postgres_url: str, tmp_path: Path, how: str
) -> None:
    wire = Wire("envelope")
    async with (
        instance(migrated_postgres_url, tmp_path / "here") as here,
        instance(migrated_postgres_url, tmp_path / "there") as there,
    ):
        auth, user_id = await account(here, wire)
        pat = {"Authorization": f"Bearer {(await new_token(here, wire, auth))['token']}"}
        tasks = f"/api/{user_id}/tasks"
        for client in (here, there):
            for headers in (auth, pat):
                assert (await client.get(tasks, headers=headers)).status_code == 200
        if how == "password":
            body = {"current": PASSWORD, "new": "new password"}
            assert (
                await here.post("/api/auth/password", json=body, headers=auth)
            ).status_code == 200
        else:
            assert (
                await here.post("/api/auth/sign-out-everywhere", headers=auth)
            ).status_code == 200
        revoked = time.monotonic()
        for headers in (auth, pat):
            assert (await here.get(tasks, headers=headers)).status_code == 401
        # Personal tokens are looked up on every use: refused at once there too.
        assert (await there.get(tasks, headers=pat)).status_code == 401
        while (status := (await there.get(tasks, headers=auth)).status_code) == 200:
            assert time.monotonic() - revoked < REVOCATION_DELAY.total_seconds() + SLACK_S
            await asyncio.sleep(0.02)
        assert status == 401


@attrs.define
class Calls:
    """Every repository method called, in order: each is one statement, one round trip."""

    names: list[str] = attrs.Factory(list)


class _Counted:
    def __init__(self, repository: Any, prefix: str, calls: Calls) -> None:
        self._repository, self._prefix, self._calls = repository, prefix, calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._repository, name)
        self._calls.names.append(f"{self._prefix}.{name}")
        return method


class CountingWork:
    """A unit of work whose repository calls are counted."""

    def __init__(self, inner: UnitOfWork, calls: Calls) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        return value if callable(value) else _Counted(value, name, self._calls)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(kind, exc, tb)


@pytest.mark.postgres
async def test_revocation_adds_no_round_trip_to_a_sign_in_tokens_list(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    calls = Calls()

    def counting(inner: UnitOfWorkFactory) -> Any:
        return lambda: CountingWork(inner(), calls)

    wire = Wire("envelope")
    async with instance(migrated_postgres_url, tmp_path, counting) as client:
        auth, user_id = await account(client, wire)
        calls.names.clear()
        started = time.monotonic()
        requests = 20
        for _ in range(requests):
            assert (await client.get(f"/api/{user_id}/tasks", headers=auth)).status_code == 200
        elapsed = time.monotonic() - started
    pages = calls.names.count("tasks.page_with_counts")
    tags = calls.names.count("changes.stamps")  # the page's ETag (SPEC §8), read before it
    session_reads = calls.names.count("sessions.ended")
    assert pages == tags == requests
    # The ended sessions are read once a second per user and process, not once a request.
    assert 1 <= session_reads <= 1 + int(elapsed / REVOCATION_DELAY.total_seconds())
    assert len(calls.names) == pages + tags + session_reads, calls.names
