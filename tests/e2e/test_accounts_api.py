"""Local accounts over HTTP (SPEC §4): sign-up, sign-in, me, limits and the issued token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from argon2 import extract_parameters
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette

from adapters.auth.keys import Purpose, derived_key
from taskservice.bootstrap import build_app
from tests.e2e.conftest import ON_POSTGRES_ONLY, settings_for
from tests.e2e.wire import Wire
from tests.tokens import SECRET

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient
PASSWORD = "correct horse battery"


def new_email() -> str:
    return f"Person.{uuid.uuid4().hex[:8]}@Example.com"


async def sign_up(
    client: Client, email: str, password: str = PASSWORD, **extra: object
) -> httpx.Response:
    return await client.post(
        "/api/auth/sign-up", json={"email": email, "password": password, **extra}
    )


async def test_sign_up_sign_in_me_and_create_a_task(client: Client, wire: Wire) -> None:
    email = new_email()

    created = await sign_up(client, f"  {email} ", name="Ada")
    assert created.status_code == 201, created.text
    data = wire.data(created)
    assert data["user"]["email"] == email
    assert data["user"]["name"] == "Ada"
    assert set(data) == {"user", "token", "expires_at"}
    assert set(data["user"]) == {"id", "email", "name", "created_at"}

    signed_in = await client.post(
        "/api/auth/sign-in", json={"email": email.upper(), "password": PASSWORD}
    )
    assert signed_in.status_code == 200
    token = wire.data(signed_in)["token"]
    auth = {"Authorization": f"Bearer {token}"}

    me = await client.get("/api/auth/me", headers=auth)
    assert me.status_code == 200
    assert wire.data(me)["id"] == data["user"]["id"]

    user_id = data["user"]["id"]
    task = await client.post(f"/api/{user_id}/tasks", json={"title": "mine"}, headers=auth)
    assert task.status_code == 201
    assert wire.data(task)["user_id"] == user_id


async def test_issued_token_has_the_claims_of_the_spec(client: Client, wire: Wire) -> None:
    response = await sign_up(client, new_email())
    data = wire.data(response)

    session_key = OctKey.import_key(derived_key(SECRET, Purpose.SESSION_TOKENS))
    claims = jwt.decode(data["token"], session_key, algorithms=["HS256"]).claims
    assert set(claims) == {"sub", "iat", "exp", "jti"}
    assert claims["sub"] == data["user"]["id"]
    assert claims["exp"] - int(claims["iat"]) == 7 * 24 * 3600
    assert data["expires_at"].endswith("Z")


async def test_duplicate_email_is_a_conflict_case_insensitively(client: Client, wire: Wire) -> None:
    email = new_email()
    assert (await sign_up(client, email)).status_code == 201
    again = await sign_up(client, email.swapcase())
    assert again.status_code == 409
    assert wire.error(again) == "CONFLICT"


async def test_a_race_of_two_sign_ups_with_one_email_gives_one_201_and_one_409(
    client: Client,
) -> None:
    email = new_email()
    responses = await asyncio.gather(sign_up(client, email), sign_up(client, email.lower()))
    assert sorted(r.status_code for r in responses) == [201, 409]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@b.co", "password": "short"}, "password"),
        ({"email": "a@b.co", "password": "x" * 129}, "password"),
        ({"email": "x" * 250 + "@b.co", "password": PASSWORD}, "email"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@b.co", "password": PASSWORD, "role": "admin"}, "role"),
        ({"email": "a\x00b@b.co", "password": PASSWORD}, "email"),
        ({"email": "a\x07b@b.co", "password": PASSWORD}, "email"),
    ],
)
async def test_sign_up_rules(
    client: Client, body: dict[str, object], field: str, wire: Wire
) -> None:
    response = await client.post("/api/auth/sign-up", json=body)
    assert response.status_code == 422
    assert field in {d["field"] for d in wire.details(response)}


async def test_signing_in_with_a_nul_in_the_email_is_just_unknown(
    client: Client, wire: Wire
) -> None:
    response = await client.post(
        "/api/auth/sign-in", json={"email": "a\x00b@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert wire.error(response) == "INVALID_CREDENTIALS"


async def test_password_boundaries_are_accepted(client: Client) -> None:
    assert (await sign_up(client, new_email(), "x" * 8)).status_code == 201
    assert (await sign_up(client, new_email(), "x" * 128)).status_code == 201


async def test_unknown_email_and_wrong_password_get_the_same_answer(
    client: Client, wire: Wire
) -> None:
    email = new_email()
    await sign_up(client, email)

    wrong_password = await client.post(
        "/api/auth/sign-in", json={"email": email, "password": "wrong password"}
    )
    unknown_email = await client.post(
        "/api/auth/sign-in", json={"email": new_email(), "password": PASSWORD}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.content == unknown_email.content
    assert wire.error(wrong_password) == "INVALID_CREDENTIALS"


@ON_POSTGRES_ONLY
async def test_password_is_stored_with_argon2id_at_owasp_parameters(
    client: Client, migrated_postgres_url: str
) -> None:
    import asyncpg

    email = new_email()
    await sign_up(client, email)
    conn = await asyncpg.connect(migrated_postgres_url)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    finally:
        await conn.close()

    assert stored.startswith("$argon2id$")
    params = extract_parameters(stored)
    # OWASP: argon2id with m >= 19 MiB and t >= 2 (or stronger trade-offs), p = 1.
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert PASSWORD not in stored


async def test_me_requires_a_token(client: Client) -> None:
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture
async def strict_app(
    migrated_postgres_url: str, tmp_path: Path, api_style: str
) -> AsyncIterator[Starlette]:
    settings = settings_for(
        migrated_postgres_url,
        tmp_path,
        rate_limit_auth_per_address="30/minute",
        rate_limit_failed_sign_in_per_email="10/15 minutes",
        allow_signup=False,
        api_style=api_style,
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_sign_up_can_be_turned_off(strict_app: Starlette, wire: Wire) -> None:
    async with Client(transport=httpx.ASGITransport(app=strict_app), base_url="http://t") as client:
        response = await sign_up(client, new_email())
    assert response.status_code == 403
    assert wire.error(response) == "FORBIDDEN"


async def test_failed_sign_ins_per_email_are_limited(
    strict_app: Starlette, client: Client, wire: Wire
) -> None:
    email = new_email()
    await sign_up(client, email)
    transport = httpx.ASGITransport(app=strict_app, client=("203.0.113.7", 1234))
    async with Client(transport=transport, base_url="http://t") as strict:
        statuses = [
            (
                await strict.post(
                    "/api/auth/sign-in", json={"email": email, "password": "nope nope"}
                )
            ).status_code
            for _ in range(11)
        ]
        # Even the right password is refused while the e-mail is locked.
        locked = await strict.post("/api/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert statuses == [401] * 10 + [429]
    assert locked.status_code == 429
    assert wire.error(locked) == "RATE_LIMITED"
    assert int(locked.headers["retry-after"]) > 0


async def test_attempts_per_address_are_limited(strict_app: Starlette) -> None:
    transport = httpx.ASGITransport(app=strict_app, client=("198.51.100.9", 1234))
    async with Client(transport=transport, base_url="http://t") as strict:
        statuses = [
            (
                await strict.post(
                    "/api/auth/sign-in", json={"email": new_email(), "password": "whatever1"}
                )
            ).status_code
            for _ in range(31)
        ]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429
