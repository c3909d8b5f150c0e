"""The whole app over HTTP (httpx + ASGITransport): on a migrated PostgreSQL database, directly and
through PgBouncer in transaction mode, and in memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

import httpx
import pytest
from starlette.applications import Starlette

from adapters.memory import AlwaysReady, MemoryStore
from adapters.persistence import upgrade_to_head
from taskservice.bootstrap import (
    Adapters,
    build_app,
    build_identity,
    build_verifier,
    live_timings,
)
from taskservice.services import ChangeHub, LiveTimings
from taskservice.settings import Settings
from tests.e2e.people import People, person
from tests.e2e.wire import STYLES, Wire
from tests.infra.pgbouncer import pgbouncer
from tests.integration.sql_backends import hinted
from tests.tokens import SECRET, hs256

STORAGE: Final = ("postgres", "pgbouncer", "memory")
ON_POSTGRES_ONLY: Final = pytest.mark.parametrize("storage", ["postgres"], scope="session")
"""For a test that looks into the database itself: the app's storage must be that database."""


def settings_for(database_url: str, tmp: Path, **overrides: object) -> Settings:
    """Test settings: the given database, a fixed secret, data in a temp folder, loose limits."""
    values: dict[str, object] = {
        "database_url": database_url,
        "secret": SECRET,
        "data_dir": tmp,
        "rate_limit_auth_per_address": "10000/minute",
        "rate_limit_failed_sign_in_per_email": "10000/minute",
        "rate_limit_failed_sign_in_per_email_all_addresses": "10000/minute",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def migrated_postgres_url(postgres_url: str) -> str:
    """This session's PostgreSQL database at the latest migration."""
    await asyncio.to_thread(upgrade_to_head, postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
async def pooled_postgres_url(migrated_postgres_url: str) -> AsyncIterator[str]:
    """This session's migrated database through PgBouncer in transaction mode, as the service
    is told of one: `pgbouncer=true` in the URL."""
    async with pgbouncer(migrated_postgres_url) as bouncer:
        yield hinted(bouncer.url)


@pytest.fixture(scope="session", params=STYLES)
def api_style(request: pytest.FixtureRequest) -> str:
    """Each response style in turn (`API_STYLE`): every test of the API runs in both."""
    style: str = request.param
    return style


@pytest.fixture(scope="session")
def wire(api_style: str) -> Wire:
    """Reads responses in the style in force."""
    return Wire(api_style)


def memory_adapters(settings: Settings, live: LiveTimings | None = None) -> Adapters:
    """The configured identity adapters on in-memory storage (live streams timed by `live`)."""
    verifier, closers = build_verifier(settings)
    issuer, hasher, throttle = build_identity(settings)
    hub = ChangeHub()
    return Adapters(
        uow=MemoryStore(hub),
        hub=hub,
        live_timings=live or live_timings(settings),
        readiness=AlwaysReady(),
        verifier=verifier,
        issuer=issuer,
        hasher=hasher,
        throttle=throttle,
        closers=(*closers, throttle.aclose),
    )


@pytest.fixture(scope="session", params=STORAGE)
def storage(request: pytest.FixtureRequest) -> str:
    """Each storage in turn: every test of the API runs on PostgreSQL, directly and through
    PgBouncer, and in memory."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, storage: str) -> str | None:
    """The migrated PostgreSQL database of this session (through PgBouncer for "pgbouncer"), or
    None for the in-memory storage."""
    # Asked for here, outside the event loop, so that a memory-only run needs no PostgreSQL.
    if storage == "memory":
        return None
    fixture = "pooled_postgres_url" if storage == "pgbouncer" else "migrated_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


def service_app(database_url: str | None, data: Path, **overrides: object) -> Starlette:
    """The whole service as `taskservice serve` builds it, on `database_url` or (None) in memory."""
    if database_url is None:
        # The URL is only named in the start-up log line; nothing opens it.
        settings = settings_for(f"sqlite:///{data / 'unused.db'}", data, **overrides)
        return build_app(settings, memory_adapters(settings))
    return build_app(settings_for(database_url, data, **overrides))


@pytest.fixture(scope="session")
async def app(
    tmp_path_factory: pytest.TempPathFactory, database_url: str | None, api_style: str
) -> AsyncIterator[Starlette]:
    """The service on one storage in one style, started and shut down through its lifespan."""
    application = service_app(database_url, tmp_path_factory.mktemp("data"), api_style=api_style)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def user() -> str:
    """A fresh user id, so tests never see each other's tasks."""
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def auth(user: str) -> dict[str, str]:
    """Headers authenticating as `user`."""
    return {"Authorization": f"Bearer {hs256(user)}"}


@pytest.fixture
def tasks_url(user: str) -> str:
    """The collection URL of `user`'s tasks."""
    return f"/api/{user}/tasks"


@pytest.fixture
def make_task(
    client: httpx.AsyncClient, tasks_url: str, auth: dict[str, str], wire: Wire
) -> Callable[..., object]:
    """Creates a task through the API and returns its JSON."""

    async def make(**fields: object) -> dict[str, object]:
        response = await client.post(tasks_url, json={"title": "a task", **fields}, headers=auth)
        assert response.status_code == 201, response.text
        data: dict[str, object] = wire.data(response)
        return data

    return make


@pytest.fixture
def people(client: httpx.AsyncClient, wire: Wire) -> People:
    """Makes new people (users with tokens of their own) calling the app through `client`."""
    return lambda: person(client, wire)
