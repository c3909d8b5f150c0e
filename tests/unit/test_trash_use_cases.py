"""The trash use cases on the in-memory store (SPEC §8): who sees, restores and purges what,
where a restored task goes, and the purge of what is older than 30 days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.lists import Role
from domain.policy import Scope
from domain.tasks import Move, parse_changes
from domain.trash import KEPT_FOR
from domain.types import TaskId, UserId
from domain.users import Caller, Principal
from tests.unit.sharing import ALICE, BOB, CAROL, Household

READ_ONLY_ALICE = Caller.of(Principal(user_id=ALICE.owner, scopes=frozenset({Scope.TASKS_READ})))


async def trash_ids(home: Household, caller: Caller) -> list[TaskId]:
    """The ids on the first page of the caller's trash."""
    page = await home.trash.page(caller, limit=100)
    return [e.task.id for e in page.entries]


async def test_a_restore_goes_to_the_end_of_its_siblings_with_its_subtasks() -> None:
    home = Household()
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    oat = await home.add(ALICE, "oat", list_id=groceries, parent_id=milk)
    await home.add(ALICE, "bread", list_id=groceries)
    await home.tasks.delete(ALICE, milk)
    assert await home.titles(ALICE, groceries) == ["bread"]
    assert await trash_ids(home, ALICE) == [milk]

    restored = await home.trash.restore(ALICE, milk)
    assert (restored.id, restored.list_id, restored.parent_id) == (milk, groceries, None)
    assert await home.titles(ALICE, groceries) == ["bread", "milk", "oat"]
    sub = await home.tasks.get(ALICE, oat)
    assert sub.parent_id == milk
    assert sub.position.startswith(f"{restored.position}.")
    assert await trash_ids(home, ALICE) == []
    with pytest.raises(NotFound):
        await home.trash.restore(ALICE, milk)


async def test_a_subtask_comes_back_under_its_parent_or_top_level_without_it() -> None:
    home = Household()
    groceries, other = await home.new_list(ALICE), await home.new_list(ALICE, "Other")
    parent = await home.add(ALICE, "parent", list_id=groceries)
    first = await home.add(ALICE, "first", list_id=groceries, parent_id=parent)
    second = await home.add(ALICE, "second", list_id=groceries, parent_id=parent)
    await home.tasks.delete(ALICE, first)
    await home.tasks.delete(ALICE, second)
    assert (await home.trash.restore(ALICE, first)).parent_id == parent
    # Its parent moved to another list: the subtask comes back top-level in its own.
    await home.tasks.move(ALICE, parent, Move(list_id=other))
    back = await home.trash.restore(ALICE, second)
    assert (back.list_id, back.parent_id) == (groceries, None)


async def test_editors_restore_viewers_may_not_strangers_see_nothing() -> None:
    home = Household()
    groceries = await home.new_list(ALICE)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    await home.share(groceries, ALICE, CAROL, Role.VIEWER)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    stranger = Caller.of(Principal(user_id=UserId("dave")))
    await home.tasks.delete(BOB, milk)

    assert await trash_ids(home, BOB) == [milk]
    assert await trash_ids(home, CAROL) == []
    assert await trash_ids(home, stranger) == []
    for refused, error in ((CAROL, Forbidden), (stranger, NotFound)):
        with pytest.raises(error):
            await home.trash.restore(refused, milk)
        with pytest.raises(error):
            await home.trash.purge(refused, milk)
    assert await home.trash.empty(CAROL) == 0
    # A read-only token reads the trash and changes nothing in it.
    assert await trash_ids(home, READ_ONLY_ALICE) == [milk]
    with pytest.raises(Forbidden):
        await home.trash.restore(READ_ONLY_ALICE, milk)
    with pytest.raises(Forbidden):
        await home.trash.empty(READ_ONLY_ALICE)
    assert (await home.trash.restore(BOB, milk)).id == milk


async def test_a_deleted_lists_tasks_are_the_owners_and_come_back_to_the_default_list() -> None:
    home = Household()
    groceries = await home.new_list(ALICE)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    milk = await home.add(BOB, "milk", list_id=groceries)
    await home.add(BOB, "oat", list_id=groceries, parent_id=milk)
    await home.lists.delete(ALICE, groceries)
    assert await trash_ids(home, ALICE) == [milk]
    assert await trash_ids(home, BOB) == []
    with pytest.raises(NotFound):
        await home.trash.restore(BOB, milk)

    restored = await home.trash.restore(ALICE, milk)
    [default] = [v for v in await home.lists.list_all(ALICE) if v.list.is_default]
    assert restored.list_id == default.list.id
    assert await home.titles(ALICE, default.list.id) == ["milk", "oat"]
    assert default.counts.pending == 2


async def test_pages_follow_their_cursor_which_is_the_callers_alone() -> None:
    home = Household()
    made = [await home.add(ALICE, f"t{i}") for i in range(5)]
    for task_id in made:
        await home.tasks.delete(ALICE, task_id)
    seen: list[TaskId] = []
    cursor = None
    while True:
        page = await home.trash.page(ALICE, limit=2, cursor=cursor)
        seen += [e.task.id for e in page.entries]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        with pytest.raises(ValidationFailed):
            await home.trash.page(BOB, limit=2, cursor=cursor)
    assert seen == made[::-1]


async def test_deletes_purge_the_trash_kept_longer_than_30_days() -> None:
    home = Household()
    old, recent, trigger = [await home.add(ALICE, t) for t in ("old", "recent", "trigger")]
    await home.tasks.delete(ALICE, old)
    home.clock.moment += timedelta(days=2)
    await home.tasks.delete(ALICE, recent)
    home.clock.moment += KEPT_FOR - timedelta(days=1)
    # `old` is past 30 days now, `recent` is not: the next delete takes the one only.
    assert await trash_ids(home, ALICE) == [recent, old]
    await home.tasks.delete(ALICE, trigger)
    assert await trash_ids(home, ALICE) == [trigger, recent]


async def test_purge_and_empty_delete_for_good() -> None:
    home = Household()
    keep = await home.new_list(ALICE)
    await home.share(keep, ALICE, BOB, Role.EDITOR)
    shared = await home.add(ALICE, "shared", list_id=keep)
    sub = await home.add(ALICE, "sub", list_id=keep, parent_id=shared)
    mine = await home.add(ALICE, "mine")
    own = await home.add(BOB, "own")
    for caller, task_id in ((ALICE, shared), (ALICE, mine), (BOB, own)):
        await home.tasks.delete(caller, task_id)
    purged = await home.trash.purge(BOB, shared)
    assert purged.task.id == shared
    assert sub not in home.store.state.trash
    with pytest.raises(NotFound):
        await home.trash.purge(BOB, shared)
    assert await home.trash.empty(BOB) == 1
    assert await trash_ids(home, ALICE) == [mine]
    assert await home.trash.empty(ALICE) == 1
    assert await trash_ids(home, ALICE) == []
    task = await home.tasks.create(ALICE, parse_changes({"title": "after"}, "create"))
    assert task.id not in (shared, sub, mine, own)
