"""Lists, memberships, invites and the membership-scoped task reads, alike in memory, on SQLite
and on PostgreSQL (the rest of the repository behaviour: test_repository_behaviour.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from domain.lists import Invite, Membership, Role, TaskList, hash_invite_code
from domain.placement import spaced_keys, under
from domain.queries import Parent, Sort, SortField, TaskCounts, TaskQuery
from domain.tasks import Task, parse_changes
from domain.types import ListId, TaskId, UserId
from domain.users import User
from taskservice.ports import UnitOfWorkFactory
from tests.integration.sql_backends import store_of

NOW = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ORDERS = [Sort(field=f, descending=d) for f in SortField for d in (False, True)]


@pytest.fixture(scope="module", params=BACKENDS)
async def uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory on an empty store of the backend under test."""
    async with store_of(request.param, tmp_path_factory.mktemp("lists")) as store:
        yield store


def person(name: str = "p") -> User:
    """A user nobody else in the run has."""
    return User(
        id=UserId(f"{name}-{uuid.uuid4().hex[:10]}"),
        email=f"{name}@example.com",
        name=name.title(),
        created_at=NOW,
    )


async def new_list(
    uow: UnitOfWorkFactory, owner: User, name: str = "Shared", *, default: bool = False
) -> TaskList:
    """A committed list of `owner`'s."""
    async with uow() as work:
        if default:
            made = await work.lists.ensure_default(TaskList.default_for(owner.id, NOW), owner)
        else:
            made = await work.lists.add(
                TaskList.create(owner_id=owner.id, name=name, now=NOW), owner
            )
        await work.commit()
    return made


async def join(
    uow: UnitOfWorkFactory,
    task_list: TaskList,
    member: User,
    role: Role = Role.EDITOR,
    at: datetime = NOW,
) -> None:
    """`member` joins the list, committed."""
    async with uow() as work:
        await work.users.ensure(member)
        joined = Membership(list_id=task_list.id, user_id=member.id, role=role, joined_at=at)
        assert await work.lists.add_member(joined)
        await work.commit()


def task_in(
    task_list: TaskList,
    title: str = "a task",
    *,
    position: str = "a0",
    parent: Task | None = None,
    now: datetime = NOW,
    **fields: object,
) -> Task:
    """An unsaved task of the list, at `position` (under `parent`'s when given)."""
    changes = parse_changes({"title": title, **fields}, "create")
    task = Task.create(user_id=task_list.owner_id, changes=changes, now=now)
    return attrs.evolve(
        task,
        list_id=task_list.id,
        parent_id=None if parent is None else parent.id,
        position=under(None if parent is None else parent.position, position),
    )


async def store(uow: UnitOfWorkFactory, creator: User, *tasks: Task) -> list[Task]:
    """The tasks created by `creator`, committed."""
    async with uow() as work:
        stored = [
            await work.tasks.add(attrs.evolve(task, created_by=creator.id), creator)
            for task in tasks
        ]
        await work.commit()
    return stored


async def visible(uow: UnitOfWorkFactory, user: User, task: Task) -> Role | None:
    """The user's role in the task's list, as get_visible answers; None when hidden."""
    async with uow() as work:
        found = await work.tasks.get_visible(user.id, task.id)
    if found is not None:
        assert found[0] == task
    return None if found is None else found[1]


async def listed(uow: UnitOfWorkFactory, user: User, query: TaskQuery) -> list[TaskId]:
    """The ids of one page."""
    async with uow() as work:
        return [t.id for t in await work.tasks.page(user.id, query)]


async def counts(uow: UnitOfWorkFactory, user: User, list_id: ListId | None = None) -> TaskCounts:
    """The user's counts over every list, or one."""
    async with uow() as work:
        return await work.tasks.counts(user.id, list_id)


async def test_a_new_list_is_its_owners_with_one_member_and_no_tasks(
    uow: UnitOfWorkFactory,
) -> None:
    owner, stranger = person("owner"), person("stranger")
    made = await new_list(uow, owner, "Groceries")
    async with uow() as work:
        view = await work.lists.get(owner.id, made.id)
        assert await work.lists.access(owner.id, made.id) == (made, Role.OWNER)
        assert await work.lists.get(stranger.id, made.id) is None
        assert await work.lists.access(stranger.id, made.id) is None
        assert await work.lists.get(owner.id, ListId(made.id + 1_000_000)) is None
        assert await work.lists.member_count(made.id) == 1
        assert await work.lists.owned_count(owner.id) == 1
        assert await work.users.get(owner.id) == owner
    assert view is not None
    assert (view.list, view.role, view.members, view.counts) == (made, Role.OWNER, 1, TaskCounts())


