"""One behaviour suite for every UnitOfWorkFactory: in memory, SQLite and PostgreSQL: directly,
through PgBouncer in transaction mode, and with the tasks hash-partitioned by list."""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from adapters.memory import MemoryStore
from adapters.persistence import SqlUnitOfWorkFactory
from domain.accounts import Account
from domain.errors import Conflict
from domain.idempotency import IdempotencyRecord, Reply
from domain.identities import ExternalIdentity
from domain.lists import Invite, Membership, Role, TaskList, hash_invite_code
from domain.personal_tokens import PersonalToken, new_secret, token_hash
from domain.policy import Scope
from domain.queries import Due, Sort, SortField, Status, TaskCounts, TaskFilter, TaskQuery
from domain.sessions import EndedSessions, IssuedSession
from domain.sync import HISTORY_KEPT, Change, FeedPosition, Kind, Op, latest_per_entity
from domain.tasks import NO_LIST, Priority, Task, parse_changes
from domain.types import TaskId, UserId
from domain.users import User
from taskservice.ports import FoundToken, UnitOfWork, UnitOfWorkFactory
from tests.integration.partitioning import PartitionWatch, migrated_partitioned_postgres
from tests.integration.sql_backends import (
    POOLED_KINDS,
    database_behind,
    database_for,
    migrated_postgres,
    migrated_sqlite,
)
from tests.settling import SETTLING

NOW = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    *(pytest.param(kind, marks=pytest.mark.postgres) for kind in POOLED_KINDS),
    pytest.param("partitioned", marks=pytest.mark.postgres),
]
ORDERS = [Sort(field=f, descending=d) for f in SortField for d in (False, True)]


@pytest.fixture(scope="module", params=BACKENDS)
async def uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory on an empty store of the backend under test."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        url = await migrated_sqlite(tmp_path_factory.mktemp("sqlite"))
        async with database_for(url) as database:
            yield SqlUnitOfWorkFactory(database)
    elif request.param == "postgres":
        async with migrated_postgres() as url, database_for(url) as database:
            yield SqlUnitOfWorkFactory(database)
    elif request.param in POOLED_KINDS:
        async with database_behind(request.param) as database:
            yield SqlUnitOfWorkFactory(database)
    else:
        watch = PartitionWatch()
        async with migrated_partitioned_postgres() as url, database_for(url) as database:
            watch.watch(database.engine)
            yield SqlUnitOfWorkFactory(database)
            # A statement that names the owner reaches one partition at most. Since lists (§7),
            # a task found by its id or through a membership may reach every partition.
            reached = await watch.partitions_reached(url)
            by_list = {q: p for q, p in reached.items() if LIST_BOUND.search(q)}
            assert by_list, reached
            assert {q: p for q, p in by_list.items() if any(len(one) > 1 for one in p)} == {}


LIST_BOUND = re.compile(r"\btasks\.list_id = \$\d")
"""A statement that binds the list of the tasks it touches."""


def new_user(email: str | None = None) -> User:
    """A user nobody else in the run has."""
    return User(id=UserId(f"user-{uuid.uuid4().hex[:12]}"), email=email, created_at=NOW)


def as_owner(user_id: UserId) -> User:
    """The user `user_id`, as their first write would provision them."""
    return User(id=user_id, created_at=NOW)


def make_task(user_id: UserId, now: datetime = NOW, **fields: object) -> Task:
    """An unsaved task built the way the use cases build one."""
    changes = parse_changes({"title": "a task", **fields}, "create")
    return Task.create(user_id=user_id, changes=changes, now=now)


async def stored_user(uow: UnitOfWorkFactory) -> UserId:
    """A new user, committed."""
    user = new_user()
    async with uow() as work:
        await work.users.ensure(user)
        await work.commit()
    return user.id


async def placed(work: UnitOfWork, task: Task) -> Task:
    """`task` placed in its owner's default list (made, with the owner, if first needed)."""
    inbox = await work.lists.ensure_default(
        TaskList.default_for(task.user_id, NOW), as_owner(task.user_id)
    )
    return attrs.evolve(task, list_id=inbox.id, position="a0")


async def add(work: UnitOfWork, task: Task) -> Task:
    """`task` added to its owner's default list, as the use cases add one."""
    return await work.tasks.add(await placed(work, task), as_owner(task.user_id))


def unplaced(task: Task) -> Task:
    """`task` as make_task made it, before it was placed and stored."""
    return attrs.evolve(task, id=TaskId(0), list_id=NO_LIST, position="")


async def store(uow: UnitOfWorkFactory, *tasks: Task) -> list[Task]:
    """Add `tasks` in one committed unit of work; the stored tasks, with their ids."""
    async with uow() as work:
        stored = [await add(work, t) for t in tasks]
        await work.commit()
    return stored


async def fetch(uow: UnitOfWorkFactory, user_id: UserId, task_id: TaskId) -> Task | None:
    """The task as a new unit of work sees it."""
    async with uow() as work:
        found = await work.tasks.get_visible(user_id, task_id)
    return None if found is None else found[0]


async def test_add_then_get_preserves_every_field(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)
    rich = make_task(
        user_id,
        title="Café ☕ — naïve 🚀 日本語",
        description="line one\nline two\ttabbed 🙂",
        completed=True,
        priority="high",
        due_at="2030-03-04T05:06:07.123456+02:00",
        tags=["zeta", "älpha", "b c", "1-2_3"],
    )
    plain = make_task(user_id, title="plain", due_date="2030-12-31")
    stored = await store(uow, rich, plain)

    assert all(t.id > 0 for t in stored)
    assert len({t.id for t in stored}) == 2
    assert [unplaced(t) for t in stored] == [rich, plain]
    for task in stored:
        got = await fetch(uow, user_id, task.id)
        assert got == task
        assert got is not None
        for moment in (got.created_at, got.updated_at, got.completed_at, got.due_at):
            assert moment is None or moment.utcoffset() == timedelta(0)
    first = await fetch(uow, user_id, stored[0].id)
    assert first is not None
    assert first.due_at == datetime(2030, 3, 4, 3, 6, 7, 123456, tzinfo=UTC)
    assert first.tags == ("zeta", "älpha", "b c", "1-2_3")
    second = await fetch(uow, user_id, stored[1].id)
    assert second is not None
    assert (second.description, second.due_date, second.tags) == (None, date(2030, 12, 31), ())


async def test_get_of_another_users_task_is_none(uow: UnitOfWorkFactory) -> None:
    owner, other = await stored_user(uow), await stored_user(uow)
    [task] = await store(uow, make_task(owner))
    assert await fetch(uow, other, task.id) is None
    assert await fetch(uow, owner, TaskId(task.id + 1_000_000)) is None


async def test_ids_grow_and_are_never_reused(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)
    [first] = await store(uow, make_task(user_id))
    async with uow() as work:
        assert await work.tasks.remove(first, first.user_id, NOW)
        await work.commit()
    [second] = await store(uow, make_task(user_id))
    assert second.id > first.id


async def test_replace_applies_only_at_the_expected_version(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)
    [task] = await store(uow, make_task(user_id))
    later = NOW + timedelta(hours=1)
    changed = task.apply(parse_changes({"title": "renamed", "tags": ["x"]}, "patch"), later)

    async with uow() as work:
        stale = attrs.evolve(task, version=task.version + 1)
        assert not await work.tasks.replace(changed, stale)
        assert await work.tasks.replace(changed, previous=task)
        await work.commit()

    assert await fetch(uow, user_id, task.id) == changed
    async with uow() as work:
        assert not await work.tasks.replace(changed, previous=task)


