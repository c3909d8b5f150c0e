"""Sharing lists between two and three people over HTTP (SPEC §7): invites, roles, members.

Every test runs on every storage and in both styles; each person has a token of their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.people import MISSING_ID, People, Person

pytestmark = pytest.mark.postgres


def fields(details: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The (field, code) of each broken rule."""
    return [(d["field"], d["code"]) for d in details]


async def shared(people: People, *roles: str) -> tuple[Person, dict[str, Any], list[Person]]:
    """An owner, their list "Groceries", and one person who joined it in each of `roles`."""
    owner = people()
    groceries = await owner.new_list()
    others = [people() for _ in roles]
    for other, role in zip(others, roles, strict=True):
        await owner.share(groceries["id"], other, role)
    return owner, groceries, others


async def test_an_invite_shows_its_code_once_and_is_withdrawn_by_it(people: People) -> None:
    alice, bob = people(), people()
    groceries = await alice.new_list()
    path = f"/lists/{groceries['id']}/invites"
    response = await alice.call("POST", path, json={"role": "viewer", "expires_in": 3600})
    assert response.status_code == 201
    issued = alice.wire.data(response)
    code = issued["code"]
    assert set(issued) == {"code", "list_id", "role", "expires_at", "created_at", "created_by"}
    assert (issued["role"], issued["list_id"], issued["created_by"]) == (
        "viewer",
        groceries["id"],
        alice.id,
    )
    assert len(code) >= 22
    other = await alice.invite(groceries["id"])
    assert other != code
    listing = await alice.call("GET", path)
    assert listing.status_code == 200
    assert code not in listing.text
    assert other not in listing.text
    invites = alice.wire.data(listing)
    assert [i["role"] for i in invites] == ["viewer", "editor"]
    assert all("code" not in i for i in invites)
    assert invites[0]["expires_at"] == issued["expires_at"]
    withdrawn = await alice.ok("DELETE", f"{path}/{code}")
    assert withdrawn["role"] == "viewer"
    assert "code" not in withdrawn
    assert [i["role"] for i in await alice.ok("GET", path)] == ["editor"]
    assert await alice.refused("DELETE", f"{path}/{code}", 404) == "NOT_FOUND"
    assert await bob.refused("POST", f"/invites/{code}/accept", 404) == "NOT_FOUND"
    assert (await bob.ok("POST", f"/invites/{other}/accept"))["role"] == "editor"


@pytest.mark.parametrize(
    ("body", "broken"),
    [
        ({}, [("role", "required")]),
        ({"role": "owner"}, [("role", "invalid_choice")]),
        (
            {"role": "Editor", "expires_in": 59},
            [("role", "invalid_choice"), ("expires_in", "out_of_range")],
        ),
        ({"role": "viewer", "expires_in": 604_801}, [("expires_in", "out_of_range")]),
        ({"role": "viewer", "expires_in": "60"}, [("expires_in", "out_of_range")]),
        ({"role": "viewer", "expires_in": 60.5}, [("expires_in", "out_of_range")]),
        ({"role": "viewer", "code": "mine"}, [("code", "unknown_field")]),
    ],
)
async def test_invite_terms_break_rules_with_details(
    people: People, body: dict[str, Any], broken: list[tuple[str, str]]
) -> None:
    alice = people()
    groceries = await alice.new_list()
    response = await alice.call("POST", f"/lists/{groceries['id']}/invites", json=body)
    assert response.status_code == 422, response.text
    assert sorted(fields(alice.wire.details(response))) == sorted(broken)
    assert await alice.ok("GET", f"/lists/{groceries['id']}/invites") == []


async def test_invites_live_between_a_minute_and_a_week(people: People) -> None:
    alice = people()
    groceries = await alice.new_list()
    for seconds in (60, 604_800):
        await alice.invite(groceries["id"], "viewer", expires_in=seconds)
    [inbox] = [v for v in await alice.ok("GET", "/lists") if v["is_default"]]
    refused = await alice.refused(
        "POST", f"/lists/{inbox['id']}/invites", 409, json={"role": "viewer"}
    )
    assert refused == "CONFLICT"


