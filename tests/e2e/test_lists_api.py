"""Lists, their tasks, order and subtasks over HTTP (SPEC §7), on every storage, in both styles.

Sharing between people is in test_sharing.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.people import MISSING_ID, People, Person

pytestmark = pytest.mark.postgres

LIST_KEYS = {
    "id",
    "name",
    "owner_id",
    "is_default",
    "role",
    "members",
    "counts",
    "version",
    "created_at",
    "updated_at",
}


def fields(details: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The (field, code) of each broken rule."""
    return [(d["field"], d["code"]) for d in details]


async def inbox(me: Person) -> dict[str, Any]:
    """My default list (made on first need)."""
    lists = await me.ok("GET", "/lists")
    assert lists[0]["is_default"] is True
    found: dict[str, Any] = lists[0]
    return found


async def test_the_default_list_is_made_on_first_need_and_comes_first(people: People) -> None:
    me = people()
    [default] = await me.ok("GET", "/lists")
    assert default.keys() == LIST_KEYS
    assert (default["name"], default["is_default"], default["role"]) == ("Inbox", True, "owner")
    assert (default["owner_id"], default["members"]) == (me.id, 1)
    assert default["counts"] == {"pending": 0, "completed": 0}
    for name in ("Zoo", "apples", "Market"):
        await me.new_list(name)
    names = [item["name"] for item in await me.ok("GET", "/lists")]
    assert names[0] == "Inbox"
    assert sorted(names[1:]) == names[1:]
    task = await me.add("first")
    assert task["list_id"] == default["id"]


async def test_a_new_list_has_location_etag_and_every_field(people: People) -> None:
    me = people()
    response = await me.call("POST", "/lists", json={"name": "  Groceries \t"})
    assert response.status_code == 201
    created = me.wire.data(response)
    assert created.keys() == LIST_KEYS
    assert created["name"] == "Groceries"
    assert (created["is_default"], created["role"], created["members"]) == (False, "owner", 1)
    assert (created["version"], created["owner_id"]) == (1, me.id)
    assert created["created_at"].endswith("Z")
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == me.url(f"/lists/{created['id']}")
    again = await me.client.get(response.headers["location"], headers=me.auth)
    assert again.status_code == 200
    assert again.headers["etag"] == '"1"'
    assert me.wire.data(again) == created