async def test_remove_needs_the_current_version(uow: UnitOfWorkFactory) -> None:
    owner, other = await stored_user(uow), await stored_user(uow)
    [task] = await store(uow, make_task(owner))
    async with uow() as work:
        assert not await work.tasks.remove(
            attrs.evolve(task, version=task.version + 1), task.user_id, NOW
        )
        await work.commit()
    # Who may write is the use cases' to judge (the role in the task's list); the version is
    # what the repository checks.
    assert await fetch(uow, other, task.id) is None
    assert await fetch(uow, owner, task.id) == task

    async with uow() as work:
        assert await work.tasks.remove(task, task.user_id, NOW)
        await work.commit()
    assert await fetch(uow, owner, task.id) is None


async def test_nothing_persists_without_commit(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)
    async with uow() as work:
        task = await add(work, make_task(user_id))
        await work.users.ensure(new_user())
    assert await fetch(uow, user_id, task.id) is None


async def test_nothing_persists_when_the_work_raises(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)
    added: list[Task] = []

    async def commit_one_then_fail() -> None:
        async with uow() as work:
            added.append(await add(work, make_task(user_id)))
            await work.commit()
            added.append(await add(work, make_task(user_id)))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await commit_one_then_fail()
    assert await fetch(uow, user_id, added[0].id) == added[0]
    assert await fetch(uow, user_id, added[1].id) is None


async def test_work_goes_on_after_a_commit(uow: UnitOfWorkFactory) -> None:
    user = new_user()
    async with uow() as work:
        await work.users.ensure(user)
        await work.commit()
        assert await work.users.get(user.id) == user
        first = await add(work, make_task(user.id))
        await work.commit()
        unsaved = await add(work, make_task(user.id))
    assert await fetch(uow, user.id, first.id) == first
    assert await fetch(uow, user.id, unsaved.id) is None


async def test_counts_split_pending_and_completed(uow: UnitOfWorkFactory) -> None:
    user_id, other = await stored_user(uow), await stored_user(uow)
    await store(
        uow,
        *(make_task(user_id, completed=i < 2) for i in range(5)),
        make_task(other, completed=True),
    )
    async with uow() as work:
        counts = await work.tasks.counts(user_id)
        nobody = await work.tasks.counts(UserId("nobody-at-all"))
    assert (counts.pending, counts.completed) == (3, 2)
    assert (nobody.pending, nobody.completed) == (0, 0)


PAGES_WITH_COUNTS = {
    "first page": TaskQuery(limit=2),
    "pending": TaskQuery(filter=TaskFilter(status=Status.PENDING), limit=2),
    "by title": TaskQuery(sort=Sort(field=SortField.TITLE, descending=False)),
    "filtered by text": TaskQuery(filter=TaskFilter(text="A TASK")),
    "by due": TaskQuery(sort=Sort(field=SortField.DUE, descending=True)),
}


@pytest.mark.parametrize("name", [*PAGES_WITH_COUNTS, "next page", "past the end"])
async def test_a_page_with_counts_is_the_page_and_the_counts(
    uow: UnitOfWorkFactory, name: str
) -> None:
    user_id = await stored_user(uow)
    stored = await store(uow, *(make_task(user_id, completed=i < 2) for i in range(5)))
    query = PAGES_WITH_COUNTS.get(name, TaskQuery(limit=2))
    if name in ("next page", "past the end"):
        # Created at the same moment, the newest-first order is by id, descending.
        last = stored[3] if name == "next page" else stored[0]
        query = attrs.evolve(query, after=query.position_of(last))
    async with uow() as work:
        tasks, counts = await work.tasks.page_with_counts(user_id, query)
        apart = (await work.tasks.page(user_id, query), await work.tasks.counts(user_id))
    beyond = [t for t in stored if query.is_beyond(t)]
    assert [t.id for t in tasks] == expected(beyond, query)[: query.limit]
    assert (tasks, counts) == apart
    assert (counts.pending, counts.completed) == (3, 2)