async def test_two_people_share_a_list(people: People) -> None:
    alice, bob = people(), people()
    groceries = await alice.new_list()
    milk = await alice.add("milk", list_id=groceries["id"])
    code = await alice.invite(groceries["id"], "editor")
    accepted = await bob.call("POST", f"/invites/{code}/accept")
    assert accepted.status_code == 200
    assert accepted.headers["etag"] == '"1"'
    joined = bob.wire.data(accepted)
    assert (joined["id"], joined["role"], joined["members"], joined["owner_id"]) == (
        groceries["id"],
        "editor",
        2,
        alice.id,
    )
    assert [v["name"] for v in await bob.ok("GET", "/lists")] == ["Inbox", "Groceries"]
    assert (await bob.ok("GET", f"/tasks/{milk['id']}"))["title"] == "milk"
    response = await bob.call("POST", "/tasks", json={"title": "bread", "list_id": groceries["id"]})
    assert response.status_code == 201
    bread = bob.wire.data(response)
    assert (bread["user_id"], bread["created_by"]) == (alice.id, bob.id)
    assert response.headers["location"] == bob.url(f"/tasks/{bread['id']}")
    await bob.ok("PATCH", f"/tasks/{milk['id']}/complete", json={"completed": True})
    await bob.ok("PATCH", f"/tasks/{milk['id']}", json={"priority": "high"})
    page = await alice.call("GET", "/tasks", params={"list": groceries["id"]})
    assert {t["title"] for t in alice.wire.data(page)} == {"milk", "bread"}
    assert alice.wire.counts(page) == {"pending": 1, "completed": 1}
    assert (await alice.ok("GET", f"/lists/{groceries['id']}"))["counts"] == {
        "pending": 1,
        "completed": 1,
    }
    mine = await bob.call("GET", "/tasks")
    assert {t["title"] for t in bob.wire.data(mine)} == {"milk", "bread"}
    assert bob.wire.counts(mine) == {"pending": 1, "completed": 1}


async def test_a_refused_accept_uses_nothing_up(people: People) -> None:
    alice, bob, carol = people(), people(), people()
    groceries = await alice.new_list()
    first, second = [await alice.invite(groceries["id"]) for _ in range(2)]
    await bob.ok("POST", f"/invites/{first}/accept")
    assert await bob.refused("POST", f"/invites/{second}/accept", 409) == "CONFLICT"
    assert await alice.refused("POST", f"/invites/{second}/accept", 409) == "CONFLICT"
    assert await carol.refused("POST", f"/invites/{first}/accept", 404) == "NOT_FOUND"
    assert await carol.refused("POST", "/invites/no-such-code/accept", 404) == "NOT_FOUND"
    assert (await carol.ok("POST", f"/invites/{second}/accept"))["members"] == 3
    assert await alice.ok("GET", f"/lists/{groceries['id']}/invites") == []


async def test_unknown_used_and_withdrawn_codes_answer_alike(people: People) -> None:
    alice, bob, carol = people(), people(), people()
    groceries = await alice.new_list()
    used, withdrawn = [await alice.invite(groceries["id"]) for _ in range(2)]
    await bob.ok("POST", f"/invites/{used}/accept")
    await alice.ok("DELETE", f"/lists/{groceries['id']}/invites/{withdrawn}")
    answers = [
        await carol.call("POST", f"/invites/{code}/accept")
        for code in (used, withdrawn, "x" * 43, "%2e%2e")
    ]
    assert {(a.status_code, a.content) for a in answers} == {(404, answers[0].content)}


