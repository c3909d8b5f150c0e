"""Manual order, subtasks and moves on the in-memory store (SPEC §7)."""

from __future__ import annotations

import pytest

from domain.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from domain.lists import Role
from domain.placement import POSITION_MAX_LENGTH, SEPARATOR, key_of
from domain.queries import Parent, Sort, SortField, TaskQuery
from domain.tasks import Move, Task
from domain.types import ListId, TaskId
from tests.unit.sharing import ALICE, BOB, CAROL, Household

MANUAL = Sort(field=SortField.POSITION, descending=False)


@pytest.fixture
def home() -> Household:
    return Household()


def details(refused: pytest.ExceptionInfo[ValidationFailed]) -> list[tuple[str, str]]:
    """The (field, code) of each broken rule."""
    return [(d.field, d.code) for d in refused.value.details]


def stored(home: Household, task_id: TaskId) -> Task:
    """The task as the store holds it."""
    return home.store.state.tasks[task_id]


async def test_new_tasks_go_to_the_end_and_subtasks_under_their_parent(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    bread = await home.add(ALICE, "bread", list_id=groceries)
    await home.add(ALICE, "oat milk", list_id=groceries, parent_id=milk)
    await home.add(ALICE, "skimmed", list_id=groceries, parent_id=milk)
    eggs = await home.add(ALICE, "eggs", list_id=groceries)
    await home.add(ALICE, "rye", list_id=groceries, parent_id=bread)
    assert await home.titles(ALICE, groceries) == [
        "milk",
        "oat milk",
        "skimmed",
        "bread",
        "rye",
        "eggs",
    ]
    assert stored(home, milk).position < stored(home, bread).position < stored(home, eggs).position
    sub = next(t for t in home.store.state.tasks.values() if t.title == "skimmed")
    assert sub.position.startswith(stored(home, milk).position + SEPARATOR)
    top = TaskQuery(list_id=groceries, parent=Parent.NONE, sort=MANUAL)
    assert [t.title for t in (await home.tasks.list_page(ALICE, top)).tasks] == [
        "milk",
        "bread",
        "eggs",
    ]
    under_milk = TaskQuery(list_id=groceries, parent=milk, sort=MANUAL)
    assert [t.title for t in (await home.tasks.list_page(ALICE, under_milk)).tasks] == [
        "oat milk",
        "skimmed",
    ]


async def test_a_subtask_is_one_level_deep_in_its_parents_list(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    other = await home.new_list(ALICE, "Other")
    milk = await home.add(ALICE, "milk", list_id=groceries)
    oat = await home.add(ALICE, "oat", list_id=groceries, parent_id=milk)
    with pytest.raises(ValidationFailed) as deeper:
        await home.add(ALICE, "x", list_id=groceries, parent_id=oat)
    assert details(deeper) == [("parent_id", "not_top_level")]
    with pytest.raises(ValidationFailed) as elsewhere:
        await home.add(ALICE, "x", list_id=other, parent_id=milk)
    assert details(elsewhere) == [("parent_id", "other_list")]
    with pytest.raises(ValidationFailed) as inbox:
        await home.add(ALICE, "x", parent_id=milk)
    assert details(inbox) == [("parent_id", "other_list")]


async def test_sort_position_needs_a_list(home: Household) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await home.tasks.list_page(ALICE, TaskQuery(sort=MANUAL))
    assert details(refused) == [("sort", "needs_list")]


async def test_after_null_moves_first_and_after_a_sibling_follows_it(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    a, b, c = [await home.add(ALICE, t, list_id=groceries) for t in "abc"]
    moved = await home.tasks.move(ALICE, c, Move(after=None))
    assert moved.version == 2
    assert await home.titles(ALICE, groceries) == ["c", "a", "b"]
    await home.tasks.move(ALICE, c, Move(after=a))
    assert await home.titles(ALICE, groceries) == ["a", "c", "b"]
    await home.tasks.move(ALICE, a, Move(after=b))
    assert await home.titles(ALICE, groceries) == ["c", "b", "a"]
    unchanged = stored(home, b)
    assert await home.tasks.move(ALICE, b, Move()) == unchanged


async def test_after_must_be_another_sibling_at_the_destination(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    a, b = [await home.add(ALICE, t, list_id=groceries) for t in "ab"]
    sub = await home.add(ALICE, "sub", list_id=groceries, parent_id=a)
    for after in (a, sub):
        with pytest.raises(ValidationFailed) as refused:
            await home.tasks.move(ALICE, a if after == a else b, Move(after=after))
        assert details(refused) == [("after", "not_sibling")]
    with pytest.raises(NotFound):
        await home.tasks.move(ALICE, a, Move(after=TaskId(999)))


async def test_subtasks_travel_with_their_parent_to_another_list(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    shared = await home.new_list(BOB, "Household")
    await home.share(shared, BOB, ALICE, Role.EDITOR)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    oat = await home.add(ALICE, "oat", list_id=groceries, parent_id=milk)
    await home.add(BOB, "soap", list_id=shared)
    moved = await home.tasks.move(ALICE, milk, Move(list_id=shared))
    assert (moved.list_id, moved.user_id, moved.parent_id) == (shared, "bob", None)
    carried = stored(home, oat)
    assert (carried.list_id, carried.user_id, carried.parent_id) == (shared, "bob", milk)
    assert carried.position.startswith(moved.position + SEPARATOR)
    assert await home.titles(BOB, shared) == ["soap", "milk", "oat"]
    assert (await home.lists.get(ALICE, groceries)).counts.pending == 0
    assert (await home.lists.get(BOB, shared)).counts.pending == 3


async def test_moving_across_lists_needs_an_editor_of_both(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    viewed = await home.new_list(CAROL, "Carol's")
    await home.share(viewed, CAROL, ALICE, Role.VIEWER)
    edited = await home.new_list(BOB, "Bob's")
    await home.share(edited, BOB, ALICE, Role.EDITOR)
    await home.share(groceries, ALICE, BOB, Role.VIEWER)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    soap = await home.add(BOB, "soap", list_id=edited)
    with pytest.raises(Forbidden):
        await home.tasks.move(ALICE, milk, Move(list_id=viewed))
    with pytest.raises(Forbidden):
        await home.tasks.move(BOB, soap, Move(list_id=groceries))
    with pytest.raises(NotFound) as hidden:
        await home.tasks.move(BOB, soap, Move(list_id=await home.new_list(CAROL, "Hidden")))
    with pytest.raises(NotFound) as missing:
        await home.tasks.move(BOB, soap, Move(list_id=ListId(999)))
    assert hidden.value.message == missing.value.message
    assert stored(home, milk).version == stored(home, soap).version == 1
    moved = await home.tasks.move(ALICE, soap, Move(list_id=groceries))
    assert (moved.list_id, moved.user_id) == (groceries, "alice")


async def test_a_parent_with_subtasks_cannot_become_a_subtask(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    await home.add(ALICE, "oat", list_id=groceries, parent_id=milk)
    bread = await home.add(ALICE, "bread", list_id=groceries)
    with pytest.raises(ValidationFailed) as refused:
        await home.tasks.move(ALICE, milk, Move(parent_id=bread))
    assert details(refused) == [("parent_id", "has_subtasks")]
    with pytest.raises(ValidationFailed) as itself:
        await home.tasks.move(ALICE, bread, Move(parent_id=bread))
    assert details(itself) == [("parent_id", "self")]


async def test_a_task_becomes_a_subtask_and_back(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk, bread, eggs = [await home.add(ALICE, t, list_id=groceries) for t in ("milk", "b", "e")]
    await home.tasks.move(ALICE, eggs, Move(parent_id=milk))
    await home.tasks.move(ALICE, bread, Move(parent_id=milk, after=None))
    assert await home.titles(ALICE, groceries) == ["milk", "b", "e"]
    assert stored(home, bread).parent_id == milk
    await home.tasks.move(ALICE, eggs, Move(parent_id=None, after=None))
    assert await home.titles(ALICE, groceries) == ["e", "milk", "b"]
    assert SEPARATOR not in stored(home, eggs).position


async def test_a_move_honours_if_match(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    a, b = [await home.add(ALICE, t, list_id=groceries) for t in "ab"]
    with pytest.raises(PreconditionFailed):
        await home.tasks.move(ALICE, b, Move(after=None), expected=frozenset({2}))
    moved = await home.tasks.move(ALICE, b, Move(after=None), expected=frozenset({1}))
    assert moved.version == 2
    assert stored(home, a).version == 1


async def squeeze(home: Household, anchor: TaskId, a: TaskId, b: TaskId) -> list[int]:
    """Move `a` and `b` in turn right after `anchor`, halving the same gap each time, until a
    respace gives the keys room again; the lengths of the moved tasks' keys."""
    lengths: list[int] = []
    while len(lengths) < 10 * POSITION_MAX_LENGTH:
        moved = await home.tasks.move(ALICE, (a, b)[len(lengths) % 2], Move(after=anchor))
        lengths.append(len(key_of(moved.position)))
        if len(lengths) > 1 and lengths[-1] < lengths[-2] - 10:
            return lengths
    raise AssertionError("the keys were never respaced")


async def test_keys_grown_long_are_respaced_in_the_same_write(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    first, b, c = [await home.add(ALICE, t, list_id=groceries) for t in ("first", "b", "c")]
    sub = await home.add(ALICE, "sub", list_id=groceries, parent_id=first)
    lengths = await squeeze(home, first, b, c)
    assert POSITION_MAX_LENGTH - 8 <= max(lengths) <= POSITION_MAX_LENGTH
    # The task moved last sits right after `first` (and its subtask), the other after it.
    expected = ["first", "sub", "c", "b"] if len(lengths) % 2 == 0 else ["first", "sub", "b", "c"]
    assert await home.titles(ALICE, groceries) == expected
    assert all(len(key_of(t.position)) <= 4 for t in home.store.state.tasks.values())
    carried = stored(home, sub)
    assert carried.position == stored(home, first).position + SEPARATOR + key_of(carried.position)


async def test_subtasks_are_respaced_under_their_parent(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    parent = await home.add(ALICE, "parent", list_id=groceries)
    s0, a, b = [await home.add(ALICE, t, list_id=groceries, parent_id=parent) for t in "0ab"]
    lengths = await squeeze(home, s0, a, b)
    assert max(lengths) <= POSITION_MAX_LENGTH
    titles = await home.titles(ALICE, groceries)
    assert titles in (["parent", "0", "a", "b"], ["parent", "0", "b", "a"])
    assert all(
        t.position.startswith(stored(home, parent).position + SEPARATOR)
        for t in (stored(home, s0), stored(home, a), stored(home, b))
    )


async def test_a_deleted_parent_takes_its_subtasks(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    await home.add(ALICE, "oat", list_id=groceries, parent_id=milk)
    await home.tasks.delete(ALICE, milk)
    assert await home.titles(ALICE, groceries) == []
    assert (await home.lists.get(ALICE, groceries)).counts.pending == 0


async def test_position_pages_continue_in_manual_order(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    titles = [f"t{n}" for n in range(7)]
    ids = [await home.add(ALICE, t, list_id=groceries) for t in titles]
    await home.add(ALICE, "t3.sub", list_id=groceries, parent_id=ids[3])
    query = TaskQuery(list_id=groceries, sort=MANUAL, limit=2)
    seen, cursor = [], None
    while True:
        page = await home.tasks.list_page(ALICE, query, cursor)
        seen += [t.title for t in page.tasks]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == [*titles[:4], "t3.sub", *titles[4:]]
