"""Batches (SPEC §8) on the in-memory store: all or nothing, in order, each operation seeing the
earlier ones, idempotent with a key, and the batch's own rules (1–100 operations)."""

from __future__ import annotations

from typing import Any, Final

import pytest

from domain.batches import BATCH_MAX, parse_batch
from domain.errors import FieldError, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from domain.idempotency import IdempotentRequest, Reply
from domain.lists import Role
from domain.tasks import Task
from domain.types import TaskId
from tests.unit.sharing import ALICE, BOB, CAROL, Household


@pytest.fixture
def home() -> Household:
    return Household()


def details(exc: pytest.ExceptionInfo[Any]) -> list[tuple[str, str]]:
    found: list[FieldError] = exc.value.details
    return [(d.field, d.code) for d in found]


async def stored(home: Household, task_id: TaskId) -> Task | None:
    """The task as the store holds it (committed state only)."""
    return home.store.state.tasks.get(task_id)


async def test_a_failing_third_operation_leaves_the_first_two_unapplied(home: Household) -> None:
    done, gone = await home.add(ALICE, "done"), await home.add(ALICE, "gone")
    before = dict(home.store.state.tasks)
    operations = parse_batch(
        {
            "operations": [
                {"op": "complete", "id": done, "data": {"completed": True}},
                {"op": "delete", "id": gone},
                {"op": "update", "id": 999_999, "data": {"title": "x"}},
                {"op": "create", "data": {"title": "never"}},
            ]
        }
    )
    with pytest.raises(NotFound) as refused:
        await home.tasks.batch(ALICE, operations)
    assert details(refused) == [("operations[2]", "not_found")]
    # Read back: nothing of operations 0 and 1 was kept, and nothing was created.
    assert home.store.state.tasks == before
    stored_done = await stored(home, done)
    assert stored_done is not None
    assert not stored_done.completed
    assert await stored(home, gone) is not None


async def test_results_come_in_order_and_later_operations_see_earlier_ones(
    home: Household,
) -> None:
    first = await home.add(ALICE, "first")
    operations = parse_batch(
        {
            "operations": [
                {"op": "update", "id": first, "data": {"title": "renamed"}},
                # Sees the rename: the version it expects is the one the update made.
                {"op": "complete", "id": first, "if_match": 2},
                {"op": "create", "data": {"title": "new"}},
                {"op": "complete", "id": first},
                {"op": "delete", "id": first, "if_match": 4},
            ]
        }
    )
    results = await home.tasks.batch(ALICE, operations)
    assert [(t.title, t.completed, t.version) for t in results] == [
        ("renamed", False, 2),
        ("renamed", True, 3),
        ("new", False, 1),
        ("renamed", False, 4),
        ("renamed", False, 4),
    ]
    assert await stored(home, first) is None
    assert results[2].id != first
    assert await stored(home, results[2].id) == results[2]


async def test_operations_after_a_delete_of_the_same_task_find_nothing(home: Household) -> None:
    task_id = await home.add(ALICE)
    operations = parse_batch(
        {"operations": [{"op": "delete", "id": task_id}, {"op": "complete", "id": task_id}]}
    )
    with pytest.raises(NotFound) as refused:
        await home.tasks.batch(ALICE, operations)
    assert details(refused) == [("operations[1]", "not_found")]
    assert await stored(home, task_id) is not None


async def test_new_tasks_of_one_batch_follow_each_other_in_their_list(home: Household) -> None:
    list_id = await home.new_list(ALICE)
    parent = await home.add(ALICE, "parent", list_id=list_id)
    creates = [
        {"op": "create", "data": {"title": f"step {n}", "list_id": list_id, "parent_id": parent}}
        for n in range(3)
    ]
    await home.tasks.batch(ALICE, parse_batch({"operations": creates}))
    assert await home.titles(ALICE, list_id) == ["parent", "step 0", "step 1", "step 2"]


async def test_a_stale_if_match_is_a_412_naming_the_operation(home: Household) -> None:
    task_id = await home.add(ALICE)
    operations = parse_batch(
        {
            "operations": [
                {"op": "update", "id": task_id, "data": {"title": "a"}, "if_match": 1},
                {"op": "update", "id": task_id, "data": {"title": "b"}, "if_match": 1},
            ]
        }
    )
    with pytest.raises(PreconditionFailed) as refused:
        await home.tasks.batch(ALICE, operations)
    assert details(refused) == [("operations[1]", "precondition_failed")]
    task = await stored(home, task_id)
    assert task is not None
    assert (task.title, task.version) == ("t", 1)


async def test_a_rule_the_use_case_finds_names_the_operations_field(home: Household) -> None:
    parent = await home.add(ALICE, "parent")
    sub = await home.add(ALICE, "sub", parent_id=parent)
    operations = parse_batch(
        {
            "operations": [
                {"op": "create", "data": {"title": "fine"}},
                {"op": "create", "data": {"title": "too deep", "parent_id": sub}},
            ]
        }
    )
    with pytest.raises(ValidationFailed) as refused:
        await home.tasks.batch(ALICE, operations)
    assert details(refused) == [("operations[1].parent_id", "not_top_level")]
    assert len(home.store.state.tasks) == 2


