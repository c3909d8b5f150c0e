"""Weak ETags of list pages (SPEC §8 "Conditional lists") on the in-memory store: a tag changes
whenever something in its scope changes, and only then, and is read without the page."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from domain.lists import Role
from domain.queries import Due, TaskFilter, TaskQuery
from taskservice.ports import UnitOfWork
from taskservice.services import TaskUseCases
from tests.sealing import CURSORS
from tests.unit.sharing import ALICE, BOB, CAROL, Household, changes


@pytest.fixture
def home() -> Household:
    return Household()


async def tags(home: Household, query: TaskQuery) -> tuple[str, str]:
    """The tag read alone, and the page's own, for `query`."""
    alone = await home.tasks.page_tag(ALICE, query, None)
    page = await home.tasks.list_page(ALICE, query)
    assert alone is not None
    return alone, page.tag


async def test_a_page_and_its_tag_alone_agree_until_something_in_scope_changes(
    home: Household,
) -> None:
    groceries = await home.new_list(ALICE)
    task = await home.add(ALICE, "milk", list_id=groceries)
    query = TaskQuery(list_id=groceries)
    before, labelled = await tags(home, query)
    assert before == labelled
    assert before.startswith('W/"')
    assert (await tags(home, query))[0] == before, "nothing changed, nor did the tag"

    seen = {before}
    writes: list[Any] = [
        lambda: home.tasks.update(ALICE, task, changes(title="oat milk")),
        lambda: home.tasks.set_completion(ALICE, task, True),
        lambda: home.add(ALICE, "bread", list_id=groceries),
        lambda: home.lists.rename(ALICE, groceries, "Food"),
        lambda: home.share(groceries, ALICE, BOB, Role.VIEWER),
        lambda: home.lists.change_role(ALICE, groceries, BOB.owner, Role.EDITOR),
        lambda: home.lists.remove_member(ALICE, groceries, BOB.owner),
        lambda: home.tasks.delete(ALICE, task),
    ]
    for write in writes:
        await write()
        now, labelled = await tags(home, query)
        assert now == labelled
        assert now not in seen, "every change in scope makes a new tag"
        seen.add(now)


async def test_a_change_outside_the_scope_leaves_the_tag_valid(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    chores = await home.new_list(ALICE, "Chores")
    await home.add(ALICE, "milk", list_id=groceries)
    bobs = await home.new_list(BOB, "Bob's")
    one_list, every_list = TaskQuery(list_id=groceries), TaskQuery()
    first = [await home.tasks.page_tag(ALICE, q, None) for q in (one_list, every_list)]
    await home.add(BOB, "his", list_id=bobs)
    await home.share(bobs, BOB, CAROL, Role.EDITOR)
    assert [await home.tasks.page_tag(ALICE, q, None) for q in (one_list, every_list)] == first
    await home.add(ALICE, "sweep", list_id=chores)
    one, every = [await home.tasks.page_tag(ALICE, q, None) for q in (one_list, every_list)]
    assert one == first[0], "another list of Alice's is outside one list's scope"
    assert every != first[1], "but inside the scope of all her lists"


async def test_joining_or_leaving_a_list_changes_the_tag_of_all_lists(home: Household) -> None:
    bobs = await home.new_list(BOB, "Bob's")
    await home.add(ALICE, "mine")
    before = await home.tasks.page_tag(ALICE, TaskQuery(), None)
    await home.share(bobs, BOB, ALICE, Role.VIEWER)
    joined = await home.tasks.page_tag(ALICE, TaskQuery(), None)
    await home.lists.remove_member(ALICE, bobs, ALICE.owner)
    left = await home.tasks.page_tag(ALICE, TaskQuery(), None)
    assert joined != before
    # Back to exactly the lists she had, unchanged: the page is the one tagged `before`.
    assert left == before
    lists_tag = await home.lists.lists_tag(ALICE)
    assert lists_tag == (await home.lists.list_all_tagged(ALICE)).tag
    await home.share(bobs, BOB, ALICE, Role.EDITOR)
    assert await home.lists.lists_tag(ALICE) != lists_tag


async def test_a_tag_names_its_request(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    await home.add(ALICE, "milk", list_id=groceries)
    queries = [TaskQuery(), TaskQuery(list_id=groceries), TaskQuery(limit=5)]
    found = {await home.tasks.page_tag(ALICE, q, None) for q in queries}
    found.add(await home.tasks.page_tag(ALICE, TaskQuery(), "a-cursor"))
    found.add(await home.lists.lists_tag(ALICE))
    assert len(found) == 5


async def test_an_overdue_page_is_never_the_same_twice(home: Household) -> None:
    # Tasks fall overdue as time passes, without any write: such a page has no stable tag.
    overdue = TaskQuery(filter=TaskFilter(due=Due.OVERDUE))
    today = TaskQuery(filter=TaskFilter(due=Due.TODAY))
    await home.add(ALICE, "milk")
    assert await home.tasks.page_tag(ALICE, overdue, None) != await home.tasks.page_tag(
        ALICE, overdue, None
    )
    assert await home.tasks.page_tag(ALICE, today, None) == await home.tasks.page_tag(
        ALICE, today, None
    )


async def test_no_tag_for_a_list_the_caller_does_not_see(home: Household) -> None:
    bobs = await home.new_list(BOB, "Bob's")
    assert await home.tasks.page_tag(ALICE, TaskQuery(list_id=bobs), None) is None


@attrs.frozen
class _NoTasks:
    """A unit of work of the real store whose task repository must not be touched."""

    work: UnitOfWork

    def __getattr__(self, name: str) -> Any:
        if name == "tasks":
            raise AssertionError("the tag alone reads no task")
        return getattr(self.work, name)

    async def __aenter__(self) -> _NoTasks:
        await self.work.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.work.__aexit__(*exc)  # type: ignore[arg-type]


async def test_the_tag_alone_reads_no_task(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    await home.add(ALICE, "milk", list_id=groceries)
    guarded = TaskUseCases(
        uow=lambda: _NoTasks(home.store()),
        clock=home.clock,
        cursors=CURSORS,
    )
    assert await guarded.page_tag(ALICE, TaskQuery(list_id=groceries), None) is not None
    assert await guarded.page_tag(ALICE, TaskQuery(), None) is not None