async def test_the_default_list_is_made_once_even_by_concurrent_first_needs(
    uow: UnitOfWorkFactory,
) -> None:
    owner = person("first")

    async def first_need() -> TaskList:
        async with uow() as work:
            made = await work.lists.ensure_default(TaskList.default_for(owner.id, NOW), owner)
            await asyncio.sleep(0.02)  # overlap the transactions
            await work.commit()
        return made

    made = await asyncio.gather(*(first_need() for _ in range(5)))
    assert len({m.id for m in made}) == 1
    assert made[0].is_default
    async with uow() as work:
        assert [v.list for v in await work.lists.all_for(owner.id)] == [made[0]]
        again = await work.lists.ensure_default(TaskList.default_for(owner.id, NOW), owner)
    assert again == made[0]


async def test_all_lists_come_default_first_then_by_name_in_code_points_then_id(
    uow: UnitOfWorkFactory,
) -> None:
    me, friend = person("me"), person("friend")
    names = ["b", "B", "É", "a", "e", "Zebra", "😀", "10", "2", "a"]
    mine = [await new_list(uow, me, name) for name in names]
    inbox = await new_list(uow, me, default=True)
    theirs = await new_list(uow, friend, "Ab")
    await join(uow, theirs, me, Role.VIEWER)
    async with uow() as work:
        views = await work.lists.all_for(me.id)
        assert await work.lists.owned_count(me.id) == len(names) + 1
    rest = sorted([*mine, theirs], key=lambda t: (t.name, t.id))
    assert [v.list for v in views] == [inbox, *rest]
    shared = next(v for v in views if v.list == theirs)
    assert (shared.role, shared.members) == (Role.VIEWER, 2)


async def test_a_rename_needs_the_current_version(uow: UnitOfWorkFactory) -> None:
    owner = person()
    made = await new_list(uow, owner)
    renamed = made.renamed("Renamed", NOW + timedelta(hours=1))
    async with uow() as work:
        assert not await work.lists.replace(renamed, attrs.evolve(made, version=7))
        assert await work.lists.replace(renamed, made)
        await work.commit()
    async with uow() as work:
        assert await work.lists.access(owner.id, made.id) == (renamed, Role.OWNER)
        assert not await work.lists.replace(renamed, made)


async def test_members_come_owner_first_then_by_joining_then_id(uow: UnitOfWorkFactory) -> None:
    owner = person("owner")
    made = await new_list(uow, owner)
    early, late, tied = person("early"), person("late"), person("tied")
    await join(uow, made, late, Role.VIEWER, NOW + timedelta(hours=2))
    await join(uow, made, early, Role.EDITOR, NOW + timedelta(hours=1))
    await join(uow, made, tied, Role.EDITOR, NOW + timedelta(hours=1))
    async with uow() as work:
        members = await work.lists.members(made.id)
        assert await work.lists.member_count(made.id) == 4
        assert not await work.lists.add_member(
            Membership(list_id=made.id, user_id=early.id, role=Role.VIEWER, joined_at=NOW)
        )
    joined_early = sorted([early, tied], key=lambda u: u.id)
    assert [(m.user_id, m.name, m.email) for m in members] == [
        (u.id, u.name, u.email) for u in (owner, *joined_early, late)
    ]
    assert [m.role for m in members] == [Role.OWNER, Role.EDITOR, Role.EDITOR, Role.VIEWER]
    assert members[-1].joined_at == NOW + timedelta(hours=2)


async def test_roles_change_and_memberships_end_only_for_members(uow: UnitOfWorkFactory) -> None:
    owner, member, stranger = person("owner"), person("member"), person("stranger")
    made = await new_list(uow, owner)
    [task] = await store(uow, owner, task_in(made))
    await join(uow, made, member)
    assert await visible(uow, member, task) is Role.EDITOR
    async with uow() as work:
        assert await work.lists.set_role(made.id, member.id, Role.VIEWER)
        assert not await work.lists.set_role(made.id, stranger.id, Role.VIEWER)
        await work.commit()
    assert await visible(uow, member, task) is Role.VIEWER
    async with uow() as work:
        assert await work.lists.remove_member(made.id, member.id, NOW)
        assert not await work.lists.remove_member(made.id, member.id, NOW)
        await work.commit()
    # Access ends at once: the task, its page and its counts.
    assert await visible(uow, member, task) is None
    assert await listed(uow, member, TaskQuery()) == []
    assert await counts(uow, member) == TaskCounts()
    assert await counts(uow, member, made.id) == TaskCounts()