async def test_three_people_each_in_their_role(people: People) -> None:
    alice, groceries, (bob, carol) = await shared(people, "editor", "viewer")
    list_path = f"/lists/{groceries['id']}"
    milk = await bob.add("milk", list_id=groceries["id"])
    task_path = f"/tasks/{milk['id']}"
    assert (await carol.ok("GET", task_path))["title"] == "milk"
    assert (await carol.ok("GET", list_path))["role"] == "viewer"
    assert await carol.titles(list=groceries["id"], sort="position") == ["milk"]
    viewer_refused = [
        ("POST", "/tasks", {"title": "eggs", "list_id": groceries["id"]}),
        ("POST", "/tasks", {"title": "eggs", "list_id": groceries["id"], "parent_id": milk["id"]}),
        ("PUT", task_path, {"title": "x"}),
        ("PATCH", task_path, {"title": "x"}),
        ("PATCH", f"{task_path}/complete", {"completed": True}),
        ("DELETE", task_path, None),
        ("POST", f"{task_path}/move", {"after": None}),
    ]
    for method, path, body in viewer_refused:
        assert await carol.refused(method, path, 403, json=body) == "FORBIDDEN", (method, path)
    for who, other in ((bob, carol), (carol, bob)):
        for method, path, body in (
            ("PATCH", list_path, {"name": "x"}),
            ("DELETE", list_path, None),
            ("GET", f"{list_path}/invites", None),
            ("POST", f"{list_path}/invites", {"role": "viewer"}),
            ("DELETE", f"{list_path}/invites/some-code", None),
            ("PATCH", f"{list_path}/members/{other.id}", {"role": "editor"}),
            ("PATCH", f"{list_path}/members/{who.id}", {"role": "editor"}),
            ("DELETE", f"{list_path}/members/{other.id}", None),
        ):
            assert await who.refused(method, path, 403, json=body) == "FORBIDDEN", (method, path)
    current = await alice.ok("GET", task_path)
    assert current["version"] == 1
    assert (await alice.ok("GET", list_path))["name"] == "Groceries"


async def test_a_stranger_gets_404_for_everything_of_a_shared_list(people: People) -> None:
    alice, groceries, (bob,) = await shared(people, "editor")
    milk = await alice.add("milk", list_id=groceries["id"])
    code = await alice.invite(groceries["id"])
    dave = people()
    for method, path in (
        ("GET", f"/lists/{groceries['id']}"),
        ("GET", f"/lists/{groceries['id']}/members"),
        ("DELETE", f"/lists/{groceries['id']}/members/{bob.id}"),
        ("DELETE", f"/lists/{groceries['id']}/invites/{code}"),
        ("GET", f"/tasks/{milk['id']}"),
        ("POST", f"/tasks/{milk['id']}/move"),
    ):
        kwargs: dict[str, Any] = {"json": {}} if method == "POST" else {}
        seen = await dave.call(method, path, **kwargs)
        missing = await dave.call(
            method,
            path.replace(str(groceries["id"]), str(MISSING_ID)).replace(
                str(milk["id"]), str(MISSING_ID)
            ),
            **kwargs,
        )
        assert seen.status_code == 404, (method, path, seen.text)
        assert seen.content == missing.content, (method, path)
    assert {v["id"] for v in await dave.ok("GET", "/lists")}.isdisjoint({groceries["id"]})
    assert await dave.titles() == []


async def test_removing_a_member_ends_their_access_at_once(people: People) -> None:
    alice, groceries, (bob,) = await shared(people, "editor")
    milk = await alice.add("milk", list_id=groceries["id"])
    removed = await alice.ok("DELETE", f"/lists/{groceries['id']}/members/{bob.id}")
    assert (removed["user_id"], removed["role"], removed["email"]) == (bob.id, "editor", bob.email)
    assert await bob.refused("GET", f"/lists/{groceries['id']}", 404) == "NOT_FOUND"
    assert await bob.refused("GET", f"/tasks/{milk['id']}", 404) == "NOT_FOUND"
    assert (
        await bob.refused("PATCH", f"/tasks/{milk['id']}", 404, json={"title": "x"}) == "NOT_FOUND"
    )
    assert await bob.refused("GET", "/tasks", 404, params={"list": groceries["id"]}) == "NOT_FOUND"
    assert await bob.titles() == []
    assert [v["name"] for v in await bob.ok("GET", "/lists")] == ["Inbox"]
    assert (await alice.ok("GET", f"/lists/{groceries['id']}"))["members"] == 1
    again = await alice.refused("DELETE", f"/lists/{groceries['id']}/members/{bob.id}", 404)
    assert again == "NOT_FOUND"


