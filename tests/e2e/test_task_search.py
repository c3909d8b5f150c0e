"""Finding tasks over HTTP: q, priority, tag, due, tz and the due sort (SPEC §3.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest
from starlette.applications import Starlette

from taskservice.bootstrap import build_adapters, build_app
from tests.clock import FakeClock
from tests.e2e.conftest import settings_for
from tests.e2e.wire import Wire

pytestmark = pytest.mark.postgres

# 12:00Z on the day New York springs forward: 08:00 there, already 2030-03-11 on Kiritimati.
NOW = datetime(2030, 3, 10, 12, tzinfo=UTC)
Client = httpx.AsyncClient


@pytest.fixture(scope="module")
async def fixed_app(
    migrated_postgres_url: str, tmp_path_factory: pytest.TempPathFactory, api_style: str
) -> AsyncIterator[Starlette]:
    """The service on PostgreSQL with its clock stopped at NOW."""
    settings = settings_for(
        migrated_postgres_url, tmp_path_factory.mktemp("fixed"), api_style=api_style
    )
    adapters = attrs.evolve(build_adapters(settings), clock=FakeClock(NOW))
    application = build_app(settings, adapters)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(fixed_app: Starlette) -> AsyncIterator[Client]:
    """A client of the fixed-clock app."""
    transport = httpx.ASGITransport(app=fixed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def listed(
    client: Client, url: str, auth: dict[str, str], wire: Wire, **params: str
) -> list[str]:
    """The titles of every page of the list, in order."""
    titles: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query, headers=auth)
        assert response.status_code == 200, response.text
        titles += [t["title"] for t in wire.data(response)]
        if (cursor := wire.next_cursor(response)) is None:
            return titles


@pytest.fixture
async def seeded(client: Client, tasks_url: str, auth: dict[str, str]) -> None:
    """A user's tasks with varied text, priorities, tags and dues."""
    tasks: list[dict[str, Any]] = [
        {
            "title": "Buy Äpfel",
            "priority": "high",
            "tags": ["home", "food"],
            "due_date": "2030-03-10",
        },
        {"title": "STRASSE fegen", "description": "50% done", "priority": "low", "tags": ["home"]},
        {
            "title": "report",
            "description": "Quarterly Straße report",
            "priority": "medium",
            "tags": ["work"],
            "due_at": "2030-03-10T03:59:59-05:00",
        },
        {
            "title": "late call",
            "priority": "high",
            "tags": ["work"],
            "due_at": "2030-03-11T03:30:00Z",
        },
        {"title": "next week", "due_date": "2030-03-16"},
        {"title": "far away", "due_date": "2030-03-17"},
        {"title": "under_score", "due_at": "2030-03-10T11:59:00Z", "completed": True},
        {"title": "yesterday", "due_date": "2030-03-09"},
    ]
    for fields in tasks:
        response = await client.post(tasks_url, json=fields, headers=auth)
        assert response.status_code == 201, response.text


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"q": "strasse"}, {"STRASSE fegen", "report"}),
        ({"q": "äPFEL"}, {"Buy Äpfel"}),
        ({"q": "50%"}, {"STRASSE fegen"}),
        ({"q": "r_s"}, {"under_score"}),
        ({"q": "%"}, {"STRASSE fegen"}),
        ({"priority": "high"}, {"Buy Äpfel", "late call"}),
        ({"priority": "low,medium"}, {"STRASSE fegen", "report"}),
        ({"tag": "work"}, {"report", "late call"}),
        ({"tag": "FOOD, nothing"}, {"Buy Äpfel"}),
        ({"due": "today"}, {"Buy Äpfel", "report", "under_score"}),
        (
            {"due": "today", "tz": "America/New_York"},
            {"Buy Äpfel", "report", "under_score", "late call"},
        ),
        ({"due": "today", "tz": "Pacific/Kiritimati"}, {"under_score", "late call"}),
        ({"due": "overdue"}, {"report", "yesterday"}),
        (
            {"due": "next_7_days"},
            {"Buy Äpfel", "report", "late call", "next week", "under_score"},
        ),
        ({"due": "none"}, {"STRASSE fegen"}),
        ({"due": "any", "priority": "high", "tag": "work"}, {"late call"}),
        ({"status": "completed", "due": "any"}, {"under_score"}),
    ],
)
async def test_each_filter(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    params: dict[str, str],
    titles: set[str],
    wire: Wire,
) -> None:
    assert set(await listed(client, tasks_url, auth, wire, **params)) == titles


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("limit", ["1", "3", "100"])
async def test_the_due_sort_pages_with_no_due_last_in_both_directions(
    client: Client, tasks_url: str, auth: dict[str, str], limit: str, wire: Wire
) -> None:
    zone = {"tz": "America/New_York", "limit": limit}
    ascending = await listed(client, tasks_url, auth, wire, sort="due", **zone)
    descending = await listed(client, tasks_url, auth, wire, sort="-due", **zone)

    dated = [
        "yesterday",  # all day 2030-03-09: from 05:00Z (EST)
        "Buy Äpfel",  # all day 2030-03-10: from 05:00Z (EST, the clocks change at 07:00Z)
        "report",  # 08:59:59Z
        "under_score",  # 11:59Z
        "late call",  # 2030-03-11T03:30Z
        "next week",  # all day 2030-03-16: from 04:00Z (EDT)
        "far away",  # all day 2030-03-17
    ]
    assert ascending == [*dated, "STRASSE fegen"]
    assert descending == [*reversed(dated), "STRASSE fegen"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"priority": "urgent"}, "priority"),
        ({"priority": "high,"}, "priority"),
        ({"tag": "no!pe"}, "tag"),
        ({"tag": ""}, "tag"),
        ({"tag": ",".join(f"t{n}" for n in range(21))}, "tag"),
        ({"due": "soon"}, "due"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "localtime"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"tz": "america/new_york"}, "tz"),
        ({"sort": "-"}, "sort"),
        ({"sort": "due,title"}, "sort"),
    ],
)
async def test_malformed_parameters_are_422_with_details(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    params: dict[str, str],
    field: str,
    wire: Wire,
) -> None:
    response = await client.get(tasks_url, params=params, headers=auth)
    assert response.status_code == 422
    assert wire.error(response) == "VALIDATION_ERROR"
    assert [d["field"] for d in wire.details(response)] == [field]