async def test_removing_a_list_takes_its_tasks_members_and_invites(uow: UnitOfWorkFactory) -> None:
    owner, member = person("owner"), person("member")
    doomed, kept = await new_list(uow, owner, "Doomed"), await new_list(uow, owner, "Kept")
    await join(uow, doomed, member)
    parent, other = await store(uow, owner, task_in(doomed), task_in(kept, completed=True))
    [sub] = await store(uow, member, task_in(doomed, parent=parent))
    invite = an_invite(doomed)
    async with uow() as work:
        await work.lists.add_invite(invite)
        assert not await work.lists.remove(attrs.evolve(doomed, version=5), doomed.owner_id, NOW)
        assert await work.lists.remove(doomed, doomed.owner_id, NOW)
        await work.commit()
    for task in (parent, sub):
        assert await visible(uow, owner, task) is None
    assert await visible(uow, owner, other) is Role.OWNER
    assert await counts(uow, owner) == TaskCounts(completed=1)
    assert await counts(uow, member) == TaskCounts()
    async with uow() as work:
        assert await work.lists.get(owner.id, doomed.id) is None
        assert await work.lists.members(doomed.id) == []
        assert await work.lists.invite(invite.code_hash) is None
        assert await work.tasks.in_list(doomed.id) == []
        assert [v.list for v in await work.lists.all_for(member.id)] == []


def an_invite(
    task_list: TaskList, *, created_at: datetime = NOW, expires_at: datetime | None = None
) -> Invite:
    """An unsaved editor's invite to the list under a code nobody else has."""
    return Invite(
        list_id=task_list.id,
        role=Role.EDITOR,
        expires_at=expires_at or created_at + timedelta(days=7),
        created_at=created_at,
        created_by=task_list.owner_id,
        code_hash=hash_invite_code(uuid.uuid4().hex),
    )


async def test_open_invites_oldest_first_and_an_invite_is_taken_once(
    uow: UnitOfWorkFactory,
) -> None:
    made = await new_list(uow, person())
    old = an_invite(made, created_at=NOW - timedelta(days=2))
    new = attrs.evolve(an_invite(made), role=Role.VIEWER)
    expired = an_invite(made, created_at=NOW - timedelta(days=3), expires_at=NOW)
    async with uow() as work:
        for invite in (new, expired, old):
            await work.lists.add_invite(invite)
        await work.commit()
    async with uow() as work:
        assert await work.lists.invites(made.id, NOW) == [old, new]
        assert await work.lists.invite(expired.code_hash) == expired
        assert await work.lists.invite(hash_invite_code("never issued")) is None
        assert await work.lists.take_invite(new.code_hash)
        assert not await work.lists.take_invite(new.code_hash)
        await work.commit()
    async with uow() as work:
        assert await work.lists.invites(made.id, NOW) == [old]


async def test_of_two_concurrent_takers_exactly_one_takes_the_invite(
    uow: UnitOfWorkFactory,
) -> None:
    invite = an_invite(await new_list(uow, person()))
    async with uow() as work:
        await work.lists.add_invite(invite)
        await work.commit()

    async def take() -> bool:
        async with uow() as work:
            taken = await work.lists.take_invite(invite.code_hash)
            await asyncio.sleep(0.05)  # hold the transaction so that the two overlap
            await work.commit()
            return taken

    assert sorted(await asyncio.gather(take(), take())) == [False, True]