async def test_a_rename_honours_if_match(people: People) -> None:
    me = people()
    made = await me.new_list("Old")
    path = f"/lists/{made['id']}"
    renamed = await me.call(
        "PATCH",
        path,
        json={"name": "New"},
        headers={"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    assert renamed.status_code == 200
    assert renamed.headers["etag"] == '"2"'
    assert (me.wire.data(renamed)["name"], me.wire.data(renamed)["version"]) == ("New", 2)
    stale = await me.refused("PATCH", path, 412, json={"name": "Lost"}, headers={"If-Match": '"1"'})
    assert stale == "PRECONDITION_FAILED"
    assert (await me.ok("GET", path))["name"] == "New"
    same = await me.ok("PATCH", path, json={"name": "New"})
    assert same["version"] == 2


@pytest.mark.parametrize(
    ("body", "broken"),
    [
        ({}, [("name", "required")]),
        ({"name": "  "}, [("name", "blank")]),
        ({"name": "n" * 101}, [("name", "too_long")]),
        ({"name": "a\x00b"}, [("name", "control_character")]),
        ({"name": 5}, [("name", "invalid_type")]),
        ({"name": None}, [("name", "invalid_type")]),
        (
            {"name": "ok", "owner_id": "x", "colour": 1},
            [("colour", "unknown_field"), ("owner_id", "unknown_field")],
        ),
    ],
)
async def test_name_rules_and_unknown_fields_are_422_with_details(
    people: People, body: dict[str, Any], broken: list[tuple[str, str]]
) -> None:
    me = people()
    made = await me.new_list()
    for method, path in (("POST", "/lists"), ("PATCH", f"/lists/{made['id']}")):
        response = await me.call(method, path, json=body)
        assert response.status_code == 422, response.text
        assert me.wire.error(response) == "VALIDATION_ERROR"
        assert fields(me.wire.details(response)) == broken
    assert [v["name"] for v in await me.ok("GET", "/lists")] == ["Inbox", "Groceries"]


async def test_the_default_list_is_never_deleted_other_lists_go_with_their_tasks(
    people: People,
) -> None:
    me = people()
    default = await inbox(me)
    assert await me.refused("DELETE", f"/lists/{default['id']}", 409) == "CONFLICT"
    doomed = await me.new_list("Doomed")
    task = await me.add("in it", list_id=doomed["id"])
    stale = await me.call("DELETE", f"/lists/{doomed['id']}", headers={"If-Match": '"9"'})
    assert stale.status_code == 412
    deleted = await me.ok("DELETE", f"/lists/{doomed['id']}")
    assert (deleted["id"], deleted["name"], deleted["counts"]["pending"]) == (
        doomed["id"],
        "Doomed",
        1,
    )
    assert await me.refused("GET", f"/lists/{doomed['id']}", 404) == "NOT_FOUND"
    assert await me.refused("GET", f"/tasks/{task['id']}", 404) == "NOT_FOUND"
    assert [v["id"] for v in await me.ok("GET", "/lists")] == [default["id"]]


async def test_a_list_one_cannot_see_answers_as_a_missing_one_to_the_byte(
    people: People,
) -> None:
    alice, mallory = people(), people()
    hers = await alice.new_list("Private")
    task = await alice.add("secret", list_id=hers["id"])
    # A valid body for each route: a broken one is a 422 first, for a missing list alike.
    bodies = {"": {"name": "n"}, "/invites": {"role": "viewer"}, "/members/x": {"role": "viewer"}}
    for path in ("", "/invites", "/members", "/members/x", "/invites/code"):
        for method in ("GET", "PATCH", "DELETE", "POST"):
            answers = [
                await mallory.call(method, f"/lists/{ref}{path}", json=bodies.get(path, {}))
                for ref in (hers["id"], MISSING_ID, "abc", "0", "-1", "01")
            ]
            if answers[0].status_code == 405:
                continue
            assert answers[0].status_code == 404, (method, path, answers[0].text)
            assert {(a.status_code, a.content) for a in answers} == {(404, answers[0].content)}, (
                method,
                path,
            )
    seen = [await mallory.call("GET", f"/tasks/{ref}") for ref in (task["id"], MISSING_ID, "x1")]
    assert {(a.status_code, a.content) for a in seen} == {(404, seen[0].content)}
    listed = [
        await mallory.call("GET", "/tasks", params={"list": ref})
        for ref in (hers["id"], MISSING_ID)
    ]
    assert {(a.status_code, a.content) for a in listed} == {(404, listed[0].content)}
    created = [
        await mallory.call("POST", "/tasks", json={"title": "t", "list_id": ref})
        for ref in (hers["id"], MISSING_ID)
    ]
    assert {(a.status_code, a.content) for a in created} == {(404, created[0].content)}
    under = [
        await mallory.call("POST", "/tasks", json={"title": "t", "parent_id": ref})
        for ref in (task["id"], MISSING_ID)
    ]
    assert {(a.status_code, a.content) for a in under} == {(404, under[0].content)}
    mine = await mallory.add("mine")
    moved = [
        await mallory.call("POST", f"/tasks/{mine['id']}/move", json={"list_id": ref})
        for ref in (hers["id"], MISSING_ID)
    ]
    assert {(a.status_code, a.content) for a in moved} == {(404, moved[0].content)}
    assert (await alice.ok("GET", f"/tasks/{task['id']}"))["title"] == "secret"


async def test_list_routes_read_no_query_parameters(people: People) -> None:
    me = people()
    made = await me.new_list()
    for path in ("/lists", f"/lists/{made['id']}", f"/lists/{made['id']}/members"):
        response = await me.call("GET", path, params={"limit": "5"})
        assert response.status_code == 422
        assert fields(me.wire.details(response)) == [("limit", "unknown_parameter")]


async def test_a_task_carries_its_place_and_creator(people: People) -> None:
    me = people()
    groceries = await me.new_list()
    task = await me.add("milk", list_id=groceries["id"])
    assert task["list_id"] == groceries["id"]
    assert (task["parent_id"], task["user_id"], task["created_by"]) == (None, me.id, me.id)
    assert isinstance(task["position"], str)
    assert task["position"]
    sub = await me.add("skimmed", parent_id=task["id"], list_id=groceries["id"])
    assert (sub["list_id"], sub["parent_id"]) == (groceries["id"], task["id"])
    later = await me.add("bread", list_id=groceries["id"])
    assert task["position"] < later["position"]


async def test_subtasks_are_one_level_deep_under_a_parent_of_the_same_list(
    people: People,
) -> None:
    me = people()
    groceries = await me.new_list()
    parent = await me.add("parent", list_id=groceries["id"])
    sub = await me.add("sub", parent_id=parent["id"], list_id=groceries["id"])
    deeper = await me.call("POST", "/tasks", json={"title": "x", "parent_id": sub["id"]})
    assert deeper.status_code == 422
    assert fields(me.wire.details(deeper)) == [("parent_id", "not_top_level")]
    elsewhere = await me.call("POST", "/tasks", json={"title": "x", "parent_id": parent["id"]})
    assert elsewhere.status_code == 422
    assert fields(me.wire.details(elsewhere)) == [("parent_id", "other_list")]
    broken = await me.call("POST", "/tasks", json={"title": "", "list_id": "1", "parent_id": 0})
    assert broken.status_code == 422
    assert fields(me.wire.details(broken)) == [
        ("title", "blank"),
        ("list_id", "invalid_type"),
        ("parent_id", "invalid_type"),
    ]


async def test_list_and_parent_narrow_the_list_and_the_counts_follow_the_scope(
    people: People,
) -> None:
    me = people()
    groceries = await me.new_list()
    await me.add("inbox one")
    await me.ok(
        "PATCH", f"/tasks/{(await me.add('inbox done'))['id']}/complete", json={"completed": True}
    )
    milk = await me.add("milk", list_id=groceries["id"])
    await me.add("skimmed", parent_id=milk["id"], list_id=groceries["id"])
    await me.add("bread", list_id=groceries["id"])
    scoped = await me.call("GET", "/tasks", params={"list": groceries["id"], "sort": "title"})
    assert [t["title"] for t in me.wire.data(scoped)] == ["bread", "milk", "skimmed"]
    assert me.wire.counts(scoped) == {"pending": 3, "completed": 0}
    everything = await me.call("GET", "/tasks")
    assert len(me.wire.data(everything)) == 5
    assert me.wire.counts(everything) == {"pending": 4, "completed": 1}
    top = await me.titles(list=groceries["id"], parent="none", sort="title")
    assert top == ["bread", "milk"]
    assert await me.titles(parent=milk["id"]) == ["skimmed"]
    assert len(await me.titles(parent="none")) == 4
    [listed] = [v for v in await me.ok("GET", "/lists") if v["id"] == groceries["id"]]
    assert listed["counts"] == {"pending": 3, "completed": 0}


async def test_sort_position_orders_siblings_each_parent_followed_by_its_subtasks(
    people: People,
) -> None:
    me = people()
    groceries = await me.new_list()
    made = {}
    for title in ("a", "b", "c"):
        made[title] = await me.add(title, list_id=groceries["id"])
    for title in ("a1", "a2"):
        made[title] = await me.add(title, parent_id=made["a"]["id"], list_id=groceries["id"])
    by_position = {"list": groceries["id"], "sort": "position"}
    assert await me.titles(**by_position) == ["a", "a1", "a2", "b", "c"]
    await me.ok("POST", f"/tasks/{made['c']['id']}/move", json={"after": None})
    await me.ok("POST", f"/tasks/{made['a2']['id']}/move", json={"after": None})
    assert await me.titles(**by_position) == ["c", "a", "a2", "a1", "b"]
    await me.ok("POST", f"/tasks/{made['c']['id']}/move", json={"after": made["a"]["id"]})
    assert await me.titles(**by_position) == ["a", "a2", "a1", "c", "b"]
    pages: list[str] = []
    cursor = None
    while True:
        params = {**by_position, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await me.call("GET", "/tasks", params=params)
        assert response.status_code == 200, response.text
        pages += [t["title"] for t in me.wire.data(response)]
        cursor = me.wire.next_cursor(response)
        if cursor is None:
            break
    assert pages == ["a", "a2", "a1", "c", "b"]


async def test_broken_list_parameters_are_422_with_every_rule(people: People) -> None:
    me = people()
    groceries = await me.new_list()
    other = await me.new_list("Other")
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({"sort": "position"}, [("sort", "needs_list")]),
        (
            {"sort": "-position", "status": "done"},
            [("status", "invalid_choice"), ("sort", "needs_list")],
        ),
        ({"list": "abc"}, [("list", "invalid")]),
        ({"list": "0", "sort": "position"}, [("list", "invalid")]),
        ({"list": "1.5", "parent": "top"}, [("list", "invalid"), ("parent", "invalid")]),
        ({"parent": "-3"}, [("parent", "invalid")]),
        ({"list": [groceries["id"], other["id"]]}, [("list", "repeated")]),
    ]
    for params, broken in cases:
        response = await me.call("GET", "/tasks", params=params)
        assert response.status_code == 422, (params, response.text)
        assert me.wire.error(response) == "VALIDATION_ERROR"
        assert sorted(fields(me.wire.details(response))) == sorted(broken), params
    assert await me.refused("GET", "/tasks", 404, params={"parent": MISSING_ID}) == "NOT_FOUND"
    for title in "xyz":
        await me.add(title, list_id=groceries["id"])
    first = await me.call("GET", "/tasks", params={"list": groceries["id"], "limit": 1})
    cursor = me.wire.next_cursor(first)
    assert cursor is not None
    elsewhere = await me.call(
        "GET", "/tasks", params={"list": other["id"], "limit": 1, "cursor": cursor}
    )
    assert elsewhere.status_code == 422
    assert fields(me.wire.details(elsewhere)) == [("cursor", "invalid")]


async def test_list_id_and_parent_id_change_only_by_a_move(people: People) -> None:
    me = people()
    groceries = await me.new_list()
    task = await me.add("t")
    for method in ("PUT", "PATCH"):
        response = await me.call(
            method,
            f"/tasks/{task['id']}",
            json={"title": "t", "list_id": groceries["id"], "parent_id": None},
        )
        assert response.status_code == 422
        assert fields(me.wire.details(response)) == [
            ("list_id", "read_only"),
            ("parent_id", "read_only"),
        ]
    assert (await me.ok("GET", f"/tasks/{task['id']}"))["version"] == 1


async def test_a_move_to_another_list_honours_if_match_and_takes_the_subtasks(
    people: People,
) -> None:
    me = people()
    groceries = await me.new_list()
    task = await me.add("milk")
    sub = await me.add("skimmed", parent_id=task["id"])
    path = f"/tasks/{task['id']}/move"
    moved = await me.call(
        "POST", path, json={"list_id": groceries["id"]}, headers={"If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == '"2"'
    body = me.wire.data(moved)
    assert (body["list_id"], body["parent_id"], body["version"]) == (groceries["id"], None, 2)
    assert (await me.ok("GET", f"/tasks/{sub['id']}"))["list_id"] == groceries["id"]
    replay = await me.call(
        "POST", path, json={"list_id": (await inbox(me))["id"]}, headers={"If-Match": '"1"'}
    )
    assert replay.status_code == 412
    assert me.wire.error(replay) == "PRECONDITION_FAILED"
    assert await me.titles(list=groceries["id"], sort="position") == ["milk", "skimmed"]
    nothing = await me.ok("POST", path, json={})
    assert nothing["version"] == 2


async def test_a_move_the_rules_refuse_is_422_with_details(people: People) -> None:
    me = people()
    groceries = await me.new_list()
    parent = await me.add("parent")
    sub = await me.add("sub", parent_id=parent["id"])
    other = await me.add("other")
    there = await me.add("there", list_id=groceries["id"])
    cases: list[tuple[int, dict[str, Any], list[tuple[str, str]]]] = [
        (parent["id"], {"parent_id": other["id"]}, [("parent_id", "has_subtasks")]),
        (other["id"], {"parent_id": sub["id"]}, [("parent_id", "not_top_level")]),
        (other["id"], {"parent_id": other["id"]}, [("parent_id", "self")]),
        (other["id"], {"parent_id": there["id"]}, [("parent_id", "other_list")]),
        (other["id"], {"after": there["id"]}, [("after", "not_sibling")]),
        (other["id"], {"after": sub["id"]}, [("after", "not_sibling")]),
        (
            other["id"],
            {"list_id": None, "parent_id": "x", "before": 1},
            [
                ("before", "unknown_field"),
                ("list_id", "invalid_type"),
                ("parent_id", "invalid_type"),
            ],
        ),
    ]
    for task_id, body, broken in cases:
        response = await me.call("POST", f"/tasks/{task_id}/move", json=body)
        assert response.status_code == 422, (body, response.text)
        assert sorted(fields(me.wire.details(response))) == sorted(broken), body
    assert (
        await me.refused(
            "POST",
            f"/tasks/{other['id']}/move",
            400,
            content=b"[]",
            headers={"Content-Type": "application/json"},
        )
        == "BAD_REQUEST"
    )
    assert await me.refused("POST", f"/tasks/{MISSING_ID}/move", 404, json={}) == "NOT_FOUND"
    moved = await me.ok("POST", f"/tasks/{other['id']}/move", json={"parent_id": parent["id"]})
    assert moved["parent_id"] == parent["id"]


async def test_a_keyed_create_into_a_list_happens_once(people: People) -> None:
    me = people()
    groceries = await me.new_list()
    body = {"title": "milk", "list_id": groceries["id"]}
    key = {"Idempotency-Key": "create-milk-1"}
    first = await me.call("POST", "/tasks", json=body, headers=key)
    again = await me.call("POST", "/tasks", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert (
        again.headers["location"]
        == first.headers["location"]
        == me.url(f"/tasks/{me.wire.data(first)['id']}")
    )
    assert await me.titles(list=groceries["id"]) == ["milk"]
    elsewhere = await me.call("POST", "/tasks", json={"title": "milk"}, headers=key)
    assert elsewhere.status_code == 422
    assert me.wire.error(elsewhere) == "IDEMPOTENCY_KEY_REUSED"
    [listed] = [v for v in await me.ok("GET", "/lists") if v["id"] == groceries["id"]]
    assert listed["counts"]["pending"] == 1


async def test_each_style_has_its_own_bodies(people: People) -> None:
    me = people()
    made = await me.new_list()
    listing = await me.call("GET", "/lists")
    refused = await me.call("DELETE", f"/lists/{(await inbox(me))['id']}")
    if me.wire.plain:
        assert isinstance(listing.json(), list)
        assert listing.json()[1] == made
        assert set(refused.json()) == {"detail", "error"}
    else:
        assert set(listing.json()) == {"data", "error", "message"}
        assert listing.json()["data"][1] == made
        assert set(refused.json()) == {"data", "error", "message"}
    assert refused.json()["error"] == "CONFLICT"


async def test_ids_and_seconds_written_with_a_zero_fraction_are_integers(people: People) -> None:
    # JSON has one kind of number; JSON Schema (and so the OpenAPI document) counts 2.0 an
    # integer, and so does the service.
    me = people()
    groceries = await me.new_list()
    body = b'{"title": "milk", "list_id": %d.0}' % groceries["id"]
    created = await me.call(
        "POST", "/tasks", content=body, headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    task = me.wire.data(created)
    assert task["list_id"] == groceries["id"]
    inbox_id = (await inbox(me))["id"]
    moved = await me.call(
        "POST",
        f"/tasks/{task['id']}/move",
        content=b'{"list_id": %de0, "after": null}' % inbox_id,
        headers={"Content-Type": "application/json"},
    )
    assert moved.status_code == 200, moved.text
    assert me.wire.data(moved)["list_id"] == inbox_id
    invited = await me.call(
        "POST",
        f"/lists/{groceries['id']}/invites",
        content=b'{"role": "viewer", "expires_in": 3600.0}',
        headers={"Content-Type": "application/json"},
    )
    assert invited.status_code == 201, invited.text
    halves = await me.call(
        "POST", f"/lists/{groceries['id']}/invites", json={"role": "viewer", "expires_in": 3600.5}
    )
    assert halves.status_code == 422
    assert fields(me.wire.details(halves)) == [("expires_in", "out_of_range")]
