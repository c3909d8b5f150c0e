"""A Next.js + Better Auth frontend's tokens, end to end: JWKS (EdDSA) and the shared secret."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from taskservice.bootstrap import build_app
from tests.better_auth import BASE, SigningKey, ed25519_key, serving
from tests.better_auth_js import BetterAuthJs
from tests.e2e.conftest import settings_for
from tests.e2e.wire import Wire
from tests.tokens import SECRET, hs256

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return ed25519_key("ba-key-1")


@pytest.fixture
async def client(
    migrated_postgres_url: str, tmp_path: Path, signing_key: SigningKey, api_style: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app configured like a Better Auth deployment: BETTER_AUTH_URL plus its JWKS."""
    async with serving({"keys": [signing_key.jwk]}) as jwks:
        settings = settings_for(
            migrated_postgres_url,
            tmp_path,
            better_auth_url=BASE,
            better_auth_jwks_url=jwks.url,
            api_style=api_style,
        )
        app = build_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                yield c


async def test_both_kinds_of_token_reach_their_owners_tasks_and_nothing_else(
    client: httpx.AsyncClient, signing_key: SigningKey, wire: Wire
) -> None:
    jwks_user = f"ba_{uuid.uuid4().hex[:8]}"
    secret_user = f"hs_{uuid.uuid4().hex[:8]}"
    jwks_auth = {"Authorization": f"Bearer {signing_key.token(sub=jwks_user)}"}
    secret_auth = {"Authorization": f"Bearer {hs256(secret_user, iss=BASE, aud=BASE)}"}

    mine = await client.post(
        f"/api/{jwks_user}/tasks", json={"title": "from next.js"}, headers=jwks_auth
    )
    theirs = await client.post(
        f"/api/{secret_user}/tasks", json={"title": "hs256"}, headers=secret_auth
    )
    assert mine.status_code == theirs.status_code == 201

    listing = await client.get(f"/api/{jwks_user}/tasks", headers=jwks_auth)
    assert [t["title"] for t in wire.data(listing)] == ["from next.js"]
    cross = await client.get(f"/api/{secret_user}/tasks", headers=jwks_auth)
    assert cross.status_code == 403
    peek = await client.get(f"/api/{jwks_user}/tasks/{wire.data(theirs)['id']}", headers=jwks_auth)
    assert peek.status_code == 404


async def test_wrong_issuer_or_audience_is_refused(
    client: httpx.AsyncClient, signing_key: SigningKey
) -> None:
    for claims in ({"iss": "https://evil.example"}, {"aud": "https://evil.example"}, {"aud": None}):
        token = signing_key.token(sub="ba_x", **claims)
        response = await client.get("/api/ba_x/tasks", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, claims
    hs = hs256("hs_x", iss="https://evil.example")
    assert (
        await client.get("/api/hs_x/tasks", headers={"Authorization": f"Bearer {hs}"})
    ).status_code == 401


async def test_first_seen_user_is_provisioned_once_under_concurrent_first_requests(
    client: httpx.AsyncClient, signing_key: SigningKey, migrated_postgres_url: str, wire: Wire
) -> None:
    user = f"ba_{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {signing_key.token(sub=user, email='Ada@Example.com')}"}

    responses = await asyncio.gather(
        *(
            client.post(f"/api/{user}/tasks", json={"title": f"t{i}"}, headers=auth)
            for i in range(5)
        )
    )

    assert [r.status_code for r in responses] == [201] * 5
    conn = await asyncpg.connect(migrated_postgres_url)
    try:
        rows = await conn.fetch("SELECT email, password_hash FROM users WHERE id = $1", user)
    finally:
        await conn.close()
    assert [(r["email"], r["password_hash"]) for r in rows] == [("Ada@Example.com", None)]
    me = await client.get("/api/auth/me", headers=auth)
    assert wire.data(me)["id"] == user


async def test_a_token_users_email_never_links_to_a_local_account(
    client: httpx.AsyncClient, signing_key: SigningKey, wire: Wire
) -> None:
    email = f"same-{uuid.uuid4().hex[:8]}@example.com"
    local = await client.post("/api/auth/sign-up", json={"email": email, "password": "password123"})
    assert local.status_code == 201
    local_id = wire.data(local)["user"]["id"]
    outsider = f"ba_{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {signing_key.token(sub=outsider, email=email)}"}

    assert (await client.get(f"/api/{local_id}/tasks", headers=auth)).status_code == 403
    me = await client.get("/api/auth/me", headers=auth)
    assert wire.data(me)["id"] == outsider


async def test_better_auths_session_cookie_works_through_the_whole_task_api(
    client: httpx.AsyncClient, better_auth_js: BetterAuthJs, wire: Wire
) -> None:
    # What a Next.js frontend forwards from its `better-auth.session_data` cookie when Better
    # Auth runs with session.cookieCache = {enabled: true, strategy: "jwt"}.
    people = [
        {
            "email": f"{name}.{uuid.uuid4().hex[:8]}@example.com",
            "password": "pw-12345678",
            "name": name,
        }
        for name in ("ada", "bob")
    ]
    ada, bob = await better_auth_js.run(
        "session-cookie", {"secret": SECRET.decode(), "users": people}
    )
    auth = {"Authorization": f"Bearer {ada['cookies']['better-auth.session_data']}"}
    theirs = {"Authorization": f"Bearer {bob['cookies']['better-auth.session_data']}"}
    tasks = f"/api/{ada['userId']}/tasks"

    empty = await client.get(tasks, headers=auth)
    assert (empty.status_code, wire.data(empty)) == (200, [])
    created = await client.post(tasks, json={"title": "Buy milk"}, headers=auth)
    assert created.status_code == 201, created.text
    task = f"{tasks}/{wire.data(created)['id']}"
    assert wire.data(await client.get(task, headers=auth))["title"] == "Buy milk"
    put = await client.put(task, json={"title": "Buy oat milk", "priority": "high"}, headers=auth)
    assert wire.data(put)["priority"] == "high"
    patched = await client.patch(task, json={"tags": ["home"]}, headers=auth)
    assert wire.data(patched)["tags"] == ["home"]
    done = await client.patch(f"{task}/complete", json={"completed": True}, headers=auth)
    assert wire.data(done)["completed"] is True
    listed = await client.get(tasks, headers=auth)
    assert [(t["title"], t["completed"]) for t in wire.data(listed)] == [("Buy oat milk", True)]
    me = await client.get("/api/auth/me", headers=auth)
    assert (wire.data(me)["id"], wire.data(me)["email"]) == (ada["userId"], ada["email"])

    assert (await client.get(tasks, headers=theirs)).status_code == 403
    peek = f"/api/{bob['userId']}/tasks/{wire.data(created)['id']}"
    assert (await client.get(peek, headers=theirs)).status_code == 404

    deleted = await client.delete(task, headers=auth)
    assert wire.data(deleted)["title"] == "Buy oat milk"
    assert (await client.get(task, headers=auth)).status_code == 404
