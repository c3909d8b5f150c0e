"""A client that follows its change feed ends with exactly what the task and list routes show
it, whatever writes by several people came between (trash and restores included), wherever in the feed it resumes and however
its pages are cut (SPEC §8): in memory, on SQLite and on PostgreSQL, through the use cases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.lists import InviteTerms, ListView, Role
from domain.queries import TaskQuery
from domain.sync import Change, Kind, Op
from domain.tasks import Move, Task, parse_changes
from domain.types import ListId, TaskId, UserId
from domain.users import Caller, Principal
from taskservice.cursors import FeedCursorCodec
from taskservice.ports import UnitOfWorkFactory
from taskservice.services import ListUseCases, SyncUseCases, TaskUseCases, TrashUseCases
from tests.clock import FakeClock
from tests.integration.sql_backends import store_of
from tests.sealing import CURSORS, SEALER
from tests.settling import SETTLING

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2030, 1, 1, tzinfo=UTC)
PEOPLE = 3
PICK = st.integers(0, 31)
"""An index into whatever a step picks from (people, lists, tasks, cursors), taken modulo."""
LIMIT = st.integers(1, 6)
TASK = st.tuples(st.just("task"), PICK, PICK)
SHARE = st.tuples(st.just("share"), PICK, PICK, st.sampled_from([Role.EDITOR, Role.VIEWER]))
MOVE = st.tuples(st.just("move"), PICK, PICK, PICK)
WRITES = (
    # New tasks, shares and moves more often than the rest: the rest needs them to act on.
    TASK,
    TASK,
    TASK,
    SHARE,
    SHARE,
    MOVE,
    MOVE,
    st.tuples(st.just("list"), PICK),
    st.tuples(st.just("role"), PICK, PICK, st.sampled_from([Role.EDITOR, Role.VIEWER])),
    st.tuples(st.just("remove"), PICK, PICK),
    st.tuples(st.just("leave"), PICK, PICK),
    st.tuples(st.just("drop"), PICK),
    st.tuples(st.just("rename"), PICK),
    st.tuples(st.just("subtask"), PICK, PICK),
    st.tuples(st.just("update"), PICK, PICK),
    st.tuples(st.just("complete"), PICK, PICK),
    st.tuples(st.just("delete"), PICK, PICK),
    st.tuples(st.just("delete"), PICK, PICK),
    st.tuples(st.just("restore"), PICK, PICK),
    st.tuples(st.just("restore"), PICK, PICK),
    st.tuples(st.just("purge"), PICK, PICK),
    st.tuples(st.just("empty"), PICK),
)
# Follow to the end from a cursor of the past, pages cut by the limits given in turn.
SYNC = st.tuples(st.just("sync"), PICK, PICK, st.lists(LIMIT, min_size=1, max_size=4))
# Read one page only: a cursor in the middle of what changed, to resume from later.
PEEK = st.tuples(st.just("peek"), PICK, PICK, LIMIT)
STEPS = st.one_of(*WRITES, SYNC, SYNC, SYNC, SYNC, PEEK, PEEK)


@pytest.fixture(scope="module", params=BACKENDS)
async def uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[UnitOfWorkFactory]:
    """One store per backend for the module; each example has people of its own."""
    async with store_of(request.param, tmp_path_factory.mktemp("feed")) as store:
        yield store


@attrs.define
class Replica:
    """What a client of the feed holds: the tasks and lists (as it sees them) it was told of."""

    tasks: dict[int, Task] = attrs.Factory(dict)
    lists: dict[int, ListView] = attrs.Factory(dict)

    def apply(self, entries: list[Change]) -> None:
        """The entries of one page, in order; a list's delete takes its tasks."""
        assert len({(e.kind, e.id) for e in entries}) == len(entries), "an entity once a page"
        assert [e.position for e in entries] == sorted(e.position for e in entries)
        for entry in entries:
            if entry.op is Op.DELETE:
                assert entry.task is None
                assert entry.list is None
                if entry.kind is Kind.LIST:
                    self.lists.pop(entry.id, None)
                    self.tasks = {k: t for k, t in self.tasks.items() if t.list_id != entry.id}
                else:
                    self.tasks.pop(entry.id, None)
            elif entry.kind is Kind.TASK:
                assert entry.task is not None
                assert entry.task.id == entry.id
                self.tasks[entry.id] = entry.task
            else:
                assert entry.list is not None
                assert entry.list.list.id == entry.id
                self.lists[entry.id] = entry.list

    def copy(self) -> Replica:
        """A replica that changes apart from this one."""
        return Replica(tasks=dict(self.tasks), lists=dict(self.lists))


