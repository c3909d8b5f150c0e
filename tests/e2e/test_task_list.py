"""Listing: status, sort, limit, keyset cursors and the footer counts (SPEC §3.1)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from adapters.http.representation import SORTS
from domain.tasks import TITLE_MAX
from tests.e2e.wire import Wire
from tests.sealing import shows
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient


async def _all_pages(
    client: Client, url: str, auth: dict[str, str], wire: Wire, **params: str
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query, headers=auth)
        assert response.status_code == 200, response.text
        seen += wire.data(response)
        cursor = wire.next_cursor(response)
        if cursor is None:
            return seen


async def test_paging_through_250_tasks_returns_each_exactly_once(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    created = [await make_task(title=f"task {i:03}") for i in range(250)]

    seen = await _all_pages(client, tasks_url, auth, wire, limit="37")

    assert [t["id"] for t in seen] == [t["id"] for t in reversed(created)]
    assert len({t["id"] for t in seen}) == 250


# sort=position needs list=<id> (SPEC §7): the lists' tests page it within one list.
@pytest.mark.parametrize("sort", [s for s in SORTS if s.lstrip("-") != "position"])
async def test_every_sort_pages_in_the_same_order_as_one_page(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, sort: str, wire: Wire
) -> None:
    priorities = ["none", "low", "medium", "high"]
    dues: list[dict[str, str]] = [
        {},
        {"due_date": "2030-01-02"},
        {"due_at": "2030-01-02T08:00:00Z"},
    ]
    for i in range(23):
        await make_task(title=f"t{i % 5}", priority=priorities[i % 4], **dues[i % 3])

    one_page = wire.data(
        await client.get(tasks_url, params={"sort": sort, "limit": "100"}, headers=auth)
    )
    paged = await _all_pages(client, tasks_url, auth, wire, sort=sort, limit="4")

    assert [t["id"] for t in paged] == [t["id"] for t in one_page]
    field = sort.lstrip("-")
    if field == "due":
        return  # its order (all-day dates at the start of their day) is test_task_search's
    rank = {p: i for i, p in enumerate(priorities)}
    key = (
        (lambda t: (rank[t["priority"]], t["id"]))
        if field == "priority"
        else (lambda t: (t[field], t["id"]))
    )
    assert one_page == sorted(one_page, key=key, reverse=sort.startswith("-"))


async def test_the_longest_titles_page_by_title(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    # 200 characters of four UTF-8 bytes each: the longest cursor a list can need.
    longest = [await make_task(title=char * TITLE_MAX) for char in "😀😁😂"]
    seen = await _all_pages(client, tasks_url, auth, wire, sort="title", limit="1")
    assert [t["id"] for t in seen] == [t["id"] for t in longest]


async def test_status_filter_and_counts(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    tasks = [await make_task(title=f"t{i}") for i in range(5)]
    for task in tasks[:2]:
        await client.patch(
            f"{tasks_url}/{task['id']}/complete", json={"completed": True}, headers=auth
        )

    pending = await client.get(tasks_url, params={"status": "pending"}, headers=auth)
    completed = await client.get(
        tasks_url, params={"status": "completed", "limit": "1"}, headers=auth
    )

    assert {t["id"] for t in wire.data(pending)} == {t["id"] for t in tasks[2:]}
    assert len(wire.data(completed)) == 1
    assert wire.data(completed)[0]["completed"] is True
    assert wire.counts(completed) == {"pending": 3, "completed": 2}
    assert wire.next_cursor(completed) is not None
    assert wire.next_cursor(pending) is None
    if not wire.plain:
        # The envelope also states the page size in force.
        assert completed.json()["meta"]["limit"] == 1
        assert pending.json()["meta"]["limit"] == 50


async def test_counts_are_the_users_own(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    response = await client.get(tasks_url, headers=auth)
    assert wire.counts(response) == {"pending": 0, "completed": 0}
    assert wire.data(response) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "done"}, "status"),
        ({"sort": "colour"}, "sort"),
        ({"sort": "--title"}, "sort"),
        ({"page": "2"}, "page"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": ""}, "cursor"),
    ],
)
async def test_bad_query_parameters_are_422(
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
    assert field in {d["field"] for d in wire.details(response)}


async def test_repeated_parameter_is_422(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    response = await client.get(f"{tasks_url}?status=all&status=pending", headers=auth)
    assert response.status_code == 422


async def test_a_cursor_is_bound_to_its_filter_and_sort_but_not_its_limit(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    for i in range(4):
        await make_task(title=f"t{i}")
    first = await client.get(tasks_url, params={"limit": "2", "sort": "title"}, headers=auth)
    cursor = wire.next_cursor(first)

    other_sort = await client.get(
        tasks_url, params={"cursor": cursor, "sort": "-title"}, headers=auth
    )
    other_filter = await client.get(
        tasks_url, params={"cursor": cursor, "sort": "title", "status": "pending"}, headers=auth
    )
    other_limit = await client.get(
        tasks_url, params={"cursor": cursor, "sort": "title", "limit": "1"}, headers=auth
    )
    # Alone, it asks for the default order and filter.
    alone = await client.get(tasks_url, params={"cursor": cursor}, headers=auth)

    assert other_sort.status_code == 422
    assert other_filter.status_code == 422
    assert alone.status_code == 422
    assert other_limit.status_code == 200
    assert [t["title"] for t in wire.data(other_limit)] == ["t2"]


async def test_a_title_sorted_cursor_shows_no_title(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    for title in ("Appointment at the clinic", "Birthday present for Sam"):
        await make_task(title=title, description="private")
    page = await client.get(tasks_url, params={"sort": "title", "limit": "1"}, headers=auth)
    cursor = wire.next_cursor(page)
    assert cursor is not None
    assert not shows(cursor, "Appointment", "clinic", "Birthday", "private")


async def test_a_tampered_or_truncated_cursor_is_422(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    for i in range(3):
        await make_task(title=f"t{i}")
    cursor = wire.next_cursor(await client.get(tasks_url, params={"limit": "1"}, headers=auth))
    assert cursor is not None
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    flipped = bytes([raw[0], raw[1] ^ 0x20, *raw[2:]])
    for tampered in (
        base64.urlsafe_b64encode(flipped).decode().rstrip("="),
        base64.urlsafe_b64encode(raw[:-1]).decode().rstrip("="),
        cursor[:-2],
        cursor + "A",
    ):
        response = await client.get(
            tasks_url, params={"cursor": tampered, "limit": "1"}, headers=auth
        )
        assert response.status_code == 422
        assert response.json()["details"][0]["field"] == "cursor"
    assert (await client.get(tasks_url, params={"cursor": cursor}, headers=auth)).status_code == 200


async def test_a_cursor_of_another_user_is_422(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    for i in range(3):
        await make_task(title=f"t{i}")
    cursor = wire.next_cursor(await client.get(tasks_url, params={"limit": "1"}, headers=auth))
    other = f"other-{uuid.uuid4().hex[:10]}"
    response = await client.get(
        f"/api/{other}/tasks",
        params={"cursor": cursor},
        headers={"Authorization": f"Bearer {hs256(other)}"},
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "cursor"
