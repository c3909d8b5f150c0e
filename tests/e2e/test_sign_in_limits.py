"""Sign-in limits over HTTP (SPEC §4): counted before the password is checked, per e-mail and
address, and per e-mail from all addresses; in process and on Redis."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from taskservice.bootstrap import build_app
from taskservice.serving import proxy_options
from tests.e2e.conftest import settings_for

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery"
STRICT = 10
ALL_ADDRESSES = 15


def new_email() -> str:
    return f"limits.{uuid.uuid4().hex[:10]}@example.com"


def new_host() -> str:
    """An address of a /64 no other test (or run, on a shared Redis) counts under."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"


@pytest.fixture(params=["memory", "redis"])
async def app(
    request: pytest.FixtureRequest, migrated_postgres_url: str, tmp_path: Path
) -> AsyncIterator[Starlette]:
    """The service with the default strict limit, a low limit from all addresses, on each store."""
    storage = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    settings = settings_for(
        migrated_postgres_url,
        tmp_path,
        rate_limit_storage=storage,
        rate_limit_auth_per_address="30/minute",
        rate_limit_failed_sign_in_per_email=f"{STRICT}/15 minutes",
        rate_limit_failed_sign_in_per_email_all_addresses=f"{ALL_ADDRESSES}/hour",
    )
    application = build_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def client_from(app: Starlette, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/sign-in", json={"email": email, "password": password})


async def signed_up(app: Starlette) -> str:
    email = new_email()
    async with client_from(app, new_host()) as client:
        body = {"email": email, "password": PASSWORD}
        assert (await client.post("/api/auth/sign-up", json=body)).status_code == 201
    return email


async def test_parallel_wrong_passwords_never_pass_the_limit(app: Starlette) -> None:
    email = await signed_up(app)
    async with client_from(app, new_host()) as client:
        responses = await asyncio.gather(
            *(sign_in(client, email, f"wrong password {n}") for n in range(20))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(401) <= STRICT
    assert statuses == [401] * statuses.count(401) + [429] * (20 - statuses.count(401))
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["error"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) > 0


async def test_a_stranger_elsewhere_cannot_lock_the_owner_out(app: Starlette) -> None:
    email = await signed_up(app)
    async with client_from(app, new_host()) as stranger:
        statuses = [(await sign_in(stranger, email, "guess guess")).status_code for _ in range(11)]
        locked = await sign_in(stranger, email, PASSWORD)
    async with client_from(app, new_host()) as owner:
        signed_in = await sign_in(owner, email, PASSWORD)

    assert statuses == [401] * STRICT + [429]
    assert locked.status_code == 429
    assert signed_in.status_code == 200


async def test_guessing_from_many_addresses_meets_the_limit_per_email(app: Starlette) -> None:
    email = await signed_up(app)
    statuses = []
    for _ in range(ALL_ADDRESSES + 1):
        async with client_from(app, new_host()) as guesser:
            statuses.append((await sign_in(guesser, email, "guess guess")).status_code)
    async with client_from(app, new_host()) as owner:
        refused = await sign_in(owner, email, PASSWORD)

    assert statuses == [401] * ALL_ADDRESSES + [429]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 15 * 60


async def test_a_successful_sign_in_forgives_the_mistakes_made_from_its_address(
    app: Starlette,
) -> None:
    email = await signed_up(app)
    async with client_from(app, new_host()) as owner:
        for _ in range(2):
            typos = [(await sign_in(owner, email, "typo typo")).status_code for _ in range(6)]
            assert typos == [401] * 6
            assert (await sign_in(owner, email, PASSWORD)).status_code == 200


async def test_ipv6_neighbours_in_one_64_share_a_limit(app: Starlette) -> None:
    email = await signed_up(app)
    network = new_host().removesuffix("::1")
    statuses = []
    for n in range(STRICT + 1):
        async with client_from(app, f"{network}:{n:x}:0:0:{n + 1:x}") as neighbour:
            statuses.append((await sign_in(neighbour, email, "guess guess")).status_code)
    async with client_from(app, new_host()) as elsewhere:
        other_network = await sign_in(elsewhere, email, "guess guess")

    assert statuses == [401] * STRICT + [429]
    assert other_network.status_code == 401


async def test_behind_a_listed_proxy_the_client_is_counted_whatever_it_writes(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    settings = settings_for(
        migrated_postgres_url,
        tmp_path,
        forwarded_allow_ips="10.0.0.0/24",
        rate_limit_auth_per_address="3/minute",
    )
    application = build_app(settings)
    config = uvicorn.Config(application, log_config=None, **proxy_options(settings))
    config.load()

    async def through_proxy(forwarded_for: str) -> int:
        async with client_from(config.loaded_app, "10.0.0.2") as proxy:
            headers = {"X-Forwarded-For": forwarded_for}
            body = {"email": new_email(), "password": "guess guess"}
            return (await proxy.post("/api/auth/sign-in", json=body, headers=headers)).status_code

    async with application.router.lifespan_context(application):
        spoofing = [await through_proxy(f"192.0.2.{n}, 203.0.113.5") for n in range(4)]
        other_client = await through_proxy("203.0.113.6")

    assert spoofing == [401, 401, 401, 429]
    assert other_client == 401
