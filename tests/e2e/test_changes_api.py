"""The change feed over HTTP (SPEC §8): full and incremental sync, what leaving a list looks
like, 410 for a cursor older than the history kept. Every storage, both styles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from domain.sync import HISTORY_KEPT
from taskservice.bootstrap import build_app
from tests.clock import FakeClock
from tests.e2e.conftest import memory_adapters, settings_for
from tests.e2e.people import People, Person, Replica, person
from tests.e2e.wire import Wire

pytestmark = pytest.mark.postgres


async def seen(someone: Person) -> Replica:
    """What the task and list routes show `someone`: every list, and every task of them."""
    shown = Replica()
    for task_list in await someone.ok("GET", "/lists"):
        shown.lists[task_list["id"]] = task_list
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({} if cursor is None else {"cursor": cursor})
        response = await someone.call("GET", "/tasks", params=params)
        assert response.status_code == 200
        shown.tasks |= {t["id"]: t for t in someone.wire.data(response)}
        cursor = someone.wire.next_cursor(response)
        if cursor is None:
            return shown


async def caught_up(someone: Person, replica: Replica, since: str | None = None) -> str:
    """`replica` after following `someone`'s feed from `since` to its end, checked against what
    the routes show (read first: listing the lists makes a default list on first need)."""
    shown = await seen(someone)
    cursor = await someone.follow(replica, since)
    assert replica == shown
    return cursor


async def test_a_full_sync_shows_every_task_and_list_as_their_routes_do(people: People) -> None:
    alice = people()
    groceries = await alice.new_list()
    await alice.add("milk", list_id=groceries["id"], tags=["dairy"])
    for n in range(9):
        await alice.add(f"inbox {n}", priority="high")
    replica = Replica()
    await caught_up(alice, replica)
    assert len(replica.lists) == 2
    assert len(replica.tasks) == 10


async def test_later_changes_come_after_the_cursor_and_nothing_else(people: People) -> None:
    alice = people()
    kept, changed, gone = [await alice.add(t) for t in ("kept", "changed", "doomed")]
    replica = Replica()
    cursor = await alice.follow(replica)
    entries, again, more = await alice.changes(cursor)
    assert (entries, again, more) == ([], cursor, False)
    await alice.ok("PATCH", f"/tasks/{changed['id']}", json={"title": "new"})
    await alice.ok("DELETE", f"/tasks/{gone['id']}")
    entries, cursor, more = await alice.changes(cursor)
    assert not more
    ops = {(e["kind"], e["id"]): e["op"] for e in entries}
    # The task's list changed too: its counts did.
    assert ops.pop(("task", gone["id"])) == "delete"
    assert ops.pop(("task", changed["id"])) == "upsert"
    assert set(ops.values()) == {"upsert"}
    assert {kind for kind, _ in ops} == {"list"}
    replica.apply(entries)
    await caught_up(alice, replica, cursor)
    assert kept["id"] in replica.tasks


async def test_losing_a_list_is_its_delete_and_takes_its_tasks(people: People) -> None:
    alice, bob = people(), people()
    groceries = await alice.new_list()
    await alice.share(groceries["id"], bob, "editor")
    await alice.add("milk", list_id=groceries["id"])
    replica = Replica()
    cursor = await bob.follow(replica)
    assert groceries["id"] in replica.lists
    assert any(t["list_id"] == groceries["id"] for t in replica.tasks.values())
    await alice.ok("DELETE", f"/lists/{groceries['id']}/members/{bob.id}")
    entries, cursor, _ = await bob.changes(cursor)
    assert [(e["kind"], e["id"], e["op"], e["data"]) for e in entries] == [
        ("list", groceries["id"], "delete", None)
    ]
    replica.apply(entries)
    cursor = await caught_up(bob, replica, cursor)
    # Invited again, then the list deleted: back, then gone again.
    await alice.share(groceries["id"], bob, "viewer")
    cursor = await caught_up(bob, replica, cursor)
    assert replica.lists[groceries["id"]]["role"] == "viewer"
    await alice.ok("DELETE", f"/lists/{groceries['id']}")
    await caught_up(bob, replica, cursor)
    assert groceries["id"] not in replica.lists
    await caught_up(alice, Replica())


async def test_a_task_moved_out_of_sight_is_deleted_and_into_sight_upserted(
    people: People,
) -> None:
    alice, bob = people(), people()
    shared, private = await alice.new_list("Shared"), await alice.new_list("Private")
    await alice.share(shared["id"], bob, "viewer")
    task = await alice.add("moving", list_id=private["id"])
    replica = Replica()
    cursor = await caught_up(bob, replica)
    assert task["id"] not in replica.tasks
    await alice.ok("POST", f"/tasks/{task['id']}/move", json={"list_id": shared["id"]})
    cursor = await caught_up(bob, replica, cursor)
    assert replica.tasks[task["id"]]["list_id"] == shared["id"]
    await alice.ok("POST", f"/tasks/{task['id']}/move", json={"list_id": private["id"]})
    entries, cursor, _ = await bob.changes(cursor)
    assert ("task", task["id"], "delete") in [(e["kind"], e["id"], e["op"]) for e in entries]
    replica.apply(entries)
    await caught_up(bob, replica, cursor)


async def test_bad_cursors_and_limits_are_refused(people: People) -> None:
    alice, bob = people(), people()
    await alice.add()
    _, cursor, _ = await alice.changes()
    for params in (
        {"limit": 0},
        {"limit": 501},
        {"limit": "ten"},
        {"since": ""},
        {"since": "not-a-cursor"},
        {"since": cursor[:-2]},
        {"cursor": cursor},
    ):
        assert await alice.refused("GET", "/changes", 422, params=params) == "VALIDATION_ERROR"
    # A cursor is its user's: another's is malformed to them.
    assert await bob.refused("GET", "/changes", 422, params={"since": cursor}) == "VALIDATION_ERROR"
    response = await alice.client.get(f"/api/{bob.id}/changes", headers=alice.auth)
    assert response.status_code == 403
    assert (await alice.client.get(alice.url("/changes"))).status_code == 401


@pytest.fixture
async def dated(
    tmp_path: Path, api_style: str
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    """A client of the service in memory on a clock the test moves."""
    settings = settings_for(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path, api_style=api_style)
    clock = FakeClock()
    app = build_app(settings, attrs.evolve(memory_adapters(settings), clock=clock))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client, clock


async def test_a_cursor_older_than_the_deletes_kept_is_410_and_a_full_sync_recovers(
    dated: tuple[httpx.AsyncClient, FakeClock], wire: Wire
) -> None:
    client, clock = dated
    alice = person(client, wire)
    first, second = await alice.add("first"), await alice.add("second")
    replica = Replica()
    stale = await alice.follow(replica)
    await alice.ok("DELETE", f"/tasks/{first['id']}")
    # A cursor past everything at the purged delete's number (a number may cover many entries).
    await alice.add("third")
    fresh = await alice.follow(replica)
    # Past the history kept, a delete purges the deletes older than it.
    clock.moment += HISTORY_KEPT + timedelta(days=1)
    await alice.ok("DELETE", f"/tasks/{second['id']}")
    response = await alice.call("GET", "/changes", params={"since": stale})
    assert response.status_code == 410
    assert wire.error(response) == "SYNC_EXPIRED"
    # The newer cursor missed nothing purged: it goes on.
    await alice.follow(replica, fresh)
    assert second["id"] not in replica.tasks
    recovered = Replica()
    await caught_up(alice, recovered)
    assert recovered == replica
