"""The plain style of SPEC §11 as a frontend written for a FastAPI backend reads it.

The rest of the end-to-end suite runs in both styles; here is what only the plain style has:
the list's paging and counts in headers, the parameter names such frontends send, and their
refusal in the envelope style.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from taskservice.bootstrap import build_app
from tests.e2e.conftest import settings_for
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient


@pytest.fixture(scope="module")
async def plain_app(
    migrated_postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Starlette]:
    """The service with API_STYLE=plain."""
    settings = settings_for(
        migrated_postgres_url, tmp_path_factory.mktemp("plain"), api_style="plain"
    )
    application = build_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(plain_app: Starlette) -> AsyncIterator[Client]:
    """A client of the plain-style service."""
    transport = httpx.ASGITransport(app=plain_app)
    async with Client(transport=transport, base_url="http://testserver") as c:
        yield c


async def create(client: Client, tasks_url: str, auth: dict[str, str], **fields: Any) -> Any:
    """A new task, as the plain style returns it: the task itself."""
    response = await client.post(tasks_url, json={"title": "t", **fields}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def seeded(client: Client, tasks_url: str, auth: dict[str, str]) -> list[str]:
    """Five tasks, oldest first; the second and fourth completed."""
    specs: list[dict[str, Any]] = [
        {"title": "Buy milk", "priority": "low", "due_date": "2030-01-03"},
        {"title": "Call mum", "priority": "high", "completed": True},
        {"title": "Answer mail", "priority": "medium", "due_date": "2030-01-01"},
        {"title": "Pay rent", "priority": "none", "completed": True, "due_date": "2030-01-02"},
        {"title": "Read a book", "priority": "high"},
    ]
    return [(await create(client, tasks_url, auth, **spec))["title"] for spec in specs]


async def titles(client: Client, url: str, auth: dict[str, str], **params: str) -> list[str]:
    """The titles of one page of the list."""
    response = await client.get(url, params=params, headers=auth)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


async def test_a_list_is_an_array_with_its_counts_and_next_page_in_headers(
    client: Client, tasks_url: str, auth: dict[str, str], seeded: list[str]
) -> None:
    first = await client.get(
        tasks_url, params={"limit": "2", "sort": "title", "search": "a"}, headers=auth
    )

    assert first.status_code == 200
    assert [t["title"] for t in first.json()] == ["Answer mail", "Call mum"]
    assert first.headers["x-total-count"] == "5"
    assert first.headers["x-pending-count"] == "3"
    assert first.headers["x-completed-count"] == "2"
    link = first.links["next"]["url"]
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", tasks_url)
    assert parts.query.startswith("limit=2&sort=title&search=a&cursor=")

    # Followed as it comes, the way a frontend does; the last page has no next.
    last = await client.get(link, headers=auth)
    assert [t["title"] for t in last.json()] == ["Pay rent", "Read a book"]
    assert "link" not in last.headers
    assert last.headers["x-total-count"] == "5"


async def test_the_next_link_quotes_a_user_id_a_header_could_not_carry(client: Client) -> None:
    user = f"odd user>{uuid.uuid4().hex[:6]}"
    auth = {"Authorization": f"Bearer {hs256(user)}"}
    url = f"/api/{quote(user, safe='')}/tasks"
    for n in range(3):
        await create(client, url, auth, title=f"t{n}")

    first = await client.get(url, params={"limit": "2", "search": "t"}, headers=auth)
    header = first.headers["link"]
    rest = await client.get(first.links["next"]["url"], headers=auth)

    assert header.count("<") == header.count(">") == 1
    assert " " not in header.split(";")[0]
    assert [t["title"] for t in rest.json()] == ["t0"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "MAIL"}, ["Answer mail"]),
        ({"search": ""}, ["Read a book", "Pay rent", "Answer mail", "Call mum", "Buy milk"]),
        ({"completed": "true"}, ["Pay rent", "Call mum"]),
        ({"completed": "false", "search": "a"}, ["Read a book", "Answer mail"]),
        ({"sort": "created"}, ["Read a book", "Pay rent", "Answer mail", "Call mum", "Buy milk"]),
        (
            {"sort": "created", "order": "asc"},
            ["Buy milk", "Call mum", "Answer mail", "Pay rent", "Read a book"],
        ),
        ({"order": "asc"}, ["Buy milk", "Call mum", "Answer mail", "Pay rent", "Read a book"]),
        ({"sort": "title"}, ["Answer mail", "Buy milk", "Call mum", "Pay rent", "Read a book"]),
        (
            {"sort": "title", "order": "desc"},
            ["Read a book", "Pay rent", "Call mum", "Buy milk", "Answer mail"],
        ),
        (
            {"sort": "due_date"},
            ["Answer mail", "Pay rent", "Buy milk", "Call mum", "Read a book"],
        ),
        (
            {"sort": "due_date", "order": "desc"},
            ["Buy milk", "Pay rent", "Answer mail", "Read a book", "Call mum"],
        ),
        (
            {"sort": "priority", "order": "desc"},
            ["Read a book", "Call mum", "Answer mail", "Buy milk", "Pay rent"],
        ),
        ({"sort": "priority"}, ["Pay rent", "Buy milk", "Answer mail", "Call mum", "Read a book"]),
        ({"sort": "-title"}, ["Read a book", "Pay rent", "Call mum", "Buy milk", "Answer mail"]),
        (
            {"sort": "due", "order": "desc"},
            ["Buy milk", "Pay rent", "Answer mail", "Read a book", "Call mum"],
        ),
    ],
)
async def test_the_parameter_names_frontends_send(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    params: dict[str, str],
    expected: list[str],
) -> None:
    assert await titles(client, tasks_url, auth, **params) == expected


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"q": "a", "search": "a"}, "search", "conflict"),
        ({"status": "all", "completed": "true"}, "completed", "conflict"),
        ({"sort": "-title", "order": "asc"}, "order", "conflict"),
        ({"completed": "yes"}, "completed", "invalid_choice"),
        ({"completed": ""}, "completed", "invalid_choice"),
        ({"order": "up"}, "order", "invalid_choice"),
        ({"sort": "newest"}, "sort", "invalid_choice"),
        ({"search": "x" * 101}, "search", "invalid_length"),
        ({"search": "a\x00"}, "search", "control_character"),
        ({"page": "2"}, "page", "unknown_parameter"),
    ],
)
async def test_contradicting_or_malformed_names_are_422(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    params: dict[str, str],
    field: str,
    code: str,
) -> None:
    response = await client.get(tasks_url, params=params, headers=auth)

    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail", "error", "details"}
    assert body["error"] == "VALIDATION_ERROR"
    assert [(d["field"], d["code"]) for d in body["details"]] == [(field, code)]
    # What a frontend shows as it is: the broken rule itself.
    assert body["detail"] == body["details"][0]["message"]


@pytest.mark.usefixtures("seeded")
async def test_a_frontends_names_and_the_envelopes_name_the_same_list(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    frontend = {"completed": "false", "search": "a", "sort": "title", "order": "desc"}
    native = {"status": "pending", "q": "a", "sort": "-title"}
    first = await client.get(tasks_url, params={**frontend, "limit": "1"}, headers=auth)
    cursor = httpx.URL(first.links["next"]["url"]).params["cursor"]

    rest = await titles(client, tasks_url, auth, **native, cursor=cursor)

    assert [t["title"] for t in first.json()] + rest == ["Read a book", "Answer mail"]


async def test_every_refusal_is_detail_and_error(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    json_body = {**auth, "Content-Type": "application/json"}
    refusals = {
        "NOT_FOUND": await client.get("/api/nothing/here/at/all", headers=auth),
        "METHOD_NOT_ALLOWED": await client.delete(tasks_url, headers=auth),
        "BAD_REQUEST": await client.post(tasks_url, content=b"{", headers=json_body),
        "UNSUPPORTED_MEDIA_TYPE": await client.post(tasks_url, content=b"{}", headers=auth),
        "PAYLOAD_TOO_LARGE": await client.post(
            tasks_url, content=b" " * (64 * 1024 + 1), headers=json_body
        ),
        "UNAUTHORIZED": await client.get(tasks_url),
        "FORBIDDEN": await client.get("/api/someone-else/tasks", headers=auth),
    }
    for code, response in refusals.items():
        assert response.json() == {"detail": response.json()["detail"], "error": code}, code
        assert response.json()["detail"], code
    assert refusals["METHOD_NOT_ALLOWED"].headers["allow"]
    assert refusals["UNAUTHORIZED"].headers["www-authenticate"] == "Bearer"


async def test_the_envelope_style_knows_none_of_these_names(
    migrated_postgres_url: str, tmp_path: Path, tasks_url: str, auth: dict[str, str]
) -> None:
    app = build_app(settings_for(migrated_postgres_url, tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        Client(transport=transport, base_url="http://testserver") as envelope,
    ):
        response = await envelope.get(
            tasks_url,
            params={"search": "a", "completed": "true", "order": "asc", "sort": "created"},
            headers=auth,
        )

    assert response.status_code == 422
    fields = {(d["field"], d["code"]) for d in response.json()["details"]}
    assert fields == {
        ("search", "unknown_parameter"),
        ("completed", "unknown_parameter"),
        ("order", "unknown_parameter"),
        ("sort", "invalid_choice"),
    }
