"""A property of sharing, through the use cases on the in-memory store: whoever is a member of a
task's list sees the task, and nobody else does, whatever was shared, accepted, removed, moved
or created before."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import Conflict, DomainError, Forbidden, NotFound
from domain.lists import Role
from domain.queries import TaskQuery
from domain.tasks import Move
from domain.types import ListId, TaskId
from tests.unit.sharing import ALICE, BOB, CAROL, Household

PEOPLE = (ALICE, BOB, CAROL)
ANY = st.integers(0, 5)
"""An index into whatever a step picks from (people, lists, tasks, members), taken modulo."""
HONEST = st.booleans()
"""Whether the person a step picks is one the model expects to succeed (else anyone)."""
STEPS = st.one_of(
    st.tuples(st.just("share"), ANY, ANY, st.sampled_from([Role.EDITOR, Role.VIEWER]), HONEST),
    st.tuples(st.just("remove"), ANY, ANY, HONEST),
    st.tuples(st.just("task"), ANY, ANY, HONEST),
    st.tuples(st.just("move"), ANY, ANY, ANY, HONEST),
)


@attrs.define
class Model:
    """Who belongs to which list, and where each task is: what the service must agree with."""

    members: dict[ListId, dict[int, Role]] = attrs.Factory(dict)
    tasks: dict[TaskId, ListId] = attrs.Factory(dict)

    def role(self, who: int, list_id: ListId) -> Role | None:
        return self.members[list_id].get(who)

    def owner(self, list_id: ListId) -> int:
        return next(w for w, r in self.members[list_id].items() if r is Role.OWNER)

    def writes(self, who: int, list_id: ListId) -> bool:
        return self.role(who, list_id) in (Role.OWNER, Role.EDITOR)

    def visible(self, who: int) -> set[TaskId]:
        return {t for t, list_id in self.tasks.items() if who in self.members[list_id]}


def pick(items: list[Any], index: int) -> Any:
    return items[index % len(items)]


async def step(home: Household, model: Model, action: tuple[Any, ...]) -> None:
    """Do one step through the use cases and keep the model in step with what it should do."""
    kind, *args, honest = action
    lists = list(model.members)
    if kind == "share":
        list_id, guest, role = pick(lists, args[0]), args[1] % 3, args[2]
        who = model.owner(list_id) if honest else args[1] // 3
        call: Awaitable[object] = home.share(list_id, PEOPLE[who], PEOPLE[guest], role)
        if model.role(who, list_id) is Role.OWNER and guest not in model.members[list_id]:
            await call
            model.members[list_id][guest] = role
        else:
            await refused(call)
    elif kind == "remove":
        list_id = pick(lists, args[0])
        member = pick(sorted(model.members[list_id]), args[1])
        who = model.owner(list_id) if honest else member
        call = home.lists.remove_member(PEOPLE[who], list_id, PEOPLE[member].owner)
        if model.role(member, list_id) is not Role.OWNER:
            await call
            del model.members[list_id][member]
        else:
            await refused(call)
    elif kind == "task":
        list_id = pick(lists, args[0])
        who = pick(sorted(model.members[list_id]), args[1]) if honest else args[1] % 3
        if model.writes(who, list_id):
            model.tasks[await home.add(PEOPLE[who], list_id=list_id)] = list_id
        else:
            await refused(home.add(PEOPLE[who], list_id=list_id))
    elif kind == "move" and model.tasks:
        task = pick(list(model.tasks), args[0])
        source = model.tasks[task]
        who = pick(sorted(model.members[source]), args[2]) if honest else args[2] % 3
        targets = [t for t in lists if model.writes(who, t)] if honest else []
        target = pick(targets or lists, args[1])
        call = home.tasks.move(PEOPLE[who], task, Move(list_id=target))
        if model.writes(who, source) and model.writes(who, target):
            await call
            model.tasks[task] = target
        else:
            await refused(call)


async def refused(call: Any) -> None:
    """The call is refused: a non-member's (NotFound), a role's (Forbidden), the owner's leave
    (Conflict)."""
    try:
        await call
    except (NotFound, Forbidden, Conflict):
        return
    raise AssertionError("a step the model refuses was allowed")


async def check(home: Household, model: Model) -> None:
    """Everyone sees exactly the tasks of the lists they belong to."""
    for who, person in enumerate(PEOPLE):
        page = await home.tasks.list_page(person, TaskQuery(limit=100))
        assert {t.id for t in page.tasks} == model.visible(who)
        for task in model.tasks:
            try:
                await home.tasks.get(person, task)
                seen = True
            except DomainError:
                seen = False
            assert seen == (task in model.visible(who))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(STEPS, min_size=5, max_size=30))
async def test_a_task_is_seen_by_exactly_the_members_of_its_list(
    actions: list[tuple[Any, ...]],
) -> None:
    home, model = Household(), Model()
    # Each person starts with a list, so that every step has something to act on.
    for who, person in enumerate(PEOPLE):
        model.members[await home.new_list(person, f"list of {who}")] = {who: Role.OWNER}
    for action in actions:
        await step(home, model, action)
        await check(home, model)