async def test_a_page_with_counts_of_a_user_never_seen_is_empty(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        tasks, counts = await work.tasks.page_with_counts(UserId("nobody-at-all"), TaskQuery())
    assert (tasks, counts.pending, counts.completed) == ([], 0, 0)


async def counted(uow: UnitOfWorkFactory, user_id: UserId) -> tuple[int, int]:
    """The user's counts as (pending, completed)."""
    async with uow() as work:
        counts = await work.tasks.counts(user_id)
    return counts.pending, counts.completed


async def test_counts_follow_every_write_and_only_committed_ones(uow: UnitOfWorkFactory) -> None:
    user = new_user()
    [first, second] = await store(uow, make_task(user.id), make_task(user.id, completed=True))
    assert await counted(uow, user.id) == (1, 1)
    done = first.apply(parse_changes({"completed": True}, "patch"), NOW)
    renamed = second.apply(parse_changes({"title": "renamed"}, "patch"), NOW)

    async with uow() as work:
        assert not await work.tasks.replace(done, attrs.evolve(first, version=9))
        assert not await work.tasks.remove(attrs.evolve(second, version=9), second.user_id, NOW)
        assert await work.tasks.replace(done, first)
        assert await work.tasks.remove(second, second.user_id, NOW)
        await add(work, make_task(user.id))
        # Dropped: no commit.
    assert await counted(uow, user.id) == (1, 1)

    async with uow() as work:
        assert await work.tasks.replace(done, first)
        assert await work.tasks.replace(renamed, second)
        await work.commit()
    assert await counted(uow, user.id) == (0, 2)

    reopened = done.apply(parse_changes({"completed": False}, "patch"), NOW)
    async with uow() as work:
        assert await work.tasks.replace(reopened, done)
        assert await work.tasks.remove(renamed, renamed.user_id, NOW)
        await work.commit()
    assert await counted(uow, user.id) == (1, 0)


async def test_concurrent_writes_keep_the_counts_exact(uow: UnitOfWorkFactory) -> None:
    user = new_user()
    added = await store(uow, *(make_task(user.id) for _ in range(12)))

    async def complete(task: Task) -> None:
        done = task.apply(parse_changes({"completed": True}, "patch"), NOW)
        async with uow() as work:
            assert await work.tasks.replace(done, task)
            await work.commit()

    async def remove(task: Task) -> None:
        async with uow() as work:
            assert await work.tasks.remove(task, task.user_id, NOW)
            await work.commit()

    async def add() -> None:
        await store(uow, make_task(user.id, completed=True))

    await asyncio.gather(
        *(complete(t) for t in added[:6]),
        *(remove(t) for t in added[6:9]),
        *(add() for _ in range(4)),
    )
    async with uow() as work:
        listed = await work.tasks.page(user.id, TaskQuery(limit=100))
    pending = sum(not t.completed for t in listed)
    assert await counted(uow, user.id) == (pending, len(listed) - pending) == (3, 10)


async def test_ensure_is_idempotent_and_keeps_the_first(uow: UnitOfWorkFactory) -> None:
    first = new_user(email="first@example.com")
    second = attrs.evolve(first, email="second@example.com", name="Second")
    async with uow() as work:
        assert await work.users.get(first.id) is None
        await work.users.ensure(first)
        await work.users.ensure(second)
        await work.commit()
    async with uow() as work:
        await work.users.ensure(second)
        await work.commit()
    async with uow() as work:
        assert await work.users.get(first.id) == first


async def test_an_email_with_a_nul_names_no_account(uow: UnitOfWorkFactory) -> None:
    # PostgreSQL text cannot hold NUL; asking for one must not fail the request.
    async with uow() as work:
        assert await work.users.account_by_email("a\x00b@example.com") is None


async def test_accounts_are_unique_by_email_key(uow: UnitOfWorkFactory) -> None:
    key = f"{uuid.uuid4().hex[:8]}@example.com"
    account = Account(user=new_user(email=key.upper()), password_hash="hash-1")
    async with uow() as work:
        assert await work.users.account_by_email(key) is None
        await work.users.add_account(account, key)
        await work.commit()

    same_email = Account(user=new_user(email=key), password_hash="hash-2")
    same_id = Account(user=attrs.evolve(account.user, email="x@example.com"), password_hash="h")
    async with uow() as work:
        with pytest.raises(Conflict):
            await work.users.add_account(same_email, key)
        with pytest.raises(Conflict):
            await work.users.add_account(same_id, "x@example.com")
        # A refused account leaves the unit of work usable.
        await work.users.ensure(token_user := new_user(email=key))
        await work.commit()

    async with uow() as work:
        assert await work.users.account_by_email(key) == account
        assert await work.users.get(account.user.id) == account.user
        assert await work.users.get(same_email.user.id) is None
        assert await work.users.get(token_user.id) == token_user
        assert await work.users.account_by_email("x@example.com") is None


@pytest.fixture(scope="module")
async def listed(uow: UnitOfWorkFactory) -> tuple[UserId, list[Task]]:
    """A user with 30 tasks whose sort and filter values repeat, plus another user's tasks."""
    user_id, other = await stored_user(uow), await stored_user(uow)
    titles = ["b", "B", "a", "É", "e", "Zebra", "zebra", "éclair", "😀 party", "10", "2", "a"]
    descriptions = [None, "Straße 50%", "ΟΔΟΣ under_score", "line\nbreak", "ÉCOLE"]
    tags = [[], ["work"], ["home", "work"], ["Äpfel"], ["x y"]]
    dues: list[dict[str, str]] = [
        {},
        {"due_date": "2030-01-01"},
        {"due_date": "2030-01-02"},
        {"due_date": "2030-01-08"},
        {"due_at": "2030-01-02T03:04:05.678901Z"},
        {"due_at": "2030-01-01T23:30:00-05:00"},
        {"due_at": "2030-01-02T00:00:00+01:00"},
    ]
    moments = [NOW, NOW + timedelta(microseconds=1), NOW - timedelta(days=400), NOW]
    priorities = ["none", "low", "medium", "high"]
    tasks = [
        attrs.evolve(
            make_task(
                user_id,
                now=moments[i % 4],
                title=titles[(i * 7) % len(titles)],
                description=descriptions[i % 5],
                tags=tags[(i // 2) % 5],
                priority=priorities[(i // 3) % 4],
                completed=i % 3 == 0,
                **dues[i % 7],
            ),
            updated_at=moments[(i * 3) % 4] + timedelta(seconds=i % 2),
        )
        for i in range(30)
    ]
    stored = await store(uow, *tasks, *(make_task(other, title="a") for _ in range(3)))
    return user_id, stored[:30]


def expected(tasks: list[Task], query: TaskQuery) -> list[TaskId]:
    """The ids in the order the domain's rules give, which every backend must reproduce."""
    query = attrs.evolve(query, now=query.now or NOW)
    chosen = [t for t in tasks if query.matches(t)]
    return [t.id for t in sorted(chosen, key=query.order_key, reverse=query.sort.descending)]


async def page_ids(uow: UnitOfWorkFactory, user_id: UserId, query: TaskQuery) -> list[TaskId]:
    """The ids of one page."""
    async with uow() as work:
        return [t.id for t in await work.tasks.page(user_id, query)]


async def all_pages(uow: UnitOfWorkFactory, user_id: UserId, query: TaskQuery) -> list[TaskId]:
    """The ids of every page, each continuing after the last task of the one before."""
    seen: list[TaskId] = []
    async with uow() as work:
        while page := await work.tasks.page(user_id, query):
            seen.extend(t.id for t in page)
            assert len(seen) <= 100, "paging does not end"
            query = attrs.evolve(query, after=query.position_of(page[-1]))
    return seen


ZONES = [ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati")]
FILTERS = {
    "pending": TaskFilter(status=Status.PENDING),
    "completed": TaskFilter(status=Status.COMPLETED),
    "q-ascii-case": TaskFilter(text="ZEB"),
    "q-non-ascii-case": TaskFilter(text="é"),
    "q-casefold": TaskFilter(text="STRASSE"),
    "q-final-sigma": TaskFilter(text="οδοσ"),
    "q-percent": TaskFilter(text="50%"),
    "q-underscore": TaskFilter(text="r_s"),
    "q-wildcard-literal": TaskFilter(text="_"),
    "q-line-break": TaskFilter(text="e\nb"),
    "q-no-match-across-fields": TaskFilter(text="aStr"),
    "priority": TaskFilter(priorities=(Priority.HIGH, Priority.LOW)),
    "tag": TaskFilter(tags=("work",)),
    "tags-any": TaskFilter(tags=("äpfel", "x y", "missing")),
    **{f"due-{due.value}": TaskFilter(due=due) for due in Due},
    "combined": TaskFilter(
        status=Status.PENDING, text="a", priorities=(Priority.NONE, Priority.HIGH), due=Due.ANY
    ),
}


@pytest.mark.parametrize("sort", ORDERS, ids=str)
@pytest.mark.parametrize("tz", ZONES, ids=str)
async def test_page_orders_by_the_field_then_id(
    uow: UnitOfWorkFactory, listed: tuple[UserId, list[Task]], sort: Sort, tz: ZoneInfo
) -> None:
    user_id, tasks = listed
    query = TaskQuery(sort=sort, tz=tz, now=NOW, limit=100)
    ids = await page_ids(uow, user_id, query)
    assert ids == expected(tasks, query)
    assert len(ids) == 30


@pytest.mark.parametrize("name", FILTERS)
async def test_page_filters(
    uow: UnitOfWorkFactory, listed: tuple[UserId, list[Task]], name: str
) -> None:
    user_id, tasks = listed
    query = TaskQuery(filter=FILTERS[name], tz=ZoneInfo("Europe/Berlin"), now=NOW, limit=100)
    ids = await page_ids(uow, user_id, query)
    assert ids == expected(tasks, query)
    if name != "q-no-match-across-fields":
        assert ids, "each filter should select something in the fixture"
    assert len(ids) < 30 or name == "due-any"


@pytest.mark.parametrize("sort", ORDERS, ids=str)
@pytest.mark.parametrize("name", ["pending", "tag", "due-next_7_days", "combined"])
async def test_keyset_pages_cover_everything_once_in_order(
    uow: UnitOfWorkFactory, listed: tuple[UserId, list[Task]], sort: Sort, name: str
) -> None:
    user_id, tasks = listed
    query = TaskQuery(filter=FILTERS[name], sort=sort, tz=ZONES[1], now=NOW, limit=4)
    seen = await all_pages(uow, user_id, query)
    whole = await page_ids(uow, user_id, attrs.evolve(query, limit=100))
    assert seen == whole == expected(tasks, query)


async def test_concurrent_replaces_at_one_version_let_exactly_one_win(
    uow: UnitOfWorkFactory,
) -> None:
    user_id = await stored_user(uow)
    [task] = await store(uow, make_task(user_id))

    async def rename(title: str) -> bool:
        async with uow() as work:
            changed = task.apply(parse_changes({"title": title}, "patch"), NOW)
            won = await work.tasks.replace(changed, previous=task)
            # Hold the transaction open so that the two writers overlap.
            await asyncio.sleep(0.05)
            await work.commit()
            return won

    results = await asyncio.gather(rename("left"), rename("right"))
    assert sorted(results) == [False, True]
    final = await fetch(uow, user_id, task.id)
    assert final is not None
    assert final.version == task.version + 1
    assert final.title == ("left" if results[0] else "right")


async def test_concurrent_writers_all_succeed(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)

    async def add_one(n: int) -> Task:
        [task] = await store(uow, make_task(user_id, title=f"task {n}"))
        return task

    added = await asyncio.gather(*(add_one(n) for n in range(25)))
    assert len({t.id for t in added}) == 25
    async with uow() as work:
        assert (await work.tasks.counts(user_id)).pending == 25


def issued(
    *, issued_at: datetime = NOW, expires_at: datetime = NOW + timedelta(days=7)
) -> IssuedSession:
    """A session of a token the service issued, with an id of its own."""
    return IssuedSession(id=uuid.uuid4().hex[:22], issued_at=issued_at, expires_at=expires_at)


async def ended(uow: UnitOfWorkFactory, user_id: UserId, now: datetime = NOW) -> EndedSessions:
    """The user's ended sessions as a new unit of work sees them at `now`."""
    async with uow() as work:
        state = await work.sessions.ended(user_id, now)
    assert state is not None
    return state


async def test_a_user_has_no_ended_sessions_until_one_ends(uow: UnitOfWorkFactory) -> None:
    user_id, other = await stored_user(uow), await stored_user(uow)
    assert await ended(uow, user_id) == EndedSessions()
    one, two = issued(), issued()
    async with uow() as work:
        await work.sessions.end(user_id, one)
        await work.sessions.end(user_id, one)
        await work.commit()
    state = await ended(uow, user_id)
    assert state == EndedSessions(ids=frozenset({one.id}))
    assert state.ends(one)
    assert not state.ends(two)
    assert await ended(uow, other) == EndedSessions()


async def test_ended_sessions_of_no_such_user_are_none(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        assert await work.sessions.ended(UserId(f"nobody-{uuid.uuid4().hex}"), NOW) is None


async def test_an_ended_session_counts_until_it_expires_then_is_purged(
    uow: UnitOfWorkFactory,
) -> None:
    user_id = await stored_user(uow)
    soon = [issued(expires_at=NOW + timedelta(minutes=1)) for _ in range(3)]
    later = issued(expires_at=NOW + timedelta(hours=1))
    async with uow() as work:
        for session in (*soon, later):
            await work.sessions.end(user_id, session)
        await work.commit()
    assert (await ended(uow, user_id)).ids == {later.id, *(s.id for s in soon)}
    assert (await ended(uow, user_id, NOW + timedelta(minutes=1))).ids == {later.id}

    async with uow() as work:
        assert await work.sessions.purge(NOW + timedelta(minutes=1), 2) == 2
        assert await work.sessions.purge(NOW + timedelta(minutes=1), 1000) >= 1
        await work.commit()
    assert (await ended(uow, user_id, NOW - timedelta(days=1))).ids == {later.id}


async def test_ending_every_session_ends_those_issued_before_the_moment(
    uow: UnitOfWorkFactory,
) -> None:
    user_id = await stored_user(uow)
    async with uow() as work:
        await work.sessions.end_all(user_id, NOW)
        await work.commit()
    state = await ended(uow, user_id)
    assert state.before == NOW
    assert state.ends(issued(issued_at=NOW - timedelta(microseconds=1)))
    assert not state.ends(issued(issued_at=NOW))

    for moment in (NOW - timedelta(hours=1), NOW + timedelta(hours=1)):
        async with uow() as work:
            await work.sessions.end_all(user_id, moment)
            await work.commit()
    assert (await ended(uow, user_id)).before == NOW + timedelta(hours=1)


async def test_no_session_ends_without_commit(uow: UnitOfWorkFactory) -> None:
    user_id = await stored_user(uow)
    async with uow() as work:
        await work.sessions.end(user_id, issued())
        await work.sessions.end_all(user_id, NOW)
    assert await ended(uow, user_id) == EndedSessions()


def a_token(user_id: UserId, *, created_at: datetime = NOW, name: str = "script") -> PersonalToken:
    """A personal access token of the user's, with an id of its own."""
    return PersonalToken(
        id=uuid.uuid4().hex,
        user_id=user_id,
        name=name,
        scopes=frozenset(Scope),
        created_at=created_at,
        expires_at=created_at + timedelta(days=30),
    )


async def stored_token(uow: UnitOfWorkFactory) -> tuple[PersonalToken, str]:
    """A committed token of a new user, and the hash it is stored under."""
    token, digest = a_token(await stored_user(uow)), token_hash(new_secret())
    async with uow() as work:
        await work.personal_tokens.add(token, digest)
        await work.commit()
    return token, digest


async def test_a_token_is_found_by_its_hash_with_its_owners_cut_off(
    uow: UnitOfWorkFactory,
) -> None:
    token, digest = await stored_token(uow)
    stranger = await stored_user(uow)
    older = a_token(token.user_id, created_at=NOW - timedelta(days=1), name="older")
    async with uow() as work:
        await work.personal_tokens.add(older, token_hash(new_secret()))
        await work.commit()
    async with uow() as work:
        found = await work.personal_tokens.find(digest)
        assert found == FoundToken(token=token, token_hash=digest, sessions_ended_before=None)
        assert await work.personal_tokens.find(token_hash(new_secret())) is None
        assert await work.personal_tokens.of_user(token.user_id) == [token, older]
        assert await work.personal_tokens.of_user(stranger) == []
        await work.sessions.end_all(token.user_id, NOW)
        await work.commit()
    async with uow() as work:
        found = await work.personal_tokens.find(digest)
        assert found is not None
        assert found.sessions_ended_before == NOW
        assert not await work.personal_tokens.remove(stranger, token.id)
        assert await work.personal_tokens.remove(token.user_id, token.id)
        await work.commit()
    async with uow() as work:
        assert await work.personal_tokens.find(digest) is None


async def test_an_identity_names_one_user_and_is_taken_once(uow: UnitOfWorkFactory) -> None:
    issuer, subject = "https://id.example.test", uuid.uuid4().hex
    identity = ExternalIdentity(issuer=issuer, subject=subject)
    user, rival = new_user(email="a@example.test"), new_user()
    async with uow() as work:
        assert await work.identities.user_of(issuer, subject) is None
        assert await work.identities.add(identity, user)
        await work.commit()
    async with uow() as work:
        assert await work.identities.user_of(issuer, subject) == user
        assert await work.identities.user_of("https://other.example.test", subject) is None
        assert await work.identities.of_user(user.id) == [identity]
        assert not await work.identities.add(identity, rival)
    async with uow() as work:
        assert await work.identities.user_of(issuer, subject) == user


async def test_a_password_is_read_and_replaced_only_where_there_is_one(
    uow: UnitOfWorkFactory,
) -> None:
    account, key = await an_account(uow)
    async with uow() as work:
        await work.users.add_account(account, key)
        await work.commit()
    token_user = await stored_user(uow)
    async with uow() as work:
        assert await work.users.password_hash(account.user.id) == "hash"
        assert await work.users.password_hash(token_user) is None
        assert await work.users.set_password(account.user.id, "new-hash")
        assert not await work.users.set_password(token_user, "new-hash")
        await work.commit()
    async with uow() as work:
        assert await work.users.password_hash(account.user.id) == "new-hash"
        assert await work.users.password_hash(token_user) is None
        found = await work.users.account_by_email(key)
        assert found is not None
        assert found.password_hash == "new-hash"


async def test_removing_a_user_erases_everything_they_own_and_nothing_else(
    uow: UnitOfWorkFactory,
) -> None:
    account, key = await an_account(uow)
    doomed, kept = account.user.id, await stored_user(uow)
    identity = ExternalIdentity(issuer="https://id.example.test", subject=uuid.uuid4().hex)
    async with uow() as work:
        await work.users.add_account(account, key)
        await work.commit()
    for owner in (doomed, kept):
        await store(uow, make_task(owner), make_task(owner, completed=True))
        async with uow() as work:
            assert await work.idempotency.claim(a_record(owner, key="k"), NOW - timedelta(days=1))
            await work.sessions.end(owner, issued())
            await work.sessions.end_all(owner, NOW)
            await work.personal_tokens.add(a_token(owner), token_hash(new_secret()))
            await work.commit()
    async with uow() as work:
        await work.identities.add(identity, account.user)
        await work.commit()
    before_kept = await everything_of(uow, kept)

    async with uow() as work:
        assert await work.users.remove(doomed, NOW)
        await work.commit()

    assert await everything_of(uow, doomed) == (None, [], TaskCounts(), None, None, [], [])
    async with uow() as work:
        assert await work.users.account_by_email(key) is None
        assert await work.identities.user_of(identity.issuer, identity.subject) is None
        assert not await work.users.remove(doomed, NOW)
    assert await everything_of(uow, kept) == before_kept


async def everything_of(uow: UnitOfWorkFactory, user_id: UserId) -> tuple[object, ...]:
    """All that the stores keep of a user, through every repository."""
    async with uow() as work:
        return (
            await work.users.get(user_id),
            await work.tasks.page(user_id, TaskQuery(limit=100)),
            await work.tasks.counts(user_id),
            await work.idempotency.get(user_id, "k"),
            await work.sessions.ended(user_id, NOW - timedelta(days=1)),
            await work.personal_tokens.of_user(user_id),
            await work.identities.of_user(user_id),
        )


# The change feed (domain.sync): what each write leaves in the feeds of the people it concerns.


async def feed(
    uow: UnitOfWorkFactory, user_id: UserId, after: FeedPosition | None = None
) -> list[Change]:
    """Every entry of the user's feed after `after`, read a page of 3 at a time."""
    read: list[Change] = []
    empty = 0
    while empty < SETTLING:
        async with uow() as work:
            page = await work.changes.page(user_id, after, 3)
        assert len(page) <= 3
        empty = 0 if page else empty + 1
        read += page
        after = page[-1].position if page else after
    return read


def ops(entries: list[Change]) -> list[tuple[str, int, str]]:
    """(kind, id, op) of each entry, in order."""
    return [(e.kind.value, e.id, e.op.value) for e in entries]


async def shared_list(uow: UnitOfWorkFactory, owner: UserId, *members: UserId) -> TaskList:
    """A committed list of `owner` that `members` joined as editors."""
    async with uow() as work:
        made = await work.lists.add(
            TaskList.create(owner_id=owner, name="L", now=NOW), as_owner(owner)
        )
        for member in members:
            joined = Membership(list_id=made.id, user_id=member, role=Role.EDITOR, joined_at=NOW)
            assert await work.lists.add_member(joined)
        await work.commit()
    return made


async def in_list(
    uow: UnitOfWorkFactory, task_list: TaskList, title: str, parent: Task | None = None
) -> Task:
    """A committed task of `task_list` (under `parent` when given)."""
    task = attrs.evolve(
        make_task(task_list.owner_id, title=title),
        list_id=task_list.id,
        parent_id=None if parent is None else parent.id,
        position="a0" if parent is None else f"{parent.position}.a0",
    )
    async with uow() as work:
        stored = await work.tasks.add(task, as_owner(task_list.owner_id))
        await work.commit()
    return stored


async def test_a_full_feed_is_every_visible_list_and_task_once_in_order(
    uow: UnitOfWorkFactory,
) -> None:
    owner, stranger = await stored_user(uow), await stored_user(uow)
    first, second = await store(uow, make_task(owner, title="one"), make_task(owner, title="two"))
    await store(uow, make_task(stranger))
    entries = await feed(uow, owner)
    assert [e.position for e in entries] == sorted(e.position for e in entries)
    assert len({e.position for e in entries}) == len(entries)
    upserts = {(e.kind, e.id): e for e in latest_per_entity(entries)}
    assert {e.op for e in upserts.values()} == {Op.UPSERT}
    async with uow() as work:
        [view] = await work.lists.all_for(owner)
        assert upserts.pop((Kind.LIST, view.list.id)).list == view
        for task in (first, second):
            found = await work.tasks.get_visible(owner, task.id)
            assert found is not None
            assert upserts.pop((Kind.TASK, task.id)).task == found[0] == task
    assert upserts == {}


async def test_each_write_comes_after_a_cursor_read_before_it(uow: UnitOfWorkFactory) -> None:
    owner = await stored_user(uow)
    (task,) = await store(uow, make_task(owner))
    cursor = (await feed(uow, owner))[-1].position
    assert await feed(uow, owner, cursor) == []
    async with uow() as work:
        assert await work.tasks.replace(renamed(task), task)
        await work.commit()
    after = await feed(uow, owner, cursor)
    # The task, and its list (a task in it changed), each once.
    assert sorted(ops(after)) == [("list", task.list_id, "upsert"), ("task", task.id, "upsert")]
    assert [e.task for e in after if e.task is not None] == [renamed(task)]


async def test_a_list_joined_after_a_cursor_brings_its_older_tasks_after_it(
    uow: UnitOfWorkFactory,
) -> None:
    owner, member = await stored_user(uow), await stored_user(uow)
    theirs = await shared_list(uow, owner)
    old = await in_list(uow, theirs, "old")
    (mine,) = await store(uow, make_task(member))
    cursor = (await feed(uow, member))[-1].position
    async with uow() as work:
        joined = Membership(list_id=theirs.id, user_id=member, role=Role.VIEWER, joined_at=NOW)
        assert await work.lists.add_member(joined)
        await work.commit()
    assert sorted(ops(await feed(uow, member, cursor))) == [
        ("list", theirs.id, "upsert"),
        ("task", old.id, "upsert"),
    ]
    assert mine.id not in {e.id for e in await feed(uow, owner) if e.kind is Kind.TASK}


async def test_a_trashed_task_and_its_subtasks_are_deletes_for_members_of_their_list(
    uow: UnitOfWorkFactory,
) -> None:
    owner, member, later = [await stored_user(uow) for _ in range(3)]
    shared = await shared_list(uow, owner, member)
    parent = await in_list(uow, shared, "parent")
    child = await in_list(uow, shared, "child", parent)
    cursor = (await feed(uow, member))[-1].position
    async with uow() as work:
        assert await work.tasks.remove(parent, owner, NOW)
        await work.commit()
    after = await feed(uow, member, cursor)
    assert ("task", parent.id, "delete") in ops(after)
    assert ("task", child.id, "delete") in ops(after)
    # Who joins afterwards is told nothing of what was gone before.
    async with uow() as work:
        joined = Membership(list_id=shared.id, user_id=later, role=Role.VIEWER, joined_at=NOW)
        assert await work.lists.add_member(joined)
        await work.commit()
    assert {e.op for e in await feed(uow, later)} == {Op.UPSERT}


async def test_losing_a_list_in_any_way_is_a_delete_of_it(uow: UnitOfWorkFactory) -> None:
    owner, left, removed, stays = [await stored_user(uow) for _ in range(4)]
    shared = await shared_list(uow, owner, left, removed, stays)
    await in_list(uow, shared, "t")
    cursors = {who: (await feed(uow, who))[-1].position for who in (left, removed, stays)}
    async with uow() as work:
        assert await work.lists.remove_member(shared.id, left, NOW)
        assert await work.lists.remove_member(shared.id, removed, NOW)
        await work.commit()
    for who in (left, removed):
        assert ops(await feed(uow, who, cursors[who])) == [("list", shared.id, "delete")]
    # The one who stays sees the list again: it has fewer members.
    assert ops(await feed(uow, stays, cursors[stays])) == [("list", shared.id, "upsert")]
    async with uow() as work:
        assert await work.lists.remove(shared, owner, NOW)
        await work.commit()
    assert ("list", shared.id, "delete") in ops(await feed(uow, stays, cursors[stays]))
    assert ("list", shared.id, "delete") in ops(await feed(uow, owner))


async def test_erasing_an_owner_is_a_delete_of_their_lists_for_every_member(
    uow: UnitOfWorkFactory,
) -> None:
    owner, member = await stored_user(uow), await stored_user(uow)
    shared = await shared_list(uow, owner, member)
    cursor = (await feed(uow, member))[-1].position
    async with uow() as work:
        assert await work.users.remove(owner, NOW)
        await work.commit()
    assert ops(await feed(uow, member, cursor)) == [("list", shared.id, "delete")]


async def test_a_move_is_a_delete_where_the_task_left_and_an_upsert_where_it_went(
    uow: UnitOfWorkFactory,
) -> None:
    owner, here, both = await stored_user(uow), await stored_user(uow), await stored_user(uow)
    source = await shared_list(uow, owner, here, both)
    target = await shared_list(uow, owner, both)
    task = await in_list(uow, source, "moving")
    cursors = {who: (await feed(uow, who))[-1].position for who in (here, both)}
    moved = attrs.evolve(task, list_id=target.id, version=task.version + 1)
    async with uow() as work:
        assert await work.tasks.replace(moved, task)
        await work.commit()
    assert ("task", task.id, "delete") in ops(await feed(uow, here, cursors[here]))
    seen = latest_per_entity(await feed(uow, both, cursors[both]))
    # Seen from both lists, the move ends as an upsert.
    assert [(e.op, e.task) for e in seen if e.kind is Kind.TASK] == [(Op.UPSERT, moved)]


async def test_a_purge_moves_the_horizon_past_the_old_deletes_only(uow: UnitOfWorkFactory) -> None:
    owner = await stored_user(uow)
    old, new = await store(uow, make_task(owner), make_task(owner))
    async with uow() as work:
        assert await work.tasks.remove(old, owner, NOW - HISTORY_KEPT - timedelta(days=1))
        await work.commit()
    async with uow() as work:
        assert await work.tasks.remove(new, owner, NOW)
        await work.commit()
    deletes = {e.id: e.position for e in await feed(uow, owner) if e.op is Op.DELETE}
    async with uow() as work:
        before = await work.changes.horizon()
        assert await work.changes.purge(NOW - HISTORY_KEPT, 1000) >= 1
        horizon = await work.changes.horizon()
        await work.commit()
    assert before < deletes[old.id].changed <= horizon < deletes[new.id].changed
    remaining = {e.id for e in await feed(uow, owner) if e.op is Op.DELETE}
    assert old.id not in remaining
    assert new.id in remaining


@attrs.frozen
class Write:
    """How to check one write: the state it needs, the write itself, and what it changes.

    `arrange` commits what the write needs and returns it; `act` writes in a unit of work;
    `observe` reads, in a unit of work, everything the write changes.
    """

    arrange: Callable[[UnitOfWorkFactory], Awaitable[Any]]
    act: Callable[[UnitOfWork, Any], Awaitable[object]]
    observe: Callable[[UnitOfWork, Any], Awaitable[object]]


def a_record(user_id: UserId, created_at: datetime = NOW, key: str = "") -> IdempotencyRecord:
    """An idempotency record of the user's, under a key nobody else has unless one is given."""
    reply = Reply(status=201, headers={"location": "/x"}, body=b'{"id": 1}')
    key = key or uuid.uuid4().hex
    return IdempotencyRecord(
        user_id=user_id, key=key, fingerprint="f" * 64, reply=reply, created_at=created_at
    )


async def stored_task(uow: UnitOfWorkFactory) -> Task:
    """A committed task of a new user."""
    [task] = await store(uow, make_task(await stored_user(uow)))
    return task


async def task_state(work: UnitOfWork, task: Task) -> object:
    """The task as stored, its owner's counts, and the task in the trash."""
    found = await work.tasks.get_visible(task.user_id, task.id)
    binned = await work.trash.get_visible(task.user_id, task.id)
    return found, await work.tasks.counts(task.user_id), binned


async def trashed_task(uow: UnitOfWorkFactory, at: datetime = NOW) -> Task:
    """A task of a new user, deleted at `at` (moved to the trash), committed."""
    task = await stored_task(uow)
    async with uow() as work:
        assert await work.tasks.remove(task, task.user_id, at)
        await work.commit()
    return task


async def owner_state(work: UnitOfWork, user_id: UserId) -> object:
    """The user's tasks, counts and record."""
    tasks = await work.tasks.page(user_id, TaskQuery(limit=100))
    return tasks, await work.tasks.counts(user_id), await work.users.get(user_id)


async def stored_record(uow: UnitOfWorkFactory, created_at: datetime) -> IdempotencyRecord:
    """A committed idempotency record of a new user."""
    record = a_record(await stored_user(uow), created_at)
    async with uow() as work:
        assert await work.idempotency.claim(record, expired_by=created_at - timedelta(days=1))
        await work.commit()
    return record


async def user_with_an_ended_session(uow: UnitOfWorkFactory) -> UserId:
    """A committed user with one ended session, expiring a minute after NOW."""
    user_id = await stored_user(uow)
    async with uow() as work:
        await work.sessions.end(user_id, issued(expires_at=NOW + timedelta(minutes=1)))
        await work.commit()
    return user_id


async def unsaved_user(_uow: UnitOfWorkFactory) -> User:
    """A user nobody has stored yet."""
    return new_user()


async def first_seen_owner(_uow: UnitOfWorkFactory) -> UserId:
    """A user id nobody has stored yet."""
    return new_user().id


async def an_account(_uow: UnitOfWorkFactory) -> tuple[Account, str]:
    """A local account nobody has, and its e-mail key."""
    key = f"{uuid.uuid4().hex[:8]}@example.com"
    return Account(user=new_user(email=key), password_hash="hash"), key


async def an_account_stored(uow: UnitOfWorkFactory) -> Account:
    """A committed local account."""
    account, key = await an_account(uow)
    async with uow() as work:
        await work.users.add_account(account, key)
        await work.commit()
    return account


def completed(task: Task) -> Task:
    """The task, completed."""
    return task.apply(parse_changes({"completed": True}, "patch"), NOW)


def renamed(task: Task) -> Task:
    """The task, renamed."""
    return task.apply(parse_changes({"title": "renamed"}, "patch"), NOW)


async def record_of(work: UnitOfWork, record: IdempotencyRecord) -> object:
    """The record stored under the user's key."""
    return await work.idempotency.get(record.user_id, record.key)


async def claim_over(work: UnitOfWork, old: IdempotencyRecord) -> object:
    """Claim the old record's key again once it has expired."""
    later = attrs.evolve(a_record(old.user_id, NOW, key=old.key), fingerprint="e" * 64)
    return await work.idempotency.claim(later, expired_by=old.created_at)


async def sessions_of(work: UnitOfWork, user_id: UserId) -> object:
    """The user's ended sessions, expired ones included."""
    return await work.sessions.ended(user_id, NOW - timedelta(days=1))


def a_list(owner: UserId, name: str = "Shared") -> TaskList:
    """An unsaved list of `owner`'s."""
    return TaskList.create(owner_id=owner, name=name, now=NOW)


def an_invite(task_list: TaskList, expires_at: datetime = NOW + timedelta(days=7)) -> Invite:
    """An unsaved invite to `task_list` under a code hash nobody else has."""
    return Invite(
        list_id=task_list.id,
        role=Role.EDITOR,
        expires_at=expires_at,
        created_at=NOW,
        created_by=task_list.owner_id,
        code_hash=hash_invite_code(uuid.uuid4().hex),
    )


async def stored_list(uow: UnitOfWorkFactory) -> TaskList:
    """A committed list (not a default one) of a new user, with one task."""
    owner = new_user()
    async with uow() as work:
        task_list = await work.lists.add(a_list(owner.id), owner)
        task = attrs.evolve(make_task(owner.id), list_id=task_list.id, position="a0")
        await work.tasks.add(task, owner)
        await work.commit()
    return task_list


async def list_and_user(uow: UnitOfWorkFactory) -> tuple[TaskList, UserId]:
    """A committed list, and a committed user who is no member of it."""
    return await stored_list(uow), await stored_user(uow)


async def list_and_member(uow: UnitOfWorkFactory) -> tuple[TaskList, UserId]:
    """A committed list, and a committed editor of it."""
    task_list, user_id = await list_and_user(uow)
    async with uow() as work:
        joined = Membership(list_id=task_list.id, user_id=user_id, role=Role.EDITOR, joined_at=NOW)
        assert await work.lists.add_member(joined)
        await work.commit()
    return task_list, user_id


async def stored_invite(uow: UnitOfWorkFactory, expires_at: datetime = NOW) -> Invite:
    """A committed invite to a committed list."""
    invite = an_invite(await stored_list(uow), expires_at)
    async with uow() as work:
        await work.lists.add_invite(invite)
        await work.commit()
    return invite


async def list_state(work: UnitOfWork, task_list: TaskList) -> object:
    """The owner's lists, the list's members, open invites and tasks."""
    return (
        await work.lists.all_for(task_list.owner_id),
        await work.lists.members(task_list.id),
        await work.lists.invites(task_list.id, NOW - timedelta(days=1)),
        await work.tasks.in_list(task_list.id),
        await work.trash.of_owner(task_list.owner_id, None, 100),
    )


async def membership_state(work: UnitOfWork, given: tuple[TaskList, UserId]) -> object:
    """The list's members, and what the user sees of it."""
    task_list, user_id = given
    return await work.lists.members(task_list.id), await work.lists.access(user_id, task_list.id)


async def invite_state(work: UnitOfWork, invite: Invite) -> object:
    """The invite as stored."""
    return await work.lists.invite(invite.code_hash)


async def an_old_delete(uow: UnitOfWorkFactory) -> UserId:
    """A user whose task was deleted longer ago than the feed keeps deletes."""
    (task,) = await store(uow, make_task(await stored_user(uow)))
    async with uow() as work:
        assert await work.tasks.remove(task, task.user_id, NOW - HISTORY_KEPT - timedelta(days=1))
        await work.commit()
    return task.user_id


async def feed_state(work: UnitOfWork, user_id: UserId) -> object:
    """The user's whole feed, and the purge horizon."""
    return await work.changes.page(user_id, None, 1000), await work.changes.horizon()


WRITES: dict[str, dict[str, Write]] = {
    "tasks.add": {
        "known owner": Write(stored_user, lambda w, u: add(w, make_task(u)), owner_state),
        "first-seen owner": Write(first_seen_owner, lambda w, u: add(w, make_task(u)), owner_state),
    },
    "tasks.replace": {
        "same status": Write(stored_task, lambda w, t: w.tasks.replace(renamed(t), t), task_state),
        "completed": Write(stored_task, lambda w, t: w.tasks.replace(completed(t), t), task_state),
    },
    "tasks.remove": {
        "pending": Write(stored_task, lambda w, t: w.tasks.remove(t, t.user_id, NOW), task_state),
    },
    "trash.restore": {
        "in its list": Write(trashed_task, lambda w, t: w.trash.restore(t.id, [t]), task_state),
    },
    "trash.purge": {
        "an entry": Write(trashed_task, lambda w, t: w.trash.purge(t.id), task_state),
    },
    "trash.empty": {
        "the owner's": Write(
            trashed_task, lambda w, t: w.trash.empty(t.user_id, frozenset(Role)), task_state
        ),
    },
    "trash.purge_expired": {
        "an expired entry": Write(
            lambda uow: trashed_task(uow, NOW - timedelta(days=20_000)),
            lambda w, t: w.trash.purge_expired(NOW - timedelta(days=20_000), 1000),
            task_state,
        ),
    },
    "lists.add": {
        "known owner": Write(
            stored_user,
            lambda w, u: w.lists.add(a_list(u), as_owner(u)),
            lambda w, u: w.lists.all_for(u),
        ),
        "first-seen owner": Write(
            first_seen_owner,
            lambda w, u: w.lists.add(a_list(u), as_owner(u)),
            lambda w, u: w.lists.all_for(u),
        ),
    },
    "lists.ensure_default": {
        "first need": Write(
            first_seen_owner,
            lambda w, u: w.lists.ensure_default(TaskList.default_for(u, NOW), as_owner(u)),
            lambda w, u: w.lists.all_for(u),
        ),
    },
    "lists.replace": {
        "renamed": Write(
            stored_list, lambda w, t: w.lists.replace(t.renamed("Renamed", NOW), t), list_state
        ),
    },
    "lists.remove": {
        "with its task": Write(
            stored_list, lambda w, t: w.lists.remove(t, t.owner_id, NOW), list_state
        ),
    },
    "lists.add_member": {
        "new member": Write(
            list_and_user,
            lambda w, g: w.lists.add_member(
                Membership(list_id=g[0].id, user_id=g[1], role=Role.VIEWER, joined_at=NOW)
            ),
            membership_state,
        ),
    },
    "lists.set_role": {
        "to viewer": Write(
            list_and_member,
            lambda w, g: w.lists.set_role(g[0].id, g[1], Role.VIEWER),
            membership_state,
        ),
    },
    "lists.remove_member": {
        "an editor": Write(
            list_and_member,
            lambda w, g: w.lists.remove_member(g[0].id, g[1], NOW),
            membership_state,
        ),
    },
    "lists.add_invite": {
        "new invite": Write(stored_list, lambda w, t: w.lists.add_invite(an_invite(t)), list_state),
    },
    "lists.take_invite": {
        "open invite": Write(
            lambda uow: stored_invite(uow, NOW + timedelta(days=1)),
            lambda w, i: w.lists.take_invite(i.code_hash),
            invite_state,
        ),
    },
    "lists.purge_invites": {
        "expired invite": Write(
            stored_invite, lambda w, i: w.lists.purge_invites(NOW, 1000), invite_state
        ),
    },
    "users.ensure": {
        "new user": Write(
            unsaved_user,
            lambda w, u: w.users.ensure(u),
            lambda w, u: w.users.get(u.id),
        ),
    },
    "users.add_account": {
        "new account": Write(
            an_account,
            lambda w, a: w.users.add_account(*a),
            lambda w, a: w.users.account_by_email(a[1]),
        ),
    },
    "idempotency.claim": {
        "new key": Write(
            stored_user,
            lambda w, u: w.idempotency.claim(a_record(u, key="k"), NOW - timedelta(days=1)),
            lambda w, u: w.idempotency.get(u, "k"),
        ),
        "expired key": Write(
            lambda uow: stored_record(uow, NOW - timedelta(days=2)), claim_over, record_of
        ),
    },
    "idempotency.purge": {
        "expired record": Write(
            lambda uow: stored_record(uow, NOW - timedelta(days=3650)),
            lambda w, r: w.idempotency.purge(r.created_at, 1000),
            record_of,
        ),
    },
    "sessions.end": {
        "new session": Write(stored_user, lambda w, u: w.sessions.end(u, issued()), sessions_of),
    },
    "sessions.end_all": {
        "first cut-off": Write(stored_user, lambda w, u: w.sessions.end_all(u, NOW), sessions_of),
    },
    "users.set_password": {
        "local account": Write(
            an_account_stored,
            lambda w, a: w.users.set_password(a.user.id, "new-hash"),
            lambda w, a: w.users.password_hash(a.user.id),
        ),
    },
    "users.remove": {
        "user with a task": Write(
            stored_task,
            lambda w, t: w.users.remove(t.user_id, NOW),
            lambda w, t: owner_state(w, t.user_id),
        ),
    },
    "personal_tokens.add": {
        "new token": Write(
            stored_user,
            lambda w, u: w.personal_tokens.add(a_token(u), token_hash(f"tsk_{u}")),
            lambda w, u: w.personal_tokens.of_user(u),
        ),
    },
    "personal_tokens.remove": {
        "stored token": Write(
            stored_token,
            lambda w, t: w.personal_tokens.remove(t[0].user_id, t[0].id),
            lambda w, t: w.personal_tokens.find(t[1]),
        ),
    },
    "identities.add": {
        "new identity": Write(
            unsaved_user,
            lambda w, u: w.identities.add(
                ExternalIdentity(issuer="https://i.test", subject=u.id), u
            ),
            lambda w, u: w.identities.user_of("https://i.test", u.id),
        ),
    },
    "changes.purge": {
        "old delete": Write(
            an_old_delete,
            lambda w, _: w.changes.purge(NOW - HISTORY_KEPT, 1000),
            feed_state,
        ),
    },
    "sessions.purge": {
        "expired session": Write(
            user_with_an_ended_session,
            lambda w, _: w.sessions.purge(NOW + timedelta(hours=1), 1000),
            sessions_of,
        ),
    },
}
"""Every write method of every repository port, with at least one way to exercise it."""
READS: frozenset[str] = frozenset(
    {
        "tasks.get_visible",
        "tasks.page",
        "tasks.counts",
        "tasks.page_with_counts",
        "tasks.last_position",
        "tasks.position_after",
        "tasks.subtasks",
        "tasks.in_list",
        "trash.page",
        "trash.get_visible",
        "trash.family",
        "trash.of_owner",
        "lists.get",
        "lists.access",
        "lists.all_for",
        "lists.owned_count",
        "lists.members",
        "lists.member_count",
        "lists.invites",
        "lists.invite",
        "users.get",
        "users.account_by_email",
        "idempotency.get",
        "sessions.ended",
        "users.password_hash",
        "personal_tokens.of_user",
        "personal_tokens.find",
        "identities.user_of",
        "identities.of_user",
        "changes.page",
        "changes.horizon",
        "changes.stamps",
    }
)
"""The methods that change nothing."""


def port_methods() -> set[str]:
    """`repository.method` for each method of each repository the UnitOfWork port offers."""
    methods = set()
    for name, member in vars(UnitOfWork).items():
        if isinstance(member, property) and member.fget is not None:
            repository = typing.get_type_hints(member.fget)["return"]
            methods |= {
                f"{name}.{method}"
                for method, function in vars(repository).items()
                if not method.startswith("_") and inspect.iscoroutinefunction(function)
            }
    return methods


def test_every_repository_method_is_a_read_or_a_write_checked_below() -> None:
    # A method added to a port fails here until it is listed: a write with its check.
    assert port_methods() == READS | WRITES.keys()
    assert not READS & WRITES.keys()


@pytest.mark.parametrize(
    ("method", "case"),
    [pytest.param(m, c, id=f"{m}: {c}") for m, cases in WRITES.items() for c in cases],
)
async def test_a_write_changes_nothing_without_commit(
    uow: UnitOfWorkFactory, method: str, case: str
) -> None:
    write = WRITES[method][case]
    given = await write.arrange(uow)
    async with uow() as work:
        before = await write.observe(work, given)
    async with uow() as work:
        await write.act(work, given)
        assert await write.observe(work, given) != before, "the write shows in its own work"
    async with uow() as work:
        assert await write.observe(work, given) == before
    async with uow() as work:
        await write.act(work, given)
        await work.commit()
    async with uow() as work:
        assert await write.observe(work, given) != before


async def test_stamps_name_the_lists_in_scope_and_follow_their_changes(
    uow: UnitOfWorkFactory,
) -> None:
    task_list, member = await list_and_member(uow)
    stranger = await stored_user(uow)
    async with uow() as work:
        every = await work.changes.stamps(member)
        one = await work.changes.stamps(member, task_list.id)
        owners = await work.changes.stamps(task_list.owner_id)
        assert await work.changes.stamps(stranger, task_list.id) == []
        assert await work.changes.stamps(stranger) == []
        [task] = await work.tasks.in_list(task_list.id)
    assert [s[0] for s in every] == [s[0] for s in owners] == [task_list.id]
    assert one == every
    assert every != owners, "each member's own membership number"
    async with uow() as work:
        assert await work.tasks.replace(renamed(task), task)
        await work.commit()
    async with uow() as work:
        [(list_id, changed, joined)] = await work.changes.stamps(member)
    assert (list_id, joined) == (every[0][0], every[0][2])
    assert changed != every[0][1], "a task's write is a change of its list"