async def test_a_viewer_is_refused_naming_the_operation(home: Household) -> None:
    list_id = await home.new_list(ALICE)
    await home.share(list_id, ALICE, BOB, Role.VIEWER)
    await home.share(list_id, ALICE, CAROL, Role.EDITOR)
    task_id = await home.add(ALICE, list_id=list_id)
    own = await home.add(BOB, "bob's own")
    operations = parse_batch(
        {
            "operations": [
                {"op": "complete", "id": own},
                {"op": "complete", "id": task_id},
            ]
        }
    )
    with pytest.raises(Forbidden) as refused:
        await home.tasks.batch(BOB, operations)
    assert details(refused) == [("operations[1]", "forbidden")]
    own_task = await stored(home, own)
    assert own_task is not None
    assert not own_task.completed
    # An editor may.
    results = await home.tasks.batch(CAROL, operations[1:])
    assert results[0].completed


async def test_a_key_replays_the_first_answer_and_applies_nothing_again(home: Household) -> None:
    task_id = await home.add(ALICE)
    operations = parse_batch(
        {
            "operations": [
                {"op": "complete", "id": task_id},
                {"op": "create", "data": {"title": "n"}},
            ]
        }
    )
    request = IdempotentRequest(key="k-1", fingerprint="batch body")
    applied: list[list[Task]] = []

    def render(tasks: list[Task]) -> Reply:
        applied.append(tasks)
        return Reply(status=200, headers={}, body=repr([t.id for t in tasks]).encode())

    first = await home.tasks.batch_once(ALICE, operations, request=request, render=render)
    again = await home.tasks.batch_once(ALICE, operations, request=request, render=render)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.reply == first.reply
    # One application: the toggle did not toggle back, one task was created.
    assert len(applied) == 1
    task = await stored(home, task_id)
    assert task is not None
    assert task.completed
    assert len(home.store.state.tasks) == 2


async def test_a_failed_keyed_batch_keeps_no_answer(home: Household) -> None:
    task_id = await home.add(ALICE)
    bad = parse_batch({"operations": [{"op": "complete", "id": task_id, "if_match": 7}]})
    request = IdempotentRequest(key="k-2", fingerprint="f")
    render = lambda tasks: Reply(status=200, headers={}, body=b"")  # noqa: E731
    with pytest.raises(PreconditionFailed):
        await home.tasks.batch_once(ALICE, bad, request=request, render=render)
    assert home.store.state.replies == {}


@pytest.mark.parametrize(("count", "code"), [(0, "too_few"), (BATCH_MAX + 1, "too_many")])
def test_a_batch_holds_one_to_a_hundred_operations(count: int, code: str) -> None:
    operation = {"op": "create", "data": {"title": "t"}}
    with pytest.raises(ValidationFailed) as refused:
        parse_batch({"operations": [operation] * count})
    assert details(refused) == [("operations", code)]
    assert len(parse_batch({"operations": [operation] * BATCH_MAX})) == BATCH_MAX


BROKEN_OPERATIONS: Final[list[object]] = [
    {"op": "create", "data": {"title": "fine"}},
    {"op": "create", "data": {"title": "", "bogus": 1}},
    {"op": "update", "data": {"list_id": 3}, "if_match": "1"},
    {"op": "complete", "id": 1, "data": {"completed": "yes"}},
    {"op": "delete", "id": 0, "data": {}},
    {"op": "archive", "id": 1},
]
"""One fine operation, then one of each way an operation can be wrong."""


def test_every_broken_rule_is_named_by_its_operation() -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_batch({"operations": [*BROKEN_OPERATIONS, "not an object"], "extra": True})
    assert details(refused) == [("extra", "unknown_field")]
    with pytest.raises(ValidationFailed) as refused:
        parse_batch({"operations": [[]]})
    assert details(refused) == [("operations[0]", "invalid_type")]
    with pytest.raises(ValidationFailed) as refused:
        parse_batch({"operations": BROKEN_OPERATIONS})
    assert details(refused) == [
        ("operations[1].bogus", "unknown_field"),
        ("operations[1].title", "blank"),
        ("operations[2].id", "required"),
        ("operations[2].if_match", "invalid_type"),
        ("operations[2].list_id", "read_only"),
        ("operations[3].completed", "invalid_type"),
        ("operations[4].data", "unknown_field"),
        ("operations[4].id", "invalid_type"),
        ("operations[5].op", "invalid_choice"),
    ]


@pytest.mark.parametrize("body", [{}, {"operations": None}, {"operations": {"op": "create"}}])
def test_operations_must_be_an_array(body: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_batch(body)
    assert [field for field, _ in details(refused)] == ["operations"]