async def test_every_broken_parameter_is_listed(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    params = {"q": "", "priority": "x", "tag": "!", "due": "x", "tz": "x", "sort": "x", "page": "2"}
    response = await client.get(tasks_url, params=params, headers=auth)
    assert response.status_code == 422
    fields = [d["field"] for d in wire.details(response)]
    assert sorted(fields) == sorted(params)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "changed",
    [
        {"q": "o"},
        {"priority": "high"},
        {"tag": "home"},
        {"due": "any"},
        {"tz": "Europe/Berlin"},
        {"sort": "-due"},
    ],
)
async def test_a_cursor_is_bound_to_every_filter_the_zone_and_the_sort(
    client: Client, tasks_url: str, auth: dict[str, str], changed: dict[str, str], wire: Wire
) -> None:
    params = {"sort": "due", "tz": "America/New_York", "limit": "2"}
    first = await client.get(tasks_url, params=params, headers=auth)
    cursor = wire.next_cursor(first)

    same = await client.get(
        tasks_url, params={**params, "limit": "3", "cursor": cursor}, headers=auth
    )
    other = await client.get(
        tasks_url, params={**params, **changed, "cursor": cursor}, headers=auth
    )

    assert same.status_code == 200
    assert other.status_code == 422
    assert wire.details(other)[0]["field"] == "cursor"


@pytest.mark.usefixtures("seeded")
async def test_equal_filters_written_differently_share_cursors(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    params = {"priority": "high,none,low", "tag": "home,work", "limit": "1"}
    first = await client.get(tasks_url, params=params, headers=auth)
    cursor = wire.next_cursor(first)
    reordered = {
        "priority": "low,high,none,high",
        "tag": "WORK,home",
        "limit": "1",
        "cursor": cursor,
    }
    assert (await client.get(tasks_url, params=reordered, headers=auth)).status_code == 200
