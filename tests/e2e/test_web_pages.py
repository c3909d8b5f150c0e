"""The browser UI over HTTP (SPEC §5): sessions, CSRF, forms, escaping and headers, in-process."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.memory import MemoryStore
from adapters.persistence import SqlUnitOfWorkFactory
from adapters.throttle import LimitsThrottle
from adapters.web import WebSecurityHeaders
from adapters.web.forms import task_form
from domain.errors import StorageUnavailable
from domain.throttling import Bucket
from domain.types import TaskId
from taskservice.ports import UnitOfWork
from tests.clock import FakeClock
from tests.e2e.web_conftest import (
    BASE,
    PASSWORD,
    Client,
    Html,
    client_for,
    csrf,
    new_email,
    post,
    sign_up,
    titles,
    web_app,
)
from tests.integration.sql_backends import database_for
from tests.sealing import shows

FORM_FIELDS = frozenset({"input", "textarea", "select"})
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(store: MemoryStore, clock: FakeClock) -> AsyncIterator[Client]:
    async with client_for(web_app(store, clock=clock)) as c:
        yield c


async def task_ids(client: Client, url: str = "/tasks") -> list[int]:
    return [
        int(i) for i in re.findall(r'action="/tasks/(\d+)/complete"', (await client.get(url)).text)
    ]


async def add(client: Client, title: str, **fields: str) -> int:
    response = await post(client, "/tasks", title=title, **fields)
    assert response.status_code == 303, response.text
    # Ids grow: the newest task is the one just added, wherever the order puts it.
    return max(await task_ids(client))


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


# Signed out


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "/sign-in"),
        ("/tasks", "/sign-in?next=/tasks"),
        (
            "/tasks?status=pending&sort=title",
            "/sign-in?next=/tasks%3Fstatus%3Dpending%26sort%3Dtitle",
        ),
        ("/tasks/1/edit", "/sign-in?next=/tasks/1/edit"),
    ],
)
async def test_signed_out_visitors_are_sent_to_sign_in(
    client: Client, path: str, location: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_an_invalid_or_expired_session_redirects_and_clears_the_cookie(
    client: Client,
) -> None:
    client.cookies.set("__Host-session", "not.a.token")
    response = await client.get("/tasks?status=completed")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/tasks%3Fstatus%3Dcompleted"
    cleared = set_cookies(response)["__Host-session"]
    assert "Max-Age=0" in cleared
    assert "Secure" in cleared


# Sessions and cookies


async def test_sign_up_sets_a_host_only_secure_http_only_lax_cookie(client: Client) -> None:
    email = new_email()
    response = await sign_up(client, email)
    assert response.headers["location"] == "/tasks?notice=welcome"
    cookie = set_cookies(response)["__Host-session"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= set(attributes)
    assert not any(a.lower().startswith("domain") for a in attributes)
    max_age = next(int(a.split("=")[1]) for a in attributes if a.startswith("Max-Age="))
    assert 7 * 86400 - 60 <= max_age <= 7 * 86400
    page = await client.get("/tasks?notice=welcome")
    assert page.status_code == 200
    assert "Welcome!" in Html(page.text).texts["live"]
    # The header names the account, though the session's token carries no e-mail.
    assert f'<span class="account-name">{email}</span>' in page.text


async def test_cookie_secure_false_names_the_cookie_session_without_secure(
    store: MemoryStore,
) -> None:
    async with Client(
        transport=httpx.ASGITransport(app=web_app(store, cookie_secure=False)),
        base_url="http://testserver",
    ) as client:
        response = await sign_up(client)
        cookie = set_cookies(response)["session"]
        assert "Secure" not in cookie
        assert {"HttpOnly", "SameSite=Lax", "Path=/"} <= {p.strip() for p in cookie.split(";")}
        assert (await client.get("/tasks")).status_code == 200


async def test_sign_out_then_sign_in_again_finds_the_tasks(client: Client) -> None:
    email = new_email()
    await sign_up(client, email)
    await add(client, "Water the plants")
    response = await post(client, "/sign-out")
    assert response.headers["location"] == "/sign-in?notice=signed_out"
    assert "Max-Age=0" in set_cookies(response)["__Host-session"]
    assert (await client.get("/tasks")).status_code == 303
    form = Html((await client.get("/sign-in?next=/tasks%3Fstatus%3Dpending")).text)
    assert form.value("next") == "/tasks?status=pending"
    response = await client.post(
        "/sign-in",
        data={
            "csrf_token": form.value("csrf_token"),
            "email": email.upper(),
            "password": PASSWORD,
            "next": form.value("next"),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/tasks?status=pending"
    assert await titles(client) == ["Water the plants"]


async def test_signing_out_ends_the_session_not_just_the_cookie(client: Client) -> None:
    await sign_up(client)
    token = client.cookies["__Host-session"]
    await post(client, "/sign-out")
    client.cookies.set("__Host-session", token)
    response = await client.get("/tasks")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/tasks"
    assert "Max-Age=0" in set_cookies(response)["__Host-session"]


async def test_a_signed_in_visitor_skips_the_sign_in_page(client: Client) -> None:
    await sign_up(client)
    assert (await client.get("/")).headers["location"] == "/tasks"
    assert (await client.get("/sign-in")).headers["location"] == "/tasks"


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "evil.example", "/%0d/x\r\n"],
)
async def test_next_never_leaves_the_site(client: Client, target: str) -> None:
    email = new_email()
    await sign_up(client, email)
    await post(client, "/sign-out")
    form = Html((await client.get("/sign-in", params={"next": target})).text)
    assert "next" not in form.inputs
    response = await client.post(
        "/sign-in",
        data={
            "csrf_token": form.value("csrf_token"),
            "email": email,
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.headers["location"] == "/tasks"
    assert (await client.get("/sign-in", params={"next": target})).headers["location"] == "/tasks"


# Account form errors


async def test_wrong_password_and_unknown_email_get_the_same_401(client: Client) -> None:
    email = new_email()
    await sign_up(client, email)
    await post(client, "/sign-out")
    answers = []
    for address, password in [(email, "wrong password!"), (new_email(), PASSWORD)]:
        form = Html((await client.get("/sign-in")).text)
        response = await client.post(
            "/sign-in",
            data={"csrf_token": form.value("csrf_token"), "email": address, "password": password},
        )
        assert response.status_code == 401
        page = Html(response.text)
        assert page.value("email") == address
        assert "value" not in page.inputs["password"][0]
        answers.append(page.by_class("alert"))
    assert answers[0] == answers[1] == ["The e-mail or password is incorrect."]


async def test_sign_up_errors_are_shown_next_to_their_fields(client: Client) -> None:
    form = Html((await client.get("/sign-up")).text)
    response = await client.post(
        "/sign-up",
        data={"csrf_token": form.value("csrf_token"), "email": "not-an-email", "password": "short"},
    )
    assert response.status_code == 422
    page = Html(response.text)
    assert page.texts["email-error"] == "This is not a valid e-mail address."
    assert page.texts["password-error"] == "The password must be 8 to 128 characters."
    assert page.value("email") == "not-an-email"


async def test_a_registered_email_is_a_409_on_the_email_field(
    store: MemoryStore, client: Client
) -> None:
    email = new_email()
    await sign_up(client, email)
    async with client_for(web_app(store)) as other:
        form = Html((await other.get("/sign-up")).text)
        response = await other.post(
            "/sign-up",
            data={
                "csrf_token": form.value("csrf_token"),
                "email": email.upper(),
                "password": PASSWORD,
            },
        )
    assert response.status_code == 409
    assert "already exists" in Html(response.text).texts["email-error"]


async def test_closed_sign_up_is_403(store: MemoryStore) -> None:
    async with client_for(web_app(store, allow_signup=False)) as client:
        page = await client.get("/sign-up")
        assert "Sign-up is closed" in page.text
        sign_in = await client.get("/sign-in")
        assert "Create an account" not in sign_in.text
        token = Html(sign_in.text).value("csrf_token")
        response = await client.post(
            "/sign-up", data={"csrf_token": token, "email": new_email(), "password": PASSWORD}
        )
    assert response.status_code == 403
    assert "Sign-up is closed" in response.text


async def test_too_many_attempts_is_429_with_retry_after(store: MemoryStore) -> None:
    throttle = LimitsThrottle(
        dict.fromkeys(Bucket, "9/minute") | {Bucket.AUTH_PER_ADDRESS: "2/minute"}
    )
    async with client_for(web_app(store, throttle=throttle)) as client:
        token = Html((await client.get("/sign-in")).text).value("csrf_token")
        data = {"csrf_token": token, "email": new_email(), "password": PASSWORD}
        statuses = [(await client.post("/sign-in", data=data)).status_code for _ in range(2)]
        response = await client.post("/sign-in", data=data)
    assert statuses == [401, 401]
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "Too many attempts" in Html(response.text).by_class("alert")[0]


# CSRF


async def test_posts_without_or_with_a_wrong_csrf_token_are_refused(client: Client) -> None:
    await sign_up(client)
    task_id = await add(client, "Keep me")
    good = await csrf(client)
    refused = [
        await client.post("/tasks", data={"title": "no token"}),
        await client.post("/tasks", data={"title": "wrong token", "csrf_token": good[:-2] + "xx"}),
        await client.post(f"/tasks/{task_id}/delete", data={"csrf_token": ""}),
        await client.post(
            f"/tasks/{task_id}/complete", data={"csrf_token": "x", "completed": "true"}
        ),
        await client.post("/sign-out", data={}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert "This form has expired" in refused[0].text
    assert await titles(client) == ["Keep me"]
    assert (await client.get("/tasks")).status_code == 200


async def test_a_token_from_another_session_is_refused(store: MemoryStore, client: Client) -> None:
    await sign_up(client)
    async with client_for(web_app(store)) as other:
        await sign_up(other)
        foreign = await csrf(other)
    response = await client.post("/tasks", data={"title": "x", "csrf_token": foreign})
    assert response.status_code == 403
    assert await titles(client) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_posts_from_other_origins_are_refused_even_with_a_token(
    client: Client, headers: dict[str, str]
) -> None:
    await sign_up(client)
    token = await csrf(client)
    response = await client.post(
        "/tasks", data={"title": "x", "csrf_token": token}, headers=headers
    )
    assert response.status_code == 403
    assert await titles(client) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": BASE, "Sec-Fetch-Site": "same-origin"},
        # What a browser sends from a page with `Referrer-Policy: no-referrer`.
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    ],
)
async def test_same_origin_posts_are_accepted(client: Client, headers: dict[str, str]) -> None:
    await sign_up(client)
    token = await csrf(client)
    response = await client.post(
        "/tasks", data={"title": "ok", "csrf_token": token}, headers=headers
    )
    assert response.status_code == 303


async def test_sign_in_forms_need_their_pre_session_token(client: Client) -> None:
    first = await client.get("/sign-up")
    cookie = set_cookies(first)["__Host-csrf"]
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= {
        p.strip() for p in cookie.split(";")
    }
    data = {"email": new_email(), "password": PASSWORD}
    assert (await client.post("/sign-up", data=data)).status_code == 403
    token = Html(first.text).value("csrf_token")
    client.cookies.delete("__Host-csrf")
    assert (await client.post("/sign-up", data={**data, "csrf_token": token})).status_code == 403
    assert (await client.get("/tasks")).status_code == 303


# Tasks through forms


async def test_the_add_and_edit_forms_have_an_input_for_every_value_they_send(
    client: Client, store: MemoryStore
) -> None:
    await sign_up(client)
    task_id = await add(client, "Buy milk")
    pages = {
        "/tasks": task_form(),
        f"/tasks/{task_id}/edit": task_form(store.state.tasks[TaskId(task_id)]),
    }
    for url, form in pages.items():
        page = Html((await client.get(url)).text)
        named = {a["name"] for tag, a in page.tags if tag in FORM_FIELDS and "name" in a}
        assert set(form) <= named, url


async def test_create_edit_complete_reopen_delete_and_undo(client: Client) -> None:
    await sign_up(client)
    response = await post(
        client,
        "/tasks",
        title="  Buy milk  ",
        description="Two litres",
        priority="high",
        tags="Shopping, errands, shopping",
        due_date="2030-01-31",
        next="/tasks?status=pending",
    )
    assert response.headers["location"] == "/tasks?status=pending&notice=created"
    page = Html((await client.get("/tasks")).text)
    assert page.by_class("task-title") == ["Buy milk"]
    assert page.by_class("task-description") == ["Two litres"]
    assert page.by_class("tag") == ["#shopping", "#errands"]
    assert page.by_class("badge") == ["High priority"]
    assert "Thu, 31 Jan 2030" in page.by_class("due")[0]
    assert page.by_class("counts") == ["1 pending · 0 completed"]
    [task_id] = await task_ids(client)

    edit = Html((await client.get(f"/tasks/{task_id}/edit")).text)
    assert edit.value("title") == "Buy milk"
    assert edit.value("tags") == "shopping, errands"
    response = await post(
        client,
        f"/tasks/{task_id}/edit",
        title="Buy oat milk",
        description="",
        priority="low",
        tags="",
        due_at="2030-02-01T09:30",
        due_offset="+02:00",
        version=edit.value("version"),
    )
    assert response.headers["location"] == "/tasks?notice=updated"
    page = Html((await client.get("/tasks")).text)
    assert page.by_class("task-title") == ["Buy oat milk"]
    assert page.by_class("task-description") == []
    assert page.by_class("tag") == []
    assert "Fri, 1 Feb 2030, 07:30 UTC" in page.by_class("due")[0]

    response = await post(client, f"/tasks/{task_id}/complete", completed="true")
    assert response.headers["location"] == "/tasks?notice=completed"
    page = Html((await client.get("/tasks")).text)
    assert page.count("li", "is-done") == 1
    assert page.by_class("counts") == ["0 pending · 1 completed"]
    assert await titles(client, "/tasks?status=pending") == []
    assert await titles(client, "/tasks?status=completed") == ["Buy oat milk"]
    await post(client, f"/tasks/{task_id}/complete", completed="false")
    assert Html((await client.get("/tasks")).text).count("li", "is-done") == 0

    response = await post(client, f"/tasks/{task_id}/delete", next="/tasks?sort=title")
    location = response.headers["location"]
    assert location.startswith("/tasks?sort=title&notice=deleted&undo=")
    undo_page = Html((await client.get(location)).text)
    assert await titles(client) == []
    assert "Deleted “Buy oat milk”." in undo_page.texts["live"]
    response = await post(
        client, "/tasks/restore", undo=undo_page.value("undo"), next=undo_page.value("next")
    )
    assert response.headers["location"] == "/tasks?sort=title&notice=restored"
    page = Html((await client.get("/tasks")).text)
    assert page.by_class("task-title") == ["Buy oat milk"]
    assert "Fri, 1 Feb 2030, 07:30 UTC" in page.by_class("due")[0]


async def test_undo_expires_and_is_only_for_its_owner(
    store: MemoryStore, clock: FakeClock, client: Client
) -> None:
    await sign_up(client)
    task_id = await add(client, "Short-lived")
    location = (await post(client, f"/tasks/{task_id}/delete")).headers["location"]
    undo = Html((await client.get(location)).text).value("undo")
    async with client_for(web_app(store, clock=clock)) as other:
        await sign_up(other)
        response = await post(other, "/tasks/restore", undo=undo)
        assert response.headers["location"] == "/tasks?notice=undo_expired"
        assert await titles(other) == []
    clock.moment += timedelta(minutes=16)
    response = await post(client, "/tasks/restore", undo=undo)
    assert response.headers["location"] == "/tasks?notice=undo_expired"
    assert (
        "can no longer be restored"
        in Html((await client.get(response.headers["location"])).text).texts["live"]
    )
    assert await titles(client) == []


async def test_the_undo_link_carries_nothing_readable(client: Client) -> None:
    await sign_up(client)
    task_id = await add(
        client, "Doctor appointment", description="Blood test results", tags="health, private"
    )
    location = (await post(client, f"/tasks/{task_id}/delete")).headers["location"]
    [undo] = parse_qs(urlsplit(location).query)["undo"]
    assert not shows(location, "Doctor", "appointment", "Blood", "results", "health", "private")
    page = Html((await client.get(location)).text)
    assert page.value("undo") == undo
    assert "Deleted “Doctor appointment”." in page.texts["live"]


async def test_one_undo_restores_one_task_however_often_it_is_posted(client: Client) -> None:
    await sign_up(client)
    for attempt in ("one after another", "all at once"):
        task_id = await add(client, f"Restored {attempt}")
        deleted = await post(client, f"/tasks/{task_id}/delete", next="/tasks?sort=title")
        page = Html((await client.get(deleted.headers["location"])).text)
        form = {name: page.value(name) for name in ("undo", "next", "csrf_token")}
        if attempt == "all at once":
            responses = await asyncio.gather(
                *(client.post("/tasks/restore", data=form) for _ in range(3))
            )
        else:
            responses = [await client.post("/tasks/restore", data=form) for _ in range(3)]
        assert {r.headers["location"] for r in responses} == {"/tasks?sort=title&notice=restored"}
        assert await titles(client) == [f"Restored {attempt}"]
        await post(client, f"/tasks/{(await task_ids(client))[0]}/delete")
    # Restored and deleted again: the first undo still restores nothing more.
    assert (await client.post("/tasks/restore", data=form)).status_code == 303
    assert await titles(client) == []


@pytest.mark.postgres
async def test_concurrent_posts_of_one_undo_restore_one_task_on_postgresql(
    migrated_postgres_url: str,
) -> None:
    async with (
        database_for(migrated_postgres_url) as database,
        client_for(web_app(SqlUnitOfWorkFactory(database))) as client,
    ):
        await sign_up(client)
        task_id = await add(client, "Once on PostgreSQL")
        deleted = await post(client, f"/tasks/{task_id}/delete")
        page = Html((await client.get(deleted.headers["location"])).text)
        form = {name: page.value(name) for name in ("undo", "next", "csrf_token")}
        responses = await asyncio.gather(
            *(client.post("/tasks/restore", data=form) for _ in range(3))
        )
        # A restore that finds another one of the same undo still in flight is told so.
        assert {r.status_code for r in responses} <= {303, 409}
        assert await titles(client) == ["Once on PostgreSQL"]
        again = await client.post("/tasks/restore", data=form)
        assert again.headers["location"] == "/tasks?notice=restored"
        assert await titles(client) == ["Once on PostgreSQL"]


async def test_the_pager_link_carries_no_title(client: Client) -> None:
    await sign_up(client)
    for number in range(51):
        await add(client, f"Appointment {number:02}")
    link = Html((await client.get("/tasks?sort=title")).text).link("Next page")
    assert link.startswith("/tasks?sort=title&cursor=")
    assert not shows(link, "Appointment")
    second = Html((await client.get(link)).text)
    assert second.by_class("task-title") == ["Appointment 50"]


async def test_a_201_character_title_is_shown_as_an_error_next_to_the_field(client: Client) -> None:
    await sign_up(client)
    response = await post(client, "/tasks", title="x" * 201, tags="ok, not/ok")
    assert response.status_code == 422
    page = Html(response.text)
    assert page.texts["title-error"] == "The title must be at most 200 characters."
    assert page.texts["tags-error"].startswith("Tags may hold letters")
    assert page.value("title") == "x" * 201
    title_input = next(a for t, a in page.tags if t == "input" and a.get("name") == "title")
    assert title_input["aria-invalid"] == "true"
    assert title_input["aria-describedby"] == "title-error"
    assert await titles(client) == []


async def test_a_due_date_and_a_due_time_together_are_an_error_on_the_time(client: Client) -> None:
    await sign_up(client)
    response = await post(
        client, "/tasks", title="Both", due_date="2030-01-01", due_at="2030-01-01T10:00"
    )
    assert response.status_code == 422
    assert (
        Html(response.text).texts["due_at-error"]
        == "Choose either a due date or a due time, not both."
    )


async def test_an_edit_keeps_its_errors_on_the_edit_page(client: Client) -> None:
    await sign_up(client)
    task_id = await add(client, "Fine")
    response = await post(client, f"/tasks/{task_id}/edit", title="   ", description="bad \x00")
    assert response.status_code == 422
    page = Html(response.text)
    assert page.texts["title-error"] == "The title cannot be empty."
    assert "control characters" in page.texts["description-error"]
    assert await titles(client) == ["Fine"]


async def test_an_untouched_edit_changes_nothing_and_a_stale_one_is_a_409(client: Client) -> None:
    await sign_up(client)
    task_id = await add(
        client,
        "Stable",
        description="line one\r\nline two",
        due_at="2030-05-05T10:15",
        due_offset="+00:00",
    )
    edit = Html((await client.get(f"/tasks/{task_id}/edit")).text)
    assert edit.value("due_at") == "2030-05-05T10:15"
    fields = {
        name: edit.value(name) for name in ("title", "due_at", "due_offset", "tags", "version")
    }
    description = "line one\r\nline two"
    await post(client, f"/tasks/{task_id}/edit", description=description, priority="none", **fields)
    again = Html((await client.get(f"/tasks/{task_id}/edit")).text)
    assert again.value("version") == edit.value("version") == "1"
    await post(client, f"/tasks/{task_id}/edit", **{**fields, "title": "Changed"})
    response = await post(client, f"/tasks/{task_id}/edit", **{**fields, "title": "Stale write"})
    assert response.status_code == 409
    assert "Someone changed this task" in Html(response.text).by_class("alert")[0]
    assert Html(response.text).value("version") == "2"
    assert await titles(client) == ["Changed"]


async def test_user_text_is_escaped_never_altered(client: Client) -> None:
    await sign_up(client)
    title = "<script>alert(1)</script> & \"quotes\" 'x'"
    task_id = await add(client, title, description="<img src=x onerror=alert(1)>")
    assert (await post(client, "/tasks", title="ok", tags="<b>")).status_code == 422
    for url in ("/tasks", f"/tasks/{task_id}/edit"):
        body = (await client.get(url)).text
        assert "<script>alert(1)</script>" not in body
        assert "<img src=x" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert await titles(client) == [title]
    assert Html((await client.get(f"/tasks/{task_id}/edit")).text).value("title") == title


async def test_another_users_task_is_a_404_page(store: MemoryStore, client: Client) -> None:
    await sign_up(client)
    task_id = await add(client, "Mine")
    async with client_for(web_app(store)) as other:
        await sign_up(other)
        token = await csrf(other)
        responses = [
            await other.get(f"/tasks/{task_id}/edit"),
            await other.post(
                f"/tasks/{task_id}/edit", data={"csrf_token": token, "title": "Theirs"}
            ),
            await other.post(f"/tasks/{task_id}/complete", data={"csrf_token": token}),
            await other.post(f"/tasks/{task_id}/delete", data={"csrf_token": token}),
            await other.get("/tasks/999999/edit"),
            await other.get("/tasks/0/edit"),
            await other.get("/tasks/abc/edit"),
            await other.get("/tasks/99999999999999999999999/edit"),
        ]
        assert await titles(other) == []
    assert {r.status_code for r in responses} == {404}
    assert len({r.text for r in responses[:1] + responses[4:]}) == 1
    assert "Page not found" in responses[0].text
    assert await titles(client) == ["Mine"]
    assert Html((await client.get("/tasks")).text).count("li", "is-done") == 0


async def test_a_task_has_one_address_as_in_the_api(client: Client) -> None:
    await sign_up(client)
    task_id = await add(client, "Mine")
    assert (await client.get(f"/tasks/{task_id}/edit")).status_code == 200
    for spelling in (f"0{task_id}", f"+{task_id}", str(task_id).translate(FULL_WIDTH)):
        assert (await client.get(f"/tasks/{spelling}/edit")).status_code == 404, spelling


async def test_status_filter_sort_and_paging(client: Client) -> None:
    await sign_up(client)
    token = await csrf(client)
    for number in range(55):
        response = await client.post(
            "/tasks", data={"csrf_token": token, "title": f"Task {number:02}"}
        )
        assert response.status_code == 303
    # The list's own order by default: a new task goes to the end.
    first = Html((await client.get("/tasks")).text)
    assert len(first.by_class("task-title")) == 50
    assert first.by_class("task-title")[0] == "Task 00"
    assert not first.has_link("First page")
    second = Html((await client.get(first.link("Next page"))).text)
    assert second.by_class("task-title") == [f"Task {n:02}" for n in range(50, 55)]
    assert second.link("First page") == "/tasks"
    assert not second.has_link("Next page")
    assert second.by_class("counts") == ["55 pending · 0 completed"]
    newest = Html((await client.get("/tasks?sort=-created_at")).text)
    assert newest.by_class("task-title")[0] == "Task 54"
    newer = Html((await client.get(newest.link("Next page"))).text)
    assert newer.by_class("task-title") == [f"Task {n:02}" for n in range(4, -1, -1)]

    by_title = Html((await client.get("/tasks?sort=title")).text)
    assert by_title.by_class("task-title")[:2] == ["Task 00", "Task 01"]
    assert by_title.link("Next page").startswith("/tasks?sort=title&cursor=")
    assert by_title.link("Pending") == "/tasks?status=pending&sort=title"
    stale = await client.get(by_title.link("Next page").replace("sort=title", "sort=-title"))
    assert stale.status_code == 400
    assert "out of date" in stale.text
    ignored = Html((await client.get("/tasks?status=bogus&sort=bogus")).text)
    assert ignored.by_class("task-title")[0] == "Task 00"


async def test_an_empty_list_says_so(client: Client) -> None:
    await sign_up(client)
    assert "No tasks yet" in (await client.get("/tasks")).text
    assert "Nothing pending" in (await client.get("/tasks?status=pending")).text
    assert "Nothing completed yet" in (await client.get("/tasks?status=completed")).text


# Headers and errors


async def test_security_headers_on_every_page(client: Client) -> None:
    responses = [await client.get("/"), await client.get("/sign-in"), await client.get("/sign-up")]
    await sign_up(client)
    responses += [
        await client.get("/tasks"),
        await client.get("/tasks/12345/edit"),
        await client.post("/tasks", data={}),
        await client.get("/static/app.css"),
        await client.get("/static/app.js"),
    ]
    assert [r.status_code for r in responses] == [303, 200, 200, 200, 404, 403, 200, 200]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert "default-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
    assert responses[3].headers["cache-control"] == "no-store"
    assert responses[3].headers["content-type"] == "text/html; charset=utf-8"


async def test_pages_have_no_inline_script_or_style(client: Client) -> None:
    bodies = [(await client.get("/sign-in")).text, (await client.get("/sign-up")).text]
    await sign_up(client)
    task_id = await add(
        client, "Styled", description="d", priority="medium", due_date="2030-01-01", tags="t"
    )
    bodies += [(await client.get(url)).text for url in ("/tasks", f"/tasks/{task_id}/edit")]
    for body in bodies:
        scripts = re.findall(r"<script[^>]*>", body)
        assert len(scripts) == 1
        assert re.fullmatch(r'<script src="/static/app\.js\?v=\w+" defer>', scripts[0])
        assert " style=" not in body
        assert not re.search(r"\son[a-z]+=", body)
        assert '<html lang="en">' in body
        assert 'href="#main"' in body


async def test_api_paths_are_left_alone() -> None:
    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/api/x/tasks", ok), Route("/healthz", ok)],
        middleware=[Middleware(WebSecurityHeaders)],
    )
    async with client_for(app) as client:
        assert "content-security-policy" not in (await client.get("/api/x/tasks")).headers
        assert "content-security-policy" in (await client.get("/healthz")).headers


def unreachable() -> UnitOfWork:
    """A unit of work factory whose database cannot be reached."""
    raise StorageUnavailable()


async def test_an_unreachable_database_is_a_503_page(store: MemoryStore, client: Client) -> None:
    await sign_up(client)
    cookies = dict(client.cookies.items())

    async with client_for(web_app(unreachable)) as broken:
        for name, value in cookies.items():
            broken.cookies.set(name, value)
        response = await broken.get("/tasks")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "Temporarily unavailable" in response.text


async def test_forms_must_be_small_urlencoded_forms(client: Client) -> None:
    await sign_up(client)
    token = await csrf(client)
    multipart = await client.post(
        "/tasks", files={"title": (None, "x")}, data={"csrf_token": token}
    )
    assert multipart.status_code == 415
    huge = await client.post("/tasks", data={"csrf_token": token, "title": "x" * 70_000})
    assert huge.status_code == 413
    assert await titles(client) == []


async def test_head_is_answered_like_get(client: Client) -> None:
    response = await client.head("/sign-in")
    assert response.status_code == 200
    assert response.content == b""


async def test_static_files_are_cached_only_by_their_versioned_url(client: Client) -> None:
    page = await client.get("/sign-in")
    [css] = re.findall(r'href="(/static/app\.css\?v=\w+)"', page.text)
    assert (await client.get(css)).headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = await client.get("/static/app.css")
    assert plain.headers["cache-control"] == "no-cache"
    assert plain.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/../rendering.py")).status_code == 404


async def test_an_undo_brings_the_task_back_from_the_trash_with_its_subtasks(
    client: Client,
) -> None:
    await sign_up(client)
    parent = await add(client, "Plan the trip")
    await post(client, "/tasks", title="Book the train", parent_id=str(parent))
    location = (await post(client, f"/tasks/{parent}/delete")).headers["location"]
    trash = Html((await client.get("/trash")).text)
    assert trash.by_class("task-title") == ["Plan the trip"]
    undo_page = Html((await client.get(location)).text)
    response = await post(client, "/tasks/restore", undo=undo_page.value("undo"))
    assert response.headers["location"] == "/tasks?notice=restored"
    assert await titles(client) == ["Plan the trip", "Book the train"]
    assert await task_ids(client) == [parent, parent + 1]
    assert Html((await client.get("/trash")).text).by_class("task-title") == []


async def test_an_undo_of_a_task_deleted_for_good_says_it_is_too_late(client: Client) -> None:
    await sign_up(client)
    task_id = await add(client, "Gone for good")
    location = (await post(client, f"/tasks/{task_id}/delete")).headers["location"]
    undo = Html((await client.get(location)).text).value("undo")
    assert (await post(client, f"/trash/{task_id}/delete")).headers["location"] == (
        "/trash?notice=purged"
    )
    response = await post(client, "/tasks/restore", undo=undo)
    assert response.headers["location"] == "/tasks?notice=undo_expired"
    assert await titles(client) == []