async def test_a_member_leaves_and_the_owner_cannot(people: People) -> None:
    alice, groceries, (bob, carol) = await shared(people, "editor", "viewer")
    members = f"/lists/{groceries['id']}/members"
    assert await carol.refused("DELETE", f"{members}/{bob.id}", 403) == "FORBIDDEN"
    left = await carol.ok("DELETE", f"{members}/{carol.id}")
    assert (left["user_id"], left["role"]) == (carol.id, "viewer")
    assert await carol.refused("GET", f"/lists/{groceries['id']}", 404) == "NOT_FOUND"
    assert await alice.refused("DELETE", f"{members}/{alice.id}", 409) == "CONFLICT"
    assert [m["user_id"] for m in await bob.ok("GET", members)] == [alice.id, bob.id]


async def test_the_owner_changes_roles(people: People) -> None:
    alice, groceries, (bob, carol) = await shared(people, "editor", "viewer")
    members = f"/lists/{groceries['id']}/members"
    assert await carol.refused(
        "POST", "/tasks", 403, json={"title": "x", "list_id": groceries["id"]}
    )
    promoted = await alice.call(
        "PATCH",
        f"{members}/{carol.id}",
        json={"role": "editor"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert promoted.status_code == 200
    assert alice.wire.data(promoted)["role"] == "editor"
    await carol.add("eggs", list_id=groceries["id"])
    demoted = await alice.ok("PATCH", f"{members}/{bob.id}", json={"role": "viewer"})
    assert demoted["role"] == "viewer"
    assert await bob.refused("POST", "/tasks", 403, json={"title": "x", "list_id": groceries["id"]})
    for body, broken in (
        ({"role": "owner"}, [("role", "invalid_choice")]),
        ({}, [("role", "required")]),
        ({"role": "viewer", "since": 1}, [("since", "unknown_field")]),
    ):
        response = await alice.call("PATCH", f"{members}/{bob.id}", json=body)
        assert response.status_code == 422
        assert fields(alice.wire.details(response)) == broken
    assert await alice.refused("PATCH", f"{members}/{alice.id}", 409, json={"role": "viewer"})
    assert await alice.refused("PATCH", f"{members}/nobody", 404, json={"role": "viewer"})
    roles = {m["user_id"]: m["role"] for m in await alice.ok("GET", members)}
    assert roles == {alice.id: "owner", bob.id: "viewer", carol.id: "editor"}


async def test_members_show_emails_to_the_owner_only(people: People) -> None:
    alice, groceries, (bob, carol) = await shared(people, "editor", "viewer")
    members = f"/lists/{groceries['id']}/members"
    seen = await alice.ok("GET", members)
    assert [(m["user_id"], m["role"], m["email"]) for m in seen] == [
        (alice.id, "owner", alice.email),
        (bob.id, "editor", bob.email),
        (carol.id, "viewer", carol.email),
    ]
    assert all(m["joined_at"].endswith("Z") for m in seen)
    for other in (bob, carol):
        response = await other.call("GET", members)
        assert [m["user_id"] for m in other.wire.data(response)] == [alice.id, bob.id, carol.id]
        assert all(
            set(m) == {"user_id", "name", "role", "joined_at"} for m in other.wire.data(response)
        )
        assert "@example.com" not in response.text
    assert len(seen) == (await bob.ok("GET", f"/lists/{groceries['id']}"))["members"]


async def test_a_move_between_shared_lists_needs_an_editor_of_both(people: People) -> None:
    alice, groceries, (bob,) = await shared(people, "editor")
    watched = await alice.new_list("Watched")
    await alice.share(watched["id"], bob, "viewer")
    milk = await alice.add("milk", list_id=groceries["id"])
    path = f"/tasks/{milk['id']}/move"
    assert await bob.refused("POST", path, 403, json={"list_id": watched["id"]}) == "FORBIDDEN"
    bobs = await bob.new_list("Bob's")
    moved = await bob.ok("POST", path, json={"list_id": bobs["id"]}, headers={"If-Match": '"1"'})
    assert (moved["list_id"], moved["user_id"]) == (bobs["id"], bob.id)
    assert await alice.refused("GET", f"/tasks/{milk['id']}", 404) == "NOT_FOUND"
    back = await bob.ok("POST", path, json={"list_id": groceries["id"]})
    assert (back["list_id"], back["user_id"], back["created_by"]) == (
        groceries["id"],
        alice.id,
        alice.id,
    )