@attrs.define
class World:
    """The people of one example, the use cases on the store, and each person's past cursors
    with what their replica held there."""

    uow: UnitOfWorkFactory
    people: list[Caller]
    lists_made: list[ListId] = attrs.Factory(list)
    tasks_made: list[TaskId] = attrs.Factory(list)
    clock: FakeClock = attrs.Factory(lambda: FakeClock(START, tick=timedelta(seconds=1)))
    history: dict[int, list[tuple[str | None, Replica]]] = attrs.Factory(
        lambda: {who: [(None, Replica())] for who in range(PEOPLE)}
    )

    @property
    def lists(self) -> ListUseCases:
        return ListUseCases(uow=self.uow, clock=self.clock)

    @property
    def tasks(self) -> TaskUseCases:
        return TaskUseCases(uow=self.uow, clock=self.clock, cursors=CURSORS)

    @property
    def trash(self) -> TrashUseCases:
        return TrashUseCases(uow=self.uow, clock=self.clock, cursors=CURSORS)

    @property
    def sync(self) -> SyncUseCases:
        return SyncUseCases(uow=self.uow, cursors=FeedCursorCodec(SEALER))

    def person(self, pick: int) -> Caller:
        return self.people[pick % PEOPLE]

    def a_list(self, pick: int) -> ListId:
        return self.lists_made[pick % len(self.lists_made)]

    def a_task(self, pick: int) -> TaskId | None:
        return self.tasks_made[pick % len(self.tasks_made)] if self.tasks_made else None

    async def write(self, action: tuple[Any, ...]) -> None:
        """One write through the use cases, by whoever the step picks; refusals are fine (the
        sharing property checks who may do what): the feed must follow whatever happened."""
        kind, *args = action
        lists, tasks = self.lists, self.tasks
        if kind == "list":
            made = await lists.create(self.person(args[0]), f"list {len(self.lists_made)}")
            self.lists_made.append(made.list.id)
        elif kind == "share":
            list_id = self.a_list(args[0])
            owner = await self._owner(list_id)
            if owner is not None:
                issued = lists.create_invite(owner, list_id, InviteTerms(role=args[2]))
                code = await allowed(issued)
                if code is not None:
                    await allowed(lists.accept_invite(self.person(args[1]), code.code))
        elif kind in ("role", "remove", "leave"):
            await self._member_write(kind, args)
        elif kind in ("restore", "purge", "empty"):
            await self._trash_write(kind, args)
        elif kind in ("drop", "rename"):
            list_id = self.a_list(args[0])
            owner = await self._owner(list_id)
            if owner is not None and kind == "drop":
                await allowed(lists.delete(owner, list_id))
            elif owner is not None:
                await allowed(lists.rename(owner, list_id, f"renamed {self.clock.now()}"))
        elif kind in ("task", "subtask"):
            fields: dict[str, Any] = {"title": "t"}
            parent = self.a_task(args[0])
            if kind == "subtask" and parent is not None:
                fields["parent_id"] = parent
                found = await self._any_view(parent)
                if found is not None:
                    fields["list_id"] = found.list_id
            else:
                fields["list_id"] = self.a_list(args[0])
            made = await allowed(
                tasks.create(self.person(args[1]), parse_changes(fields, "create"))
            )
            if made is not None:
                self.tasks_made.append(made.id)
        elif self.tasks_made:
            await self._task_write(kind, args)

    async def _trash_write(self, kind: str, args: list[Any]) -> None:
        # On an entry of the trash the person sees (as its list's editor or owner, or as the
        # owner of a list that is gone).
        who = self.person(args[0])
        if kind == "empty":
            await allowed(self.trash.empty(who))
            return
        entries = (await self.trash.page(who, limit=100)).entries
        if not entries:
            return
        root = entries[args[1] % len(entries)].task.id
        if kind == "restore":
            await allowed(self.trash.restore(who, root))
        else:
            await allowed(self.trash.purge(who, root))

    async def _member(self, list_id: ListId | None, pick: int) -> Caller | None:
        owner = None if list_id is None else await self._owner(list_id)
        if owner is None or list_id is None:
            return None
        found = await self.lists.members(owner, list_id)
        member = found.members[pick % len(found.members)].user_id
        return next(p for p in self.people if p.owner == member)

    async def _member_write(self, kind: str, args: list[Any]) -> None:
        # A member other than the owner, so that most such steps act.
        list_id = self.a_list(args[0])
        owner = await self._owner(list_id)
        if owner is None:
            return
        found = await self.lists.members(owner, list_id)
        others = [m.user_id for m in found.members if m.role is not Role.OWNER]
        if not others:
            return
        member = others[args[1] % len(others)]
        if kind == "role":
            await allowed(self.lists.change_role(owner, list_id, member, args[2]))
            return
        who = owner if kind == "remove" else next(p for p in self.people if p.owner == member)
        await allowed(self.lists.remove_member(who, list_id, member))

    async def _task_write(self, kind: str, args: list[Any]) -> None:
        task_id, who = self.a_task(args[0]), self.person(args[1])
        assert task_id is not None
        tasks = self.tasks
        if kind == "update":
            changes = parse_changes({"title": f"t {self.clock.now()}"}, "patch")
            await allowed(tasks.update(who, task_id, changes))
        elif kind == "complete":
            await allowed(tasks.set_completion(who, task_id, None))
        elif kind == "move":
            # Mostly by a member of the task's list, so that most moves are made.
            found = await self._any_view(task_id)
            mover = None if found is None else await self._member(found.list_id, args[1])
            mover = mover or who
            # Mostly to a list the mover may write in.
            writable = [
                v.list.id
                for v in await self.lists.list_all(mover)
                if v.role in (Role.OWNER, Role.EDITOR)
            ]
            target = writable[args[2] % len(writable)] if args[2] % 4 else self.a_list(args[2])
            await allowed(tasks.move(mover, task_id, Move(list_id=target)))
        elif kind == "delete":
            await allowed(tasks.delete(who, task_id))

    async def _owner(self, list_id: ListId) -> Caller | None:
        for caller in self.people:
            found = await allowed(self.lists.get(caller, list_id))
            if found is not None and found.role is Role.OWNER:
                return caller
        return None

    async def _any_view(self, task_id: TaskId) -> Task | None:
        for caller in self.people:
            found: Task | None = await allowed(self.tasks.get(caller, task_id))
            if found is not None:
                return found
        return None

    async def read(self, action: tuple[Any, ...]) -> None:
        """A client resumes from one of its past cursors, with the replica it held there."""
        kind, who_pick, when, limits = action
        who = who_pick % PEOPLE
        past = self.history[who]
        # Counted from the latest: small picks, which the strategies favour, resume recently.
        cursor, held = past[-1 - when % len(past)]
        replica = held.copy()
        limits = limits if isinstance(limits, list) else [limits]
        settled = 0
        for turn in range(10_000):
            page = await self.sync.changes(self.people[who], cursor, limits[turn % len(limits)])
            replica.apply(page.entries)
            cursor = page.cursor
            past.append((cursor, replica.copy()))
            # The end is taken as reached after SETTLING reads that found it (see there).
            settled = 0 if page.has_more or page.entries else settled + 1
            if kind == "peek" or settled == SETTLING:
                break
        if kind == "sync":
            assert replica == await self.seen(self.people[who])

    async def seen(self, caller: Caller) -> Replica:
        """What the list and task routes show `caller`."""
        shown = Replica()
        for view in await self.lists.list_all(caller):
            shown.lists[view.list.id] = view
        cursor = None
        while True:
            page = await self.tasks.list_page(caller, TaskQuery(limit=100), cursor)
            shown.tasks |= {task.id: task for task in page.tasks}
            if page.next_cursor is None:
                return shown
            cursor = page.next_cursor


