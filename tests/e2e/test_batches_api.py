"""POST /api/{user_id}/tasks/batch over HTTP (SPEC §8): all or nothing, one result per operation,
the failing operation named in `details`, Idempotency-Key as for a create.

Every test runs on every storage and in both styles.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.people import MISSING_ID, People, Person

pytestmark = pytest.mark.postgres

BATCH = "/tasks/batch"


def fields(details: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The (field, code) of each detail."""
    return [(d["field"], d["code"]) for d in details]


async def batch(person: Person, *operations: dict[str, Any], **kwargs: Any) -> Any:
    """The results of a batch that must succeed."""
    return await person.ok("POST", BATCH, json={"operations": list(operations)}, **kwargs)


async def refused(
    person: Person, status: int, *operations: dict[str, Any]
) -> tuple[str, list[tuple[str, str]]]:
    """The error code and details of a batch that must be refused with `status`."""
    response = await person.call("POST", BATCH, json={"operations": list(operations)})
    assert response.status_code == status, response.text
    return person.wire.error(response), fields(person.wire.details(response))


async def test_operations_apply_in_order_and_answer_one_task_each(people: People) -> None:
    alice = people()
    first, second = await alice.add("first"), await alice.add("second")
    results = await batch(
        alice,
        {"op": "create", "data": {"title": "new", "tags": ["A"]}},
        {"op": "update", "id": first["id"], "data": {"title": "renamed"}, "if_match": 1},
        {"op": "complete", "id": first["id"]},
        {"op": "complete", "id": second["id"], "data": {"completed": False}},
        {"op": "delete", "id": second["id"]},
    )
    assert [(t["title"], t["completed"], t["version"]) for t in results] == [
        ("new", False, 1),
        ("renamed", False, 2),
        ("renamed", True, 3),
        ("second", False, 1),
        ("second", False, 1),
    ]
    assert results[0]["tags"] == ["a"]
    assert await alice.ok("GET", f"/tasks/{first['id']}") == results[2]
    assert await alice.refused("GET", f"/tasks/{second['id']}", 404) == "NOT_FOUND"
    assert sorted(await alice.titles()) == ["new", "renamed"]


async def test_a_failing_operation_applies_nothing_and_is_named(people: People) -> None:
    alice = people()
    kept = await alice.add("kept")
    code, details = await refused(
        alice,
        422,
        {"op": "complete", "id": kept["id"]},
        {"op": "create", "data": {"title": "fine"}},
        {"op": "create", "data": {"title": " ", "priority": "urgent"}},
    )
    assert code == "VALIDATION_ERROR"
    assert details == [
        ("operations[2].title", "blank"),
        ("operations[2].priority", "invalid_choice"),
    ]
    code, details = await refused(
        alice,
        404,
        {"op": "complete", "id": kept["id"]},
        {"op": "delete", "id": kept["id"]},
        {"op": "update", "id": kept["id"], "data": {"title": "after the delete"}},
    )
    assert (code, details) == ("NOT_FOUND", [("operations[2]", "not_found")])
    code, details = await refused(
        alice,
        412,
        {"op": "create", "data": {"title": "x"}},
        {"op": "delete", "id": kept["id"], "if_match": 9},
    )
    assert (code, details) == ("PRECONDITION_FAILED", [("operations[1]", "precondition_failed")])
    # Read back: every refused batch left the task as it was and created nothing.
    assert await alice.ok("GET", f"/tasks/{kept['id']}") == kept
    assert await alice.titles() == ["kept"]


async def test_a_viewers_batch_is_a_403_naming_the_operation(people: People) -> None:
    alice, bob = people(), people()
    groceries = await alice.new_list()
    await alice.share(groceries["id"], bob, "viewer")
    milk = await alice.add("milk", list_id=groceries["id"])
    code, details = await refused(
        bob,
        403,
        {"op": "create", "data": {"title": "bob's own"}},
        {"op": "complete", "id": milk["id"]},
    )
    assert (code, details) == ("FORBIDDEN", [("operations[1]", "forbidden")])
    code, details = await refused(
        bob, 403, {"op": "create", "data": {"title": "in her list", "list_id": groceries["id"]}}
    )
    assert (code, details) == ("FORBIDDEN", [("operations[0]", "forbidden")])
    assert await bob.titles() == ["milk"]
    assert (await alice.ok("GET", f"/tasks/{milk['id']}"))["completed"] is False


async def test_a_strangers_task_is_a_404_like_a_missing_one(people: People) -> None:
    alice, mallory = people(), people()
    secret = await alice.add("secret")
    stranger = await mallory.call(
        "POST", BATCH, json={"operations": [{"op": "delete", "id": secret["id"]}]}
    )
    missing = await mallory.call(
        "POST", BATCH, json={"operations": [{"op": "delete", "id": MISSING_ID}]}
    )
    assert stranger.status_code == missing.status_code == 404
    assert stranger.content == missing.content
    assert fields(mallory.wire.details(stranger)) == [("operations[0]", "not_found")]
    assert await alice.ok("GET", f"/tasks/{secret['id']}") == secret


@pytest.mark.parametrize(("count", "code"), [(0, "too_few"), (101, "too_many")])
async def test_a_batch_holds_one_to_a_hundred_operations(
    people: People, count: int, code: str
) -> None:
    alice = people()
    operations = [{"op": "create", "data": {"title": "t"}}] * count
    assert await refused(alice, 422, *operations) == ("VALIDATION_ERROR", [("operations", code)])
    assert await alice.titles() == []


async def test_a_hundred_operations_are_one_batch(people: People) -> None:
    alice = people()
    created = await batch(alice, *[{"op": "create", "data": {"title": "t"}}] * 100)
    assert len({t["id"] for t in created}) == 100


async def test_an_idempotency_key_replays_the_first_answer(people: People) -> None:
    alice = people()
    task = await alice.add()
    body = {
        "operations": [
            {"op": "complete", "id": task["id"]},
            {"op": "create", "data": {"title": "n"}},
        ]
    }
    headers = {"Idempotency-Key": "batch-1"}
    first = await alice.call("POST", BATCH, json=body, headers=headers)
    again = await alice.call("POST", BATCH, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    # Applied once: the toggle stayed completed, one task was created.
    assert (await alice.ok("GET", f"/tasks/{task['id']}"))["completed"] is True
    assert sorted(await alice.titles()) == ["n", "t"]
    other = {"operations": [{"op": "complete", "id": task["id"]}]}
    reused = await alice.call("POST", BATCH, json=other, headers=headers)
    assert reused.status_code == 422
    assert alice.wire.error(reused) == "IDEMPOTENCY_KEY_REUSED"
    # The same key on a create names another request, even with a body that reads alike.
    create = await alice.call("POST", "/tasks", json={"title": "n"}, headers=headers)
    assert create.status_code == 422
    assert alice.wire.error(create) == "IDEMPOTENCY_KEY_REUSED"


async def test_a_malformed_key_and_body_are_reported_together(people: People) -> None:
    alice = people()
    response = await alice.call(
        "POST", BATCH, json={"operations": [{"op": "nope"}]}, headers={"Idempotency-Key": "bad key"}
    )
    assert response.status_code == 422
    assert fields(alice.wire.details(response)) == [
        ("Idempotency-Key", "invalid"),
        ("operations[0].op", "invalid_choice"),
    ]
