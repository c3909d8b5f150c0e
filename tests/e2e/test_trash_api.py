"""The trash over HTTP (SPEC §8): deletes keep tasks, editors restore them, viewers may not,
strangers cannot tell them from missing ones; a deleted list's tasks go to its owner.

Every test runs on every storage and in both styles.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.people import MISSING_ID, People, Person

pytestmark = pytest.mark.postgres


async def trash_ids(person: Person, **params: Any) -> list[int]:
    """The ids on one page of the person's trash."""
    return [t["id"] for t in await person.ok("GET", "/trash", params={"limit": 100, **params})]


async def shared_with(people: People, *roles: str) -> tuple[Person, dict[str, Any], list[Person]]:
    """An owner, a list of theirs, and one person who joined it in each of `roles`."""
    owner = people()
    made = await owner.new_list()
    others = [people() for _ in roles]
    for other, role in zip(others, roles, strict=True):
        await owner.share(made["id"], other, role)
    return owner, made, others


async def test_a_deleted_task_is_gone_everywhere_but_the_trash(people: People) -> None:
    alice = people()
    parent = await alice.add("parent")
    sub = await alice.add("sub", parent_id=parent["id"])
    kept = await alice.add("kept")
    deleted = await alice.ok("DELETE", f"/tasks/{parent['id']}")
    assert deleted == parent
    for task in (parent, sub):
        assert await alice.refused("GET", f"/tasks/{task['id']}", 404) == "NOT_FOUND"
        assert await alice.refused("PATCH", f"/tasks/{task['id']}/complete", 404) == "NOT_FOUND"
    assert await alice.titles() == ["kept"]
    listing = await alice.call("GET", "/tasks")
    assert alice.wire.counts(listing) == {"pending": 1, "completed": 0}
    [entry] = await alice.ok("GET", "/trash")
    assert entry == parent | {"deleted_at": entry["deleted_at"], "deleted_by": alice.id}
    assert kept["id"] not in await trash_ids(alice)


async def test_an_editor_restores_a_viewer_may_not_a_stranger_cannot_tell(
    people: People,
) -> None:
    owner, made, [editor, viewer] = await shared_with(people, "editor", "viewer")
    stranger = people()
    parent = await owner.add("parent", list_id=made["id"])
    sub = await owner.add("sub", list_id=made["id"], parent_id=parent["id"])
    later = await owner.add("later", list_id=made["id"])
    await editor.ok("DELETE", f"/tasks/{parent['id']}")

    assert await trash_ids(editor) == [parent["id"]]
    assert await trash_ids(owner) == [parent["id"]]
    # A viewer sees no trash of the list, and may not restore from it.
    assert await trash_ids(viewer) == []
    restore = f"/trash/{parent['id']}/restore"
    assert await viewer.refused("POST", restore, 403) == "FORBIDDEN"
    assert await viewer.refused("DELETE", f"/trash/{parent['id']}", 403) == "FORBIDDEN"
    # A stranger's answer is byte for byte a missing entry's.
    hidden = await stranger.call("POST", restore)
    missing = await stranger.call("POST", f"/trash/{MISSING_ID}/restore")
    assert (hidden.status_code, hidden.content) == (404, missing.content)
    assert stranger.wire.error(hidden) == "NOT_FOUND"
    assert await trash_ids(stranger) == []

    restored = await editor.ok("POST", restore)
    assert restored["id"] == parent["id"]
    assert restored["list_id"] == made["id"]
    assert restored["parent_id"] is None
    # At the end of its siblings, with its subtask under it.
    assert await owner.titles(list=made["id"], sort="position") == ["later", "parent", "sub"]
    back = await owner.ok("GET", f"/tasks/{sub['id']}")
    assert back["parent_id"] == parent["id"]
    assert back["position"].startswith(restored["position"] + ".")
    assert later["position"] < restored["position"]
    assert await trash_ids(owner) == []
    assert await editor.refused("POST", restore, 404) == "NOT_FOUND"