async def allowed(call: Awaitable[Any]) -> Any:
    """The call's result; None when refused as a non-member's, a role's, a conflict or a
    broken rule (a move into a subtask's list, say)."""
    try:
        return await call
    except (NotFound, Forbidden, Conflict, ValidationFailed):
        return None


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    # Shrinking replays against a database; a failure prints the steps as generated.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=st.lists(STEPS, min_size=20, max_size=50))
async def test_a_client_following_its_feed_ends_with_what_the_routes_show(
    uow: UnitOfWorkFactory, steps: list[tuple[Any, ...]]
) -> None:
    run = uuid.uuid4().hex[:8]
    people = [Caller.of(Principal(user_id=UserId(f"f{n}-{run}"))) for n in range(PEOPLE)]
    world = World(uow=uow, people=people)
    # Each person starts with a list of their own and their default list.
    for who in range(PEOPLE):
        await world.write(("list", who))
        world.lists_made += [v.list.id for v in await world.lists.list_all(people[who])][:1]
    for step in steps:
        if step[0] in ("sync", "peek"):
            await world.read(step)
        else:
            await world.write(step)
    # At the end every person follows their feed to its end from their latest cursor and from
    # the start (a full sync), which must agree with the routes.
    for who in range(PEOPLE):
        await world.read(("sync", who, 0, [500]))
        await world.read(("sync", who, len(world.history[who]) - 1, [3]))
