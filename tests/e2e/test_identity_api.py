"""SPEC §10 over HTTP, on PostgreSQL and in memory, in both response styles: personal tokens,
revocation, a new password, the export and the account's deletion."""

from __future__ import annotations

import time
import uuid
from typing import Any
from unittest.mock import ANY

import httpx
import orjson

from tests.e2e.wire import Wire
from tests.tokens import hs256

PASSWORD = "correct horse battery"


async def account(client: httpx.AsyncClient, wire: Wire) -> tuple[dict[str, str], str, str]:
    """A new local account: its bearer header, user id and e-mail."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post("/api/auth/sign-up", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    session = wire.data(response)
    return {"Authorization": f"Bearer {session['token']}"}, session["user"]["id"], email


async def personal_token(
    client: httpx.AsyncClient, wire: Wire, auth: dict[str, str], *scopes: str, **extra: Any
) -> dict[str, Any]:
    """A new personal access token of the account."""
    body = {"name": "script", "scopes": list(scopes), **extra}
    response = await client.post("/api/auth/tokens", json=body, headers=auth)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = wire.data(response)
    return made


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_listed_without_its_secret_and_revoked_at_once(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, user_id, _ = await account(client, wire)
    made = await personal_token(client, wire, auth, "tasks:read", expires_in=3600)
    assert set(made) == {"id", "name", "scopes", "created_at", "expires_at", "token"}
    assert made["token"].startswith("tsk_")
    assert made["scopes"] == ["tasks:read"]
    listed = await client.get("/api/auth/tokens", headers=auth)
    assert listed.status_code == 200
    assert wire.data(listed) == [{k: v for k, v in made.items() if k != "token"}]
    assert made["token"] not in listed.text

    tasks = f"/api/{user_id}/tasks"
    assert (await client.get(tasks, headers=bearer(made["token"]))).status_code == 200
    revoked = await client.delete(f"/api/auth/tokens/{made['id']}", headers=auth)
    assert revoked.status_code == 200
    assert wire.data(revoked)["id"] == made["id"]
    refused = await client.get(tasks, headers=bearer(made["token"]))
    assert refused.status_code == 401
    assert wire.error(refused) == "UNAUTHORIZED"
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    again = await client.delete(f"/api/auth/tokens/{made['id']}", headers=auth)
    assert (again.status_code, wire.error(again)) == (404, "NOT_FOUND")


async def test_a_read_only_token_reads_and_gets_403_on_every_write(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, user_id, _ = await account(client, wire)
    created = await client.post(f"/api/{user_id}/tasks", json={"title": "mine"}, headers=auth)
    task = wire.data(created)
    reader = bearer((await personal_token(client, wire, auth, "tasks:read"))["token"])
    writer = bearer((await personal_token(client, wire, auth, "tasks:write"))["token"])
    one = f"/api/{user_id}/tasks/{task['id']}"

    assert (await client.get(f"/api/{user_id}/tasks", headers=reader)).status_code == 200
    assert (await client.get(one, headers=reader)).status_code == 200
    writes = [
        client.post(f"/api/{user_id}/tasks", json={"title": "no"}, headers=reader),
        client.put(one, json={"title": "no"}, headers=reader),
        client.patch(one, json={"title": "no"}, headers=reader),
        client.patch(f"{one}/complete", headers=reader),
        client.delete(one, headers=reader),
        # Refused for the scope before the body is judged.
        client.post(f"/api/{user_id}/tasks", json={"bogus": 1}, headers=reader),
    ]
    for write in writes:
        response = await write
        assert (response.status_code, wire.error(response)) == (403, "FORBIDDEN")
    assert wire.data(await client.get(one, headers=reader))["title"] == "mine"
    patched = await client.patch(one, json={"title": "changed"}, headers=writer)
    assert wire.data(patched)["title"] == "changed"
    # A token acts for its owner only.
    other = await client.get("/api/someone-else/tasks", headers=writer)
    assert other.status_code == 403


async def test_tokens_and_the_account_are_managed_only_with_a_sign_in_token(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, _, _ = await account(client, wire)
    made = await personal_token(client, wire, auth, "tasks:read", "tasks:write")
    pat = bearer(made["token"])
    attempts = [
        client.post("/api/auth/tokens", json={"name": "n", "scopes": ["tasks:read"]}, headers=pat),
        client.get("/api/auth/tokens", headers=pat),
        client.delete(f"/api/auth/tokens/{made['id']}", headers=pat),
        client.post("/api/auth/sign-out-everywhere", headers=pat),
        client.post("/api/auth/password", json={"current": PASSWORD, "new": "x" * 12}, headers=pat),
        client.get("/api/auth/export", headers=pat),
        client.request("DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=pat),
    ]
    for attempt in attempts:
        response = await attempt
        assert (response.status_code, wire.error(response)) == (403, "FORBIDDEN"), response.text
    assert (await client.get("/api/auth/me", headers=pat)).status_code == 200


async def test_a_bad_token_request_lists_every_broken_rule(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, _, _ = await account(client, wire)
    response = await client.post(
        "/api/auth/tokens", json={"name": "", "scopes": ["admin"], "expires_in": 1}, headers=auth
    )
    assert (response.status_code, wire.error(response)) == (422, "VALIDATION_ERROR")
    assert {d["field"] for d in wire.details(response)} == {"name", "scopes", "expires_in"}
    unknown = await client.delete("/api/auth/tokens/nope", headers=auth)
    assert unknown.status_code == 404
    assert (await client.get("/api/auth/tokens")).status_code == 401


async def test_a_frontends_user_can_have_tokens(client: httpx.AsyncClient, wire: Wire) -> None:
    user_id = f"frontend-{uuid.uuid4().hex[:8]}"
    made = await personal_token(client, wire, bearer(hs256(user_id)), "tasks:write")
    created = await client.post(
        f"/api/{user_id}/tasks", json={"title": "by script"}, headers=bearer(made["token"])
    )
    assert created.status_code == 201


async def test_signing_out_everywhere_ends_every_token_issued_before(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, user_id, email = await account(client, wire)
    pat = bearer((await personal_token(client, wire, auth, "tasks:read"))["token"])
    ended = await client.post("/api/auth/sign-out-everywhere", headers=auth)
    assert ended.status_code == 200
    assert set(wire.data(ended)) == {"ended_before"}
    for headers in (auth, pat):
        assert (await client.get(f"/api/{user_id}/tasks", headers=headers)).status_code == 401
    signed_in = await client.post("/api/auth/sign-in", json={"email": email, "password": PASSWORD})
    fresh = bearer(wire.data(signed_in)["token"])
    assert (await client.get(f"/api/{user_id}/tasks", headers=fresh)).status_code == 200


async def test_a_new_password_needs_the_current_one_and_keeps_only_this_session(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, user_id, email = await account(client, wire)
    wrong = await client.post(
        "/api/auth/password", json={"current": "not it at all", "new": "new password"}, headers=auth
    )
    assert (wrong.status_code, wire.error(wrong)) == (403, "FORBIDDEN")
    short = await client.post(
        "/api/auth/password", json={"current": PASSWORD, "new": "short"}, headers=auth
    )
    assert (short.status_code, wire.error(short)) == (422, "VALIDATION_ERROR")
    assert [d["field"] for d in wire.details(short)] == ["new"]

    changed = await client.post(
        "/api/auth/password", json={"current": PASSWORD, "new": "new password"}, headers=auth
    )
    assert changed.status_code == 200
    session = wire.data(changed)
    assert set(session) == {"user", "token", "expires_at"}
    assert (await client.get(f"/api/{user_id}/tasks", headers=auth)).status_code == 401
    tasks = await client.get(f"/api/{user_id}/tasks", headers=bearer(session["token"]))
    assert tasks.status_code == 200
    old = await client.post("/api/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post("/api/auth/sign-in", json={"email": email, "password": "new password"})
    assert new.status_code == 200


async def test_the_export_is_one_json_document_of_everything_and_no_secret(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, user_id, email = await account(client, wire)
    made = await personal_token(client, wire, auth, "tasks:read")
    for n in range(3):
        await client.post(f"/api/{user_id}/tasks", json={"title": f"t{n}"}, headers=auth)
    doomed = await client.post(f"/api/{user_id}/tasks", json={"title": "gone"}, headers=auth)
    doomed_id = wire.data(doomed)["id"]
    assert (await client.delete(f"/api/{user_id}/tasks/{doomed_id}", headers=auth)).is_success
    response = await client.get("/api/auth/export", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="taskservice-export-'
    )
    document = wire.data(response)
    assert list(document) == [
        "format",
        "exported_at",
        "account",
        "personal_tokens",
        "lists",
        "memberships",
        "tasks",
        "trash",
    ]
    assert document["account"]["email"] == email
    [inbox] = document["lists"]
    assert (inbox["is_default"], inbox["role"], inbox["counts"]) == (
        True,
        "owner",
        {"pending": 3, "completed": 0},
    )
    assert document["memberships"] == [
        {"list_id": inbox["id"], "user_id": user_id, "role": "owner", "joined_at": ANY}
    ]
    assert {t["list_id"] for t in document["tasks"]} == {inbox["id"]}
    assert document["account"]["has_password"] is True
    assert [t["title"] for t in document["tasks"]] == ["t0", "t1", "t2"]
    [trashed] = document["trash"]
    assert (trashed["id"], trashed["deleted_by"]) == (doomed_id, user_id)
    assert [t["id"] for t in document["personal_tokens"]] == [made["id"]]
    assert made["token"] not in response.text
    assert "argon2" not in response.text
    if not wire.plain:
        assert orjson.loads(response.content)["message"]


async def test_deleting_the_account_erases_it_and_its_tokens_stop_at_once(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    auth, user_id, email = await account(client, wire)
    pat = bearer((await personal_token(client, wire, auth, "tasks:read"))["token"])
    await client.post(f"/api/{user_id}/tasks", json={"title": "gone"}, headers=auth)
    other_auth, other_id, _ = await account(client, wire)
    await client.post(f"/api/{other_id}/tasks", json={"title": "kept"}, headers=other_auth)

    wrong = await client.request("DELETE", "/api/auth/me", json={"password": "nope"}, headers=auth)
    assert (wrong.status_code, wire.error(wrong)) == (403, "FORBIDDEN")
    missing = await client.request("DELETE", "/api/auth/me", json={}, headers=auth)
    assert (missing.status_code, wire.error(missing)) == (422, "VALIDATION_ERROR")

    deleted = await client.request(
        "DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=auth
    )
    assert deleted.status_code == 200
    assert wire.data(deleted)["id"] == user_id
    for headers in (auth, pat):
        assert (await client.get(f"/api/{user_id}/tasks", headers=headers)).status_code == 401
    signed_in = await client.post("/api/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 401
    kept = await client.get(f"/api/{other_id}/tasks", headers=other_auth)
    assert [t["title"] for t in wire.data(kept)] == ["kept"]


async def test_an_account_without_a_password_is_deleted_only_with_a_fresh_token(
    client: httpx.AsyncClient, wire: Wire
) -> None:
    user_id = f"frontend-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    stale = bearer(hs256(user_id, iat=now - 11 * 60))
    created = await client.post(f"/api/{user_id}/tasks", json={"title": "t"}, headers=stale)
    assert created.status_code == 201
    refused = await client.request("DELETE", "/api/auth/me", json={}, headers=stale)
    assert (refused.status_code, wire.error(refused)) == (403, "FORBIDDEN")
    assert "Sign in again" in wire.message(refused)
    fresh = bearer(hs256(user_id))
    deleted = await client.request("DELETE", "/api/auth/me", headers=fresh)
    assert deleted.status_code == 200
    listed = await client.get(f"/api/{user_id}/tasks", headers=fresh)
    assert wire.data(listed) == []