async def test_a_subtask_whose_parent_is_gone_comes_back_top_level(people: People) -> None:
    alice = people()
    parent = await alice.add("parent")
    sub = await alice.add("sub", parent_id=parent["id"])
    await alice.ok("DELETE", f"/tasks/{sub['id']}")
    await alice.ok("DELETE", f"/tasks/{parent['id']}")
    assert sorted(await trash_ids(alice)) == [parent["id"], sub["id"]]
    restored = await alice.ok("POST", f"/trash/{sub['id']}/restore")
    assert (restored["parent_id"], restored["list_id"]) == (None, parent["list_id"])


async def test_a_deleted_lists_tasks_go_to_the_owners_trash_and_back_to_the_default_list(
    people: People,
) -> None:
    owner, made, [editor] = await shared_with(people, "editor")
    parent = await editor.add("parent", list_id=made["id"])
    sub = await editor.add("sub", list_id=made["id"], parent_id=parent["id"])
    await owner.ok("DELETE", f"/lists/{made['id']}")
    assert await trash_ids(owner) == [parent["id"]]
    # The editor lost the list, and its trash with it.
    assert await trash_ids(editor) == []
    assert await editor.refused("POST", f"/trash/{parent['id']}/restore", 404) == "NOT_FOUND"

    restored = await owner.ok("POST", f"/trash/{parent['id']}/restore")
    [default] = [v for v in await owner.ok("GET", "/lists") if v["is_default"]]
    assert (restored["list_id"], restored["user_id"]) == (default["id"], owner.id)
    back = await owner.ok("GET", f"/tasks/{sub['id']}")
    assert (back["list_id"], back["parent_id"]) == (default["id"], parent["id"])
    assert (await owner.ok("GET", f"/lists/{default['id']}"))["counts"] == {
        "pending": 2,
        "completed": 0,
    }


async def test_purge_and_empty_delete_for_good(people: People) -> None:
    owner, made, [editor] = await shared_with(people, "editor")
    first = await owner.add("first", list_id=made["id"])
    second = await owner.add("second", list_id=made["id"])
    mine = await owner.add("mine")
    for task in (first, second, mine):
        await owner.ok("DELETE", f"/tasks/{task['id']}")
    purged = await editor.ok("DELETE", f"/trash/{first['id']}")
    assert purged["id"] == first["id"]
    assert purged["deleted_by"] == owner.id
    assert await editor.refused("DELETE", f"/trash/{first['id']}", 404) == "NOT_FOUND"
    # The editor empties what they see: the list's trash, not the owner's own.
    assert await editor.ok("DELETE", "/trash") == {"deleted": 1}
    assert await trash_ids(owner) == [mine["id"]]
    assert await owner.ok("DELETE", "/trash") == {"deleted": 1}
    assert await trash_ids(owner) == []


async def test_the_trash_pages_newest_first_with_sealed_cursors(people: People) -> None:
    alice, bob = people(), people()
    tasks = [await alice.add(f"t{i}") for i in range(5)]
    for task in tasks:
        await alice.ok("DELETE", f"/tasks/{task['id']}")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await alice.call("GET", "/trash", params=params)
        assert response.status_code == 200
        seen += [t["id"] for t in alice.wire.data(response)]
        cursor = alice.wire.next_cursor(response)
        if cursor is None:
            break
        # A cursor is its user's: another's is a broken one.
        refused = await bob.call("GET", "/trash", params={"cursor": cursor})
        assert refused.status_code == 422
    deleted_order = sorted(tasks, key=lambda t: t["id"])
    assert seen == [t["id"] for t in deleted_order][::-1]


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/trash", {"limit": "0"}),
        ("GET", "/trash", {"limit": "101"}),
        ("GET", "/trash", {"cursor": "nonsense"}),
        ("GET", "/trash", {"sort": "title"}),
        ("DELETE", "/trash", {"all": "1"}),
        ("DELETE", f"/trash/{MISSING_ID}", {"x": "1"}),
    ],
)
async def test_broken_parameters_are_422(
    people: People, method: str, path: str, params: dict[str, str]
) -> None:
    assert await people().refused(method, path, 422, params=params) == "VALIDATION_ERROR"
