"""The settings page over HTTP (SPEC §10): every form CSRF-protected, destructive ones confirmed,
everything working without JavaScript."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from adapters.memory import MemoryStore
from tests.e2e.web_conftest import PASSWORD, Html, new_email, web_app

Client = httpx.AsyncClient
BASE = "https://testserver"
COOKIE = "__Host-session"
_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=web_app(MemoryStore()))
    async with Client(transport=transport, base_url=BASE) as c:
        yield c


async def signed_up(client: Client) -> str:
    """Sign a new account up; its e-mail."""
    email = new_email()
    page = Html((await client.get("/sign-up")).text)
    data = {"csrf_token": page.value("csrf_token"), "email": email, "password": PASSWORD}
    assert (await client.post("/sign-up", data=data)).status_code == 303
    return email


async def token_of(client: Client) -> str:
    return Html((await client.get("/settings")).text).value("csrf_token")


async def post(client: Client, url: str, **fields: str) -> httpx.Response:
    fields.setdefault("csrf_token", await token_of(client))
    return await client.post(url, data=fields)


async def sign_in(client: Client, email: str, password: str) -> httpx.Response:
    form = Html((await client.get("/sign-in")).text)
    data = {"csrf_token": form.value("csrf_token"), "email": email, "password": password}
    return await client.post("/sign-in", data=data)


async def make_token(client: Client, name: str = "backup") -> tuple[str, str]:
    """A token made through the form: its secret as the answer shows it once, and its id."""
    made = await post(client, "/settings/tokens", name=name, **{"tasks:read": "on"}, lifetime="7")
    assert made.status_code == 201, made.text
    secret = _secret(made.text)
    listed = await client.get("/settings")
    [action] = re.findall(r'action="/settings/tokens/([0-9a-f]+)/revoke"', listed.text)[-1:]
    return secret, action


def _secret(page: str) -> str:
    found = re.search(r'id="new-token"[^>]*value="(tsk_[A-Za-z0-9]+)"', page)
    assert found, page
    return found[1]


async def test_the_settings_page_is_linked_and_every_form_carries_its_csrf_token(
    client: Client,
) -> None:
    await signed_up(client)
    await make_token(client)
    tasks = Html((await client.get("/tasks")).text)
    assert tasks.link("Settings") == "/settings"
    pages = [
        (await client.get("/settings")).text,
        (await client.get("/settings/delete")).text,
        (await post(client, "/settings/sign-out-everywhere")).text,
    ]
    forms = [form for page in pages for form in _FORM.findall(page)]
    assert len(forms) >= 8
    token = await token_of(client)
    for form in forms:
        assert f'name="csrf_token" value="{token}"' in form, form


async def test_every_settings_form_refuses_a_missing_wrong_or_foreign_token(
    client: Client,
) -> None:
    email = await signed_up(client)
    secret, token_id = await make_token(client)
    good = await token_of(client)
    routes = {
        "/settings/tokens": {"name": "sneaky", "tasks:write": "on", "lifetime": "7"},
        f"/settings/tokens/{token_id}/revoke": {"confirm": "yes"},
        "/settings/sign-out-everywhere": {"confirm": "yes"},
        "/settings/password": {"current": PASSWORD, "new": "taken over!"},
        "/settings/export": {},
        "/settings/delete": {"confirm": "yes", "password": PASSWORD},
    }
    for url, fields in routes.items():
        for attempt in (
            client.post(url, data=fields),
            client.post(url, data={**fields, "csrf_token": good[:-2] + "xx"}),
            client.post(
                url,
                data={**fields, "csrf_token": good},
                headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
            ),
        ):
            response = await attempt
            assert response.status_code == 403, (url, response.text)
            assert "This form has expired" in response.text
    # Nothing happened: one token, the same password, the session and account still there.
    page = await client.get("/settings")
    assert page.status_code == 200
    assert re.findall(r'class="token-name">([^<]*)<', page.text) == ["backup"]
    assert secret not in page.text
    assert (await client.get("/tasks")).status_code == 200
    assert (await client.get("/settings/delete")).status_code == 200
    client.cookies.clear()
    assert (await sign_in(client, email, PASSWORD)).status_code == 303


async def test_a_token_is_made_shown_once_and_revoked_after_a_confirmation(
    client: Client,
) -> None:
    await signed_up(client)
    secret, token_id = await make_token(client)
    assert secret.startswith("tsk_")
    assert secret not in (await client.get("/settings")).text

    asked = await post(client, f"/settings/tokens/{token_id}/revoke")
    assert asked.status_code == 200
    assert "Revoke the token “backup”?" in asked.text
    assert re.findall(r'class="token-name"', (await client.get("/settings")).text)
    done = await post(client, f"/settings/tokens/{token_id}/revoke", confirm="yes")
    assert (done.status_code, done.headers["location"]) == (303, "/settings?notice=revoked")
    page = (await client.get("/settings?notice=revoked")).text
    assert "The token is revoked" in page
    assert "You have no tokens." in page


async def test_a_bad_token_form_says_what_to_fix(client: Client) -> None:
    await signed_up(client)
    response = await post(client, "/settings/tokens", name="", lifetime="9999")
    assert response.status_code == 422
    page = Html(response.text)
    assert page.texts["name-error"]
    assert page.texts["scopes-error"]


async def test_a_new_password_keeps_this_browser_and_signs_out_every_other(
    client: Client,
) -> None:
    email = await signed_up(client)
    old = client.cookies[COOKIE]
    wrong = await post(client, "/settings/password", current="not my password", new="new password")
    assert wrong.status_code == 403
    assert Html(wrong.text).texts["current-error"] == "The password is incorrect."
    changed = await post(client, "/settings/password", current=PASSWORD, new="new password")
    assert (changed.status_code, changed.headers["location"]) == (
        303,
        "/settings?notice=password_changed",
    )
    assert client.cookies[COOKIE] != old
    assert (
        "Your password is changed" in (await client.get("/settings?notice=password_changed")).text
    )
    fresh = client.cookies[COOKIE]
    client.cookies.clear()
    client.cookies.set(COOKIE, old)
    assert (await client.get("/tasks")).status_code == 303
    client.cookies.set(COOKIE, fresh)
    assert (await client.get("/tasks")).status_code == 200
    client.cookies.clear()
    assert (await sign_in(client, email, PASSWORD)).status_code == 401
    assert (await sign_in(client, email, "new password")).status_code == 303


async def test_signing_out_everywhere_asks_then_ends_this_session_too(client: Client) -> None:
    await signed_up(client)
    asked = await post(client, "/settings/sign-out-everywhere")
    assert "Sign out everywhere?" in asked.text
    done = await post(client, "/settings/sign-out-everywhere", confirm="yes")
    assert done.headers["location"] == "/sign-in?notice=signed_out_everywhere"
    assert COOKIE not in client.cookies
    page = await client.get("/sign-in?notice=signed_out_everywhere")
    assert "You have signed out everywhere" in page.text


async def test_the_export_downloads_as_a_json_file(client: Client) -> None:
    email = await signed_up(client)
    await post(client, "/tasks", title="exported")
    response = await post(client, "/settings/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    document = orjson.loads(response.content)
    assert document["account"]["email"] == email
    assert [t["title"] for t in document["tasks"]] == ["exported"]


async def test_deleting_the_account_needs_the_box_and_the_password(client: Client) -> None:
    email = await signed_up(client)
    page = Html((await client.get("/settings/delete")).text)
    assert "password" in page.inputs
    unticked = await post(client, "/settings/delete", password=PASSWORD)
    assert unticked.status_code == 422
    wrong = await post(client, "/settings/delete", password="wrong password", confirm="yes")
    assert wrong.status_code == 403
    assert "The password is incorrect." in wrong.text
    done = await post(client, "/settings/delete", password=PASSWORD, confirm="yes")
    assert done.headers["location"] == "/sign-in?notice=account_deleted"
    assert (await sign_in(client, email, PASSWORD)).status_code == 401


async def test_a_personal_token_in_the_cookie_signs_nobody_in(client: Client) -> None:
    await signed_up(client)
    secret, _ = await make_token(client)
    client.cookies.clear()
    client.cookies.set(COOKIE, secret)
    for path in ("/tasks", "/settings"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in")