async def test_purging_deletes_expired_invites_up_to_the_limit(uow: UnitOfWorkFactory) -> None:
    made = await new_list(uow, person())
    ends = [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    expired = [an_invite(made, created_at=e - timedelta(days=1), expires_at=e) for e in ends]
    open_one = an_invite(made)
    async with uow() as work:
        for invite in (*expired, open_one):
            await work.lists.add_invite(invite)
        await work.commit()
    async with uow() as work:
        assert await work.lists.purge_invites(NOW, 2) == 2
        await work.commit()
    async with uow() as work:
        # Earliest first: only the latest expired one is left, and the open one.
        assert await work.lists.invite(expired[2].code_hash) == expired[2]
        assert await work.lists.invite(expired[0].code_hash) is None
        assert await work.lists.purge_invites(NOW, 100) >= 1
        await work.commit()
    async with uow() as work:
        assert await work.lists.invites(made.id, NOW - timedelta(days=30)) == [open_one]


async def test_a_member_sees_the_tasks_of_shared_lists_with_their_role(
    uow: UnitOfWorkFactory,
) -> None:
    owner, editor, viewer, stranger = (person(n) for n in ("own", "edit", "view", "other"))
    shared, private = await new_list(uow, owner, "Shared"), await new_list(uow, owner, "Mine")
    await join(uow, shared, editor, Role.EDITOR)
    await join(uow, shared, viewer, Role.VIEWER)
    [theirs] = await store(uow, owner, task_in(private))
    [ours] = await store(uow, editor, task_in(shared, completed=True))
    assert ours.created_by == editor.id
    assert ours.user_id == owner.id
    assert [await visible(uow, u, ours) for u in (owner, editor, viewer, stranger)] == [
        Role.OWNER,
        Role.EDITOR,
        Role.VIEWER,
        None,
    ]
    assert await visible(uow, editor, theirs) is None
    assert await counts(uow, owner) == TaskCounts(pending=1, completed=1)
    assert await counts(uow, editor) == TaskCounts(completed=1)
    assert await counts(uow, editor, private.id) == TaskCounts()
    assert await listed(uow, editor, TaskQuery(list_id=private.id)) == []
    assert await listed(uow, viewer, TaskQuery()) == [ours.id]
    async with uow() as work:
        page, counted = await work.tasks.page_with_counts(editor.id, TaskQuery(list_id=shared.id))
    assert ([t.id for t in page], counted) == ([ours.id], TaskCounts(completed=1))


async def test_a_page_scoped_by_parent_and_in_manual_order(uow: UnitOfWorkFactory) -> None:
    owner = person()
    made = await new_list(uow, owner)
    first, second = await store(
        uow, owner, task_in(made, "first", position="a1"), task_in(made, "second", position="a2")
    )
    subs = await store(
        uow,
        owner,
        task_in(made, "first.b", position="a2", parent=first),
        task_in(made, "first.a", position="a1", parent=first),
        task_in(made, "second.a", position="a0", parent=second),
    )
    manual = Sort(field=SortField.POSITION, descending=False)

    def titles(ids: list[TaskId]) -> list[str]:
        by_id = {t.id: t.title for t in (first, second, *subs)}
        return [by_id[i] for i in ids]

    whole = TaskQuery(list_id=made.id, sort=manual)
    in_order = ["first", "first.a", "first.b", "second", "second.a"]
    assert titles(await listed(uow, owner, whole)) == in_order
    top = attrs.evolve(whole, parent=Parent.NONE)
    assert titles(await listed(uow, owner, top)) == ["first", "second"]
    under_first = attrs.evolve(whole, parent=first.id)
    assert titles(await listed(uow, owner, under_first)) == ["first.a", "first.b"]
    async with uow() as work:
        assert [t.title for t in await work.tasks.subtasks(first.id)] == ["first.a", "first.b"]
        assert [t.title for t in await work.tasks.in_list(made.id)] == in_order
        assert await work.tasks.last_position(made.id, None) == "a2"
        assert await work.tasks.last_position(made.id, first.id) == "a1.a2"
        assert await work.tasks.position_after(made.id, None, "a1", TaskId(0)) == "a2"
        assert await work.tasks.position_after(made.id, None, None, first.id) == "a2"
        assert await work.tasks.position_after(made.id, None, "a2", TaskId(0)) is None
        assert await work.tasks.position_after(made.id, first.id, "a1.a1", TaskId(0)) == "a1.a2"
        assert await work.tasks.last_position(ListId(made.id + 1_000_000), None) is None


async def test_removing_a_parent_removes_and_uncounts_its_subtasks(uow: UnitOfWorkFactory) -> None:
    owner = person()
    made = await new_list(uow, owner)
    [parent] = await store(uow, owner, task_in(made))
    subs = await store(
        uow,
        owner,
        task_in(made, parent=parent, position="a0"),
        task_in(made, parent=parent, position="a1", completed=True),
    )
    assert await counts(uow, owner, made.id) == TaskCounts(pending=2, completed=1)
    async with uow() as work:
        assert await work.tasks.remove(parent, parent.user_id, NOW)
        await work.commit()
    assert [await visible(uow, owner, t) for t in (parent, *subs)] == [None, None, None]
    assert await counts(uow, owner, made.id) == TaskCounts()


async def test_a_move_carries_the_counts_from_list_to_list(uow: UnitOfWorkFactory) -> None:
    owner, friend = person("owner"), person("friend")
    home, shared = await new_list(uow, owner, "Home"), await new_list(uow, friend, "Shared")
    await join(uow, shared, owner)
    [task] = await store(uow, owner, task_in(home, completed=True))
    later = NOW + timedelta(minutes=1)
    moved = attrs.evolve(
        task.apply(parse_changes({"completed": False}, "patch"), later),
        list_id=shared.id,
        user_id=friend.id,
        position="a5",
    )
    async with uow() as work:
        assert not await work.tasks.replace(moved, attrs.evolve(task, version=9))
        assert await work.tasks.replace(moved, task)
        await work.commit()
    assert await counts(uow, owner, home.id) == TaskCounts()
    assert await counts(uow, owner, shared.id) == TaskCounts(pending=1)
    assert await counts(uow, friend) == TaskCounts(pending=1)
    assert await visible(uow, friend, moved) is Role.OWNER


async def test_a_task_written_leaves_its_lists_own_fields_as_they_were(
    uow: UnitOfWorkFactory,
) -> None:
    # A task's values travel with names its list's columns also have (version, created_at,
    # updated_at, owner_id): none of them may reach the list's row.
    owner, friend = person("owner"), person("friend")
    home, shared = await new_list(uow, owner, "Home"), await new_list(uow, friend, "Shared")
    await join(uow, shared, owner)
    [task] = await store(uow, owner, task_in(home))
    later = NOW + timedelta(days=3)
    done = task.apply(parse_changes({"completed": True, "title": "x"}, "patch"), later)
    moved = attrs.evolve(
        done.apply(parse_changes({"title": "y"}, "patch"), later),
        list_id=shared.id,
        user_id=friend.id,
    )
    async with uow() as work:
        assert await work.tasks.replace(done, task)
        assert await work.tasks.replace(moved, done)
        await work.commit()
    async with uow() as work:
        for task_list, member in ((home, owner), (shared, friend)):
            view = await work.lists.get(member.id, task_list.id)
            assert view is not None
            assert view.list == task_list


@pytest.fixture(scope="module")
async def many_lists(uow: UnitOfWorkFactory) -> tuple[User, list[Task]]:
    """A user in six lists (four of theirs, two shared with them) with tasks whose sort values
    repeat across lists, and a stranger's list beside them."""
    me, friend, stranger = person("me"), person("friend"), person("stranger")
    mine = [await new_list(uow, me, f"mine {n}") for n in range(4)]
    shared = [await new_list(uow, friend, f"shared {n}") for n in range(2)]
    for task_list in shared:
        await join(uow, task_list, me, Role.VIEWER)
    moments = [NOW, NOW - timedelta(days=1), NOW + timedelta(microseconds=1)]
    keys = spaced_keys(5)
    tasks = [
        task_in(
            task_list,
            ["b", "a", "B", "É"][(n + i) % 4],
            position=keys[(n * 3 + i) % 5],
            now=moments[(n + i) % 3],
            priority=["none", "low", "high"][i % 3],
            completed=(n + i) % 4 == 0,
            due_date=f"2030-01-0{1 + i % 3}" if i % 2 else None,
        )
        for n, task_list in enumerate(mine + shared)
        for i in range(7)
    ]
    stored = await store(uow, me, *tasks[:28]) + await store(uow, friend, *tasks[28:])
    await store(uow, stranger, task_in(await new_list(uow, stranger)))
    return me, stored


def expected(tasks: list[Task], query: TaskQuery) -> list[TaskId]:
    """The ids in the order the domain's rules give."""
    query = attrs.evolve(query, now=NOW)
    chosen = [t for t in tasks if query.matches(t)]
    return [t.id for t in sorted(chosen, key=query.order_key, reverse=query.sort.descending)]


@pytest.mark.parametrize("sort", ORDERS, ids=str)
async def test_pages_of_all_lists_merge_the_lists_in_order(
    uow: UnitOfWorkFactory, many_lists: tuple[User, list[Task]], sort: Sort
) -> None:
    me, tasks = many_lists
    query = TaskQuery(sort=sort, now=NOW, limit=5)
    seen: list[TaskId] = []
    async with uow() as work:
        while page := await work.tasks.page(me.id, query):
            seen += [t.id for t in page]
            assert len(seen) <= len(tasks), "paging does not end"
            query = attrs.evolve(query, after=query.position_of(page[-1]))
        counted = await work.tasks.counts(me.id)
    assert seen == expected(tasks, query)
    done = sum(t.completed for t in tasks)
    assert counted == TaskCounts(pending=len(tasks) - done, completed=done)


@pytest.mark.parametrize("sort", ORDERS, ids=str)
async def test_pages_of_one_list_are_that_lists(
    uow: UnitOfWorkFactory, many_lists: tuple[User, list[Task]], sort: Sort
) -> None:
    me, tasks = many_lists
    one = tasks[-1].list_id
    query = TaskQuery(list_id=one, sort=sort, now=NOW, limit=3)
    seen: list[TaskId] = []
    async with uow() as work:
        while True:
            page, counted = await work.tasks.page_with_counts(me.id, query)
            if not page:
                break
            seen += [t.id for t in page]
            query = attrs.evolve(query, after=query.position_of(page[-1]))
    theirs = [t for t in tasks if t.list_id == one]
    assert seen == expected(theirs, query)
    done = sum(t.completed for t in theirs)
    assert counted == TaskCounts(pending=len(theirs) - done, completed=done)


async def test_erasing_an_owner_ends_their_lists_for_every_member(uow: UnitOfWorkFactory) -> None:
    owner, member = person("own"), person("member")
    shared = await new_list(uow, owner)
    await join(uow, shared, member)
    [task] = await store(uow, member, task_in(shared))
    async with uow() as work:
        assert await work.users.remove(owner.id, NOW)
        await work.commit()
    assert await visible(uow, member, task) is None
    async with uow() as work:
        assert await work.lists.all_for(member.id) == []
        assert await work.lists.members(shared.id) == []
    assert await counts(uow, member) == TaskCounts()


async def test_erasing_a_member_leaves_the_list_and_what_they_wrote_in_it(
    uow: UnitOfWorkFactory,
) -> None:
    owner, member = person("own"), person("member")
    shared = await new_list(uow, owner)
    await join(uow, shared, member)
    [task] = await store(uow, member, task_in(shared))
    async with uow() as work:
        assert await work.users.remove(member.id, NOW)
        await work.commit()
    assert await visible(uow, owner, task) == Role.OWNER
    async with uow() as work:
        assert [m.user_id for m in await work.lists.members(shared.id)] == [owner.id]
    assert await counts(uow, owner) == TaskCounts(pending=1)


# ---------------------------------------------------------------------------------------------
# The trash (SPEC §8): what deletes keep, who sees it, restore and purge.
# ---------------------------------------------------------------------------------------------

SEEN_BY = frozenset({Role.OWNER, Role.EDITOR})
"""The roles the trash use cases pass (domain.policy.TRASH_ACTION's)."""


async def trashed(uow: UnitOfWorkFactory, task: Task, by: User, at: datetime = NOW) -> None:
    """`task` (as stored) moved to the trash by `by` at `at`, committed."""
    async with uow() as work:
        assert await work.tasks.remove(task, by.id, at)
        await work.commit()


async def trash_page(
    uow: UnitOfWorkFactory,
    user: User,
    roles: frozenset[Role] = SEEN_BY,
    after: tuple[datetime, TaskId] | None = None,
    limit: int = 100,
) -> list[TaskId]:
    """The ids of one page of the user's trash."""
    async with uow() as work:
        return [e.task.id for e in await work.trash.page(user.id, roles, after, limit)]


async def trash_role(uow: UnitOfWorkFactory, user: User, task_id: TaskId) -> Role | None:
    """The user's role over trash entry `task_id`, as get_visible answers; None when hidden."""
    async with uow() as work:
        found = await work.trash.get_visible(user.id, task_id)
    return None if found is None else found[1]


async def test_a_deleted_task_leaves_every_read_for_the_trash_with_its_subtasks(
    uow: UnitOfWorkFactory,
) -> None:
    owner, editor, viewer, stranger = (person(n) for n in ("own", "ed", "view", "far"))
    shared = await new_list(uow, owner)
    await join(uow, shared, editor)
    await join(uow, shared, viewer, Role.VIEWER)
    [parent, other] = await store(uow, owner, task_in(shared), task_in(shared, position="a1"))
    subs = await store(
        uow,
        owner,
        task_in(shared, parent=parent, position="a1", completed=True),
        task_in(shared, parent=parent, position="a0"),
    )
    later = NOW + timedelta(minutes=5)
    await trashed(uow, parent, editor, later)

    assert [await visible(uow, owner, t) for t in (parent, *subs)] == [None, None, None]
    assert await listed(uow, owner, TaskQuery(list_id=shared.id)) == [other.id]
    assert await counts(uow, owner, shared.id) == TaskCounts(pending=1)
    # One entry, the task deleted: its subtasks come with it, in their order.
    for user in (owner, editor):
        assert await trash_page(uow, user) == [parent.id]
    async with uow() as work:
        found = await work.trash.get_visible(editor.id, parent.id)
        assert found is not None
        entry, role = found
        assert (entry.task, entry.deleted_at, entry.deleted_by) == (parent, later, editor.id)
        assert (role, entry.is_root) == (Role.EDITOR, True)
        family = await work.trash.family(parent.id)
    assert [e.task for e in family] == [subs[1], subs[0]]
    assert {e.root for e in family} == {parent.id}
    # A viewer has a role but sees no trash through SEEN_BY; a stranger has none at all.
    assert await trash_page(uow, viewer) == []
    assert await trash_role(uow, viewer, parent.id) == Role.VIEWER
    assert await trash_role(uow, stranger, parent.id) is None
    assert await trash_page(uow, stranger) == []
    # A subtask deleted with its parent is no entry of its own.
    assert await trash_role(uow, owner, subs[0].id) is None


async def test_a_subtask_deleted_alone_is_an_entry_of_its_own(uow: UnitOfWorkFactory) -> None:
    owner = person()
    made = await new_list(uow, owner)
    [parent] = await store(uow, owner, task_in(made))
    [sub] = await store(uow, owner, task_in(made, parent=parent))
    await trashed(uow, sub, owner)
    assert await visible(uow, owner, parent) == Role.OWNER
    assert await trash_page(uow, owner) == [sub.id]
    assert await counts(uow, owner, made.id) == TaskCounts(pending=1)


async def test_deleting_a_list_moves_its_tasks_to_its_owners_trash(uow: UnitOfWorkFactory) -> None:
    owner, editor = person("own"), person("ed")
    doomed = await new_list(uow, owner)
    await join(uow, doomed, editor)
    [first, second] = await store(uow, editor, task_in(doomed), task_in(doomed, position="a1"))
    [sub] = await store(uow, editor, task_in(doomed, parent=first))
    async with uow() as work:
        assert await work.lists.remove(doomed, owner.id, NOW)
        await work.commit()
    assert sorted(await trash_page(uow, owner)) == sorted([first.id, second.id])
    assert await trash_role(uow, owner, first.id) == Role.OWNER
    # Its editor is no member of anything any more: the trash of a list gone is its owner's.
    assert await trash_page(uow, editor) == []
    assert await trash_role(uow, editor, first.id) is None
    async with uow() as work:
        family = await work.trash.family(first.id)
        assert [(e.task, e.deleted_by) for e in family] == [(sub, owner.id)]
        owned = await work.trash.of_owner(owner.id, None, 100)
    assert sorted(e.task.id for e in owned) == sorted([first.id, second.id, sub.id])


async def test_a_restore_puts_the_rows_back_with_their_ids_and_counts(
    uow: UnitOfWorkFactory,
) -> None:
    owner = person()
    made = await new_list(uow, owner)
    [parent] = await store(uow, owner, task_in(made))
    [sub] = await store(uow, owner, task_in(made, parent=parent, completed=True))
    await trashed(uow, parent, owner)
    back = [attrs.evolve(parent, position="b0"), attrs.evolve(sub, position="b0.a0")]
    async with uow() as work:
        assert await work.trash.restore(parent.id, back)
        # Once: the entry is gone from the trash.
        assert not await work.trash.restore(parent.id, back)
        await work.commit()
    assert [await visible(uow, owner, t) for t in back] == [Role.OWNER, Role.OWNER]
    assert await counts(uow, owner, made.id) == TaskCounts(pending=1, completed=1)
    assert await trash_page(uow, owner) == []
    assert await trash_role(uow, owner, parent.id) is None


async def test_the_trash_pages_newest_first_then_by_id(uow: UnitOfWorkFactory) -> None:
    owner = person()
    made = await new_list(uow, owner)
    stored = await store(uow, owner, *(task_in(made, position=f"a{i}") for i in range(7)))
    moments = [NOW + timedelta(seconds=s) for s in (3, 1, 3, 2, 1, 3, 0)]
    for task, at in zip(stored, moments, strict=True):
        await trashed(uow, task, owner, at)
    expected = [
        t.id for t, _ in sorted(zip(stored, moments, strict=True), key=lambda p: (p[1], p[0].id))
    ][::-1]
    seen: list[TaskId] = []
    after = None
    while True:
        async with uow() as work:
            page = await work.trash.page(owner.id, SEEN_BY, after, 3)
        seen += [e.task.id for e in page]
        if len(page) < 3:
            break
        after = page[-1].position
    assert seen == expected


async def test_purge_and_empty_delete_for_good_what_the_user_sees(uow: UnitOfWorkFactory) -> None:
    owner, editor, viewer = person("own"), person("ed"), person("view")
    shared, mine = await new_list(uow, owner, "Shared"), await new_list(uow, editor, "Mine")
    await join(uow, shared, editor)
    await join(uow, shared, viewer, Role.VIEWER)
    [parent, kept] = await store(uow, owner, task_in(shared), task_in(shared, position="a1"))
    [sub] = await store(uow, owner, task_in(shared, parent=parent))
    [own] = await store(uow, editor, task_in(mine))
    for task in (parent, kept, own):
        await trashed(uow, task, owner if task is not own else editor)
    async with uow() as work:
        assert await work.trash.purge(parent.id)
        assert not await work.trash.purge(parent.id)
        assert await work.trash.family(parent.id) == []
        # A viewer's empty takes nothing: no list's trash is theirs.
        assert await work.trash.empty(viewer.id, SEEN_BY) == 0
        await work.commit()
    assert sorted(await trash_page(uow, editor)) == sorted([kept.id, own.id])
    async with uow() as work:
        assert await work.trash.empty(editor.id, SEEN_BY) == 2
        await work.commit()
    assert await trash_page(uow, owner) == []
    assert await trash_role(uow, owner, sub.id) is None


async def test_purging_expired_entries_takes_the_earliest_whole_up_to_the_limit(
    uow: UnitOfWorkFactory,
) -> None:
    owner = person()
    made = await new_list(uow, owner)
    # Long before anything else in the run, so that only these are expired.
    ancient = NOW - timedelta(days=40_000)
    parents = await store(uow, owner, *(task_in(made, position=f"a{i}") for i in range(3)))
    [sub] = await store(uow, owner, task_in(made, parent=parents[0]))
    for age, task in enumerate(parents):
        await trashed(uow, task, owner, ancient + timedelta(days=age))
    async with uow() as work:
        assert await work.trash.purge_expired(ancient + timedelta(days=1), 1) == 1
        assert await work.trash.family(parents[0].id) == []
        assert await work.trash.purge_expired(ancient + timedelta(days=1), 100) == 1
        assert await work.trash.purge_expired(ancient + timedelta(days=1), 100) == 0
        await work.commit()
    assert await trash_page(uow, owner) == [parents[2].id]
    assert await trash_role(uow, owner, sub.id) is None


async def test_erasing_an_owner_erases_their_trash_and_nobody_elses(
    uow: UnitOfWorkFactory,
) -> None:
    owner, editor = person("own"), person("ed")
    shared, mine = await new_list(uow, owner), await new_list(uow, editor, "Mine")
    await join(uow, shared, editor)
    [theirs] = await store(uow, editor, task_in(shared))
    [own] = await store(uow, editor, task_in(mine))
    await trashed(uow, theirs, editor)
    await trashed(uow, own, editor)
    async with uow() as work:
        assert await work.users.remove(owner.id, NOW)
        await work.commit()
        assert await work.trash.of_owner(owner.id, None, 100) == []
        assert [e.task.id for e in await work.trash.of_owner(editor.id, None, 100)] == [own.id]
