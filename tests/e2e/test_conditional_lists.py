"""Conditional lists over HTTP (SPEC §8): weak ETags on task and list pages, 304 while valid."""

from __future__ import annotations

import pytest

from tests.e2e.people import People, Person

pytestmark = pytest.mark.postgres


async def tagged(person: Person, path: str) -> str:
    """The weak ETag of a page that must be answered in full."""
    response = await person.call("GET", path)
    assert response.status_code == 200, response.text
    tag = response.headers["etag"]
    assert tag.startswith('W/"')
    return tag


async def status_with(person: Person, path: str, header: str) -> int:
    """The status of a GET of `path` with If-None-Match `header`, checking what a 304 carries."""
    response = await person.call("GET", path, headers={"If-None-Match": header})
    if response.status_code == 304:
        assert response.content == b""
        assert response.headers["etag"] in header
    return response.status_code


@pytest.mark.parametrize("path", ["/tasks", "/tasks?status=pending&limit=5", "/lists"])
async def test_a_page_is_not_sent_again_while_nothing_in_its_scope_changes(
    people: People, path: str
) -> None:
    alice, bob = people(), people()
    await alice.add("milk")
    bobs = await bob.new_list("Bob's")
    tag = await tagged(alice, path)
    assert await status_with(alice, path, tag) == 304
    assert await status_with(alice, path, f'"other", {tag}') == 304, "any of several tags"
    await bob.add("his", list_id=bobs["id"])
    assert await status_with(alice, path, tag) == 304, "another user's list is out of scope"
    await alice.add("bread")
    assert await status_with(alice, path, tag) == 200
    assert await tagged(alice, path) != tag


async def test_a_list_page_changes_with_its_members_and_not_with_other_lists(
    people: People,
) -> None:
    alice, bob = people(), people()
    groceries = await alice.new_list()
    chores = await alice.new_list("Chores")
    path = f"/tasks?list={groceries['id']}"
    tag = await tagged(alice, path)
    await alice.add("sweep", list_id=chores["id"])
    assert await status_with(alice, path, tag) == 304
    await alice.share(groceries["id"], bob, "viewer")
    assert await status_with(alice, path, tag) == 200, "the list's member count changed"
    bobs_tag = await tagged(bob, path)
    await alice.call("DELETE", f"/lists/{groceries['id']}/members/{bob.id}")
    assert await bob.refused("GET", path, 404, headers={"If-None-Match": bobs_tag}) == "NOT_FOUND"


async def test_someone_elses_list_is_missing_whatever_the_tag(people: People) -> None:
    alice, bob = people(), people()
    bobs = await bob.new_list("Bob's")
    path = f"/tasks?list={bobs['id']}"
    tag = await tagged(bob, path)
    assert await alice.refused("GET", path, 404, headers={"If-None-Match": tag}) == "NOT_FOUND"
    assert await alice.refused("GET", path, 404, headers={"If-None-Match": "*"}) == "NOT_FOUND"
