"""A user sees a task if and only if they are a member of its list, whatever sequence of list
creations, shares (invite and accept), removals, leaves, list deletions, new tasks and moves
came before: in memory, on SQLite and on PostgreSQL, read through the repositories' get_visible,
page, page_with_counts and counts, which must all agree with a model of who belongs where."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.errors import Conflict, Forbidden, NotFound
from domain.lists import InviteTerms, Role
from domain.queries import TaskCounts, TaskQuery
from domain.tasks import Move, parse_changes
from domain.types import ListId, TaskId, UserId
from domain.users import Caller, Principal
from taskservice.ports import UnitOfWorkFactory
from taskservice.services import ListUseCases, TaskUseCases
from tests.clock import FakeClock
from tests.integration.sql_backends import store_of
from tests.sealing import CURSORS

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2030, 1, 1, tzinfo=UTC)
PEOPLE = 3
PICK = st.integers(0, 11)
"""An index into whatever a step picks from (people, lists, tasks, members), taken modulo."""
SHARE = st.tuples(st.just("share"), PICK, PICK, st.sampled_from([Role.EDITOR, Role.VIEWER]))
TASK = st.tuples(st.just("task"), PICK, PICK)
STEPS = st.one_of(
    # Shares and new tasks twice as often: removals and moves need something to act on.
    SHARE,
    SHARE,
    TASK,
    TASK,
    st.tuples(st.just("list"), PICK),
    st.tuples(st.just("remove"), PICK, PICK),
    st.tuples(st.just("leave"), PICK, PICK),
    st.tuples(st.just("drop"), PICK),
    st.tuples(st.just("move"), PICK, PICK, PICK),
)


@pytest.fixture(scope="module", params=BACKENDS)
async def uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[UnitOfWorkFactory]:
    """One store per backend for the module; each example has people of its own."""
    async with store_of(request.param, tmp_path_factory.mktemp("sharing")) as store:
        yield store


@attrs.define
class Model:
    """Who belongs to which list in which role, and which list each task is in."""

    members: dict[ListId, dict[int, Role]] = attrs.Factory(dict)
    tasks: dict[TaskId, ListId] = attrs.Factory(dict)

    def owner(self, list_id: ListId) -> int:
        return next(who for who, role in self.members[list_id].items() if role is Role.OWNER)

    def writes(self, who: int, list_id: ListId) -> bool:
        return self.members[list_id].get(who) in (Role.OWNER, Role.EDITOR)

    def role(self, who: int, task: TaskId) -> Role | None:
        return self.members[self.tasks[task]].get(who)


@attrs.define
class World:
    """The people of one example, the use cases on the store, and the model beside them."""

    uow: UnitOfWorkFactory
    people: list[Caller]
    model: Model = attrs.Factory(Model)
    clock: FakeClock = attrs.Factory(lambda: FakeClock(START, tick=timedelta(seconds=1)))

    @property
    def lists(self) -> ListUseCases:
        return ListUseCases(uow=self.uow, clock=self.clock)

    @property
    def tasks(self) -> TaskUseCases:
        return TaskUseCases(uow=self.uow, clock=self.clock, cursors=CURSORS)

    async def step(self, action: tuple[Any, ...]) -> None:
        """One step through the use cases; the model follows what the step should do."""
        kind, *args = action
        model, lists = self.model, sorted(self.model.members)
        if kind == "list":
            who = args[0] % PEOPLE
            made = await self.lists.create(self.people[who], f"list {len(lists)}")
            model.members[made.list.id] = {who: Role.OWNER}
        elif kind == "share":
            list_id, guest, role = lists[args[0] % len(lists)], args[1] % PEOPLE, args[2]
            owner = self.people[model.owner(list_id)]
            issued = await self.lists.create_invite(owner, list_id, InviteTerms(role=role))
            accepted = self.lists.accept_invite(self.people[guest], issued.code)
            if guest in model.members[list_id]:
                await refused(accepted)
            else:
                await accepted
                model.members[list_id][guest] = role
        elif kind in ("remove", "leave"):
            list_id = lists[args[0] % len(lists)]
            group = sorted(model.members[list_id])
            member = group[args[1] % len(group)]
            who = model.owner(list_id) if kind == "remove" else member
            removal = self.lists.remove_member(self.people[who], list_id, self.people[member].owner)
            if model.members[list_id][member] is Role.OWNER:
                await refused(removal)
            else:
                await removal
                del model.members[list_id][member]
        elif kind == "drop" and len(lists) > 1:
            list_id = lists[args[0] % len(lists)]
            await self.lists.delete(self.people[model.owner(list_id)], list_id)
            del model.members[list_id]
            model.tasks = {t: where for t, where in model.tasks.items() if where != list_id}
        elif kind == "task":
            list_id, who = lists[args[0] % len(lists)], args[1] % PEOPLE
            changes = parse_changes({"title": "t", "list_id": list_id}, "create")
            creation = self.tasks.create(self.people[who], changes)
            if model.writes(who, list_id):
                model.tasks[(await creation).id] = list_id
            else:
                await refused(creation)
        elif kind == "move" and model.tasks:
            task = sorted(model.tasks)[args[0] % len(model.tasks)]
            target, who = lists[args[1] % len(lists)], args[2] % PEOPLE
            move = self.tasks.move(self.people[who], task, Move(list_id=target))
            if model.writes(who, model.tasks[task]) and model.writes(who, target):
                await move
                model.tasks[task] = target
            else:
                await refused(move)

    async def check(self) -> None:
        """Each person sees exactly the tasks of the lists they belong to, by every read."""
        model = self.model
        async with self.uow() as work:
            for who, person in enumerate(self.people):
                mine = {t for t in model.tasks if model.role(who, t) is not None}
                for task in model.tasks:
                    found = await work.tasks.get_visible(person.owner, task)
                    assert (None if found is None else found[1]) == model.role(who, task)
                page = await work.tasks.page(person.owner, TaskQuery(limit=100))
                assert {t.id for t in page} == mine
                listed, counted = await work.tasks.page_with_counts(
                    person.owner, TaskQuery(limit=100)
                )
                assert (listed, counted) == (page, TaskCounts(pending=len(mine)))
                assert await work.tasks.counts(person.owner) == counted
                for list_id, group in model.members.items():
                    access = await work.lists.access(person.owner, list_id)
                    assert (None if access is None else access[1]) == group.get(who)
                    inside = sum(where == list_id for where in model.tasks.values())
                    expected = TaskCounts(pending=inside if who in group else 0)
                    assert await work.tasks.counts(person.owner, list_id) == expected


async def refused(call: Awaitable[object]) -> None:
    """The call is refused as a non-member's (404), a role's (403) or a conflict (409)."""
    try:
        await call
    except (NotFound, Forbidden, Conflict):
        return
    raise AssertionError("a step the model refuses was allowed")


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    # Shrinking replays against a database; a failure prints the steps as generated.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(actions=st.lists(STEPS, min_size=5, max_size=25))
async def test_a_task_is_seen_by_exactly_the_members_of_its_list(
    uow: UnitOfWorkFactory, actions: list[tuple[Any, ...]]
) -> None:
    run = uuid.uuid4().hex[:8]
    people = [Caller.of(Principal(user_id=UserId(f"p{n}-{run}"))) for n in range(PEOPLE)]
    world = World(uow=uow, people=people)
    # Each person starts with a list of their own, so that every step has something to act on.
    for who in range(PEOPLE):
        await world.step(("list", who))
    for action in actions:
        await world.step(action)
        await world.check()
