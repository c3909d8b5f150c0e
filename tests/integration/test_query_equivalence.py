"""Generated tasks and generated queries: memory, SQLite and PostgreSQL list the same pages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from adapters.memory import MemoryStore
from adapters.persistence import SqlUnitOfWorkFactory
from domain.lists import TaskList
from domain.placement import spaced_keys
from domain.queries import LIMIT_MAX, Due, Sort, SortField, Status, TaskFilter, TaskQuery, day_start
from domain.tasks import Priority, Task, parse_changes
from domain.types import TaskId, UserId
from domain.users import Caller, Principal, User
from taskservice.ports import UnitOfWorkFactory
from taskservice.services import TaskUseCases
from tests.clock import FakeClock
from tests.integration.sql_backends import database_for, migrated_postgres, migrated_sqlite
from tests.sealing import CURSORS

pytestmark = pytest.mark.postgres

NOW = datetime(2030, 3, 10, 6, 30, tzinfo=UTC)
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Pacific/Kiritimati"]
# Mixed case, letters whose case folding changes length or context (ß, İ, Σ/ς), LIKE's wildcards
# and escape character, and a character outside the BMP.
ALPHABET = "aAbBzZéÉßẞσΣςİı %_/\\😀"
TAGS = ["work", "home", "äpfel", "x y"]

Backends = dict[str, UnitOfWorkFactory]


@pytest.fixture(scope="module")
async def backends(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backends]:
    """One store of each kind, created once for the module."""
    sqlite_url = await migrated_sqlite(tmp_path_factory.mktemp("equivalence"))
    async with (
        migrated_postgres() as postgres_url,
        database_for(sqlite_url) as sqlite_database,
        database_for(postgres_url) as postgres_database,
    ):
        yield {
            "memory": MemoryStore(),
            "sqlite": SqlUnitOfWorkFactory(sqlite_database),
            "postgres": SqlUnitOfWorkFactory(postgres_database),
        }


def _text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(ALPHABET), min_size=min_size, max_size=max_size)


@st.composite
def _due(draw: st.DrawFn) -> dict[str, str]:
    kind = draw(st.sampled_from(["none", "date", "moment", "day-edge"]))
    if kind == "none":
        return {}
    # A few days around now, so that due values share days and day starts.
    day = NOW.date() + timedelta(days=draw(st.integers(-2, 2)))
    if kind == "date":
        return {"due_date": day.isoformat()}
    if kind == "moment":
        moment = NOW + timedelta(hours=draw(st.integers(-48, 48)))
    else:
        # Exactly at, or a microsecond around, the start of a day in one of the zones.
        start = day_start(day, ZoneInfo(draw(st.sampled_from(ZONES))))
        moment = start + timedelta(microseconds=draw(st.sampled_from([-1, 0, 1])))
    return {"due_at": moment.isoformat()}


@st.composite
def _fields(draw: st.DrawFn) -> dict[str, Any]:
    title = draw(_text(1, 8).filter(lambda t: t.strip()))
    return {
        "title": title,
        "description": draw(st.none() | _text(0, 10)),
        "priority": draw(st.sampled_from([p.value for p in Priority])),
        "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
        "completed": draw(st.booleans()),
        **draw(_due()),
    }


@st.composite
def _tasks(draw: st.DrawFn) -> list[Task]:
    owner = UserId("placeholder")
    moments = [NOW - timedelta(days=1), NOW - timedelta(days=1, microseconds=1), NOW]
    tasks = []
    every = draw(st.lists(_fields(), min_size=2, max_size=14))
    # Manual order independent of the insertion order, with a few ties broken by id.
    keys = spaced_keys(len(every))
    for fields in every:
        created = draw(st.sampled_from(moments))
        task = Task.create(user_id=owner, changes=parse_changes(fields, "create"), now=created)
        position = draw(st.sampled_from(keys))
        tasks.append(
            attrs.evolve(task, updated_at=draw(st.sampled_from(moments)), position=position)
        )
    return tasks


def _sometimes(draw: st.DrawFn, strategy: st.SearchStrategy[Any], default: Any) -> Any:
    # Each filter is off most of the time, so that combined filters still leave tasks to page.
    return draw(strategy) if draw(st.integers(0, 3)) == 0 else default


@st.composite
def _search(draw: st.DrawFn, tasks: list[Task]) -> str:
    """Text to search for: usually a piece of some task's text with its case changed."""
    texts = [t for task in tasks for t in (task.title, task.description) if t]
    if not texts or draw(st.booleans()):
        return draw(_text(1, 3))
    source = draw(st.sampled_from(texts))
    start = draw(st.integers(0, len(source) - 1))
    piece = source[start : start + draw(st.integers(1, 3))]
    return draw(st.sampled_from([piece, piece.upper(), piece.lower(), piece.swapcase()]))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[list[Task], TaskQuery]:
    tasks = draw(_tasks())
    task_filter = TaskFilter(
        status=_sometimes(draw, st.sampled_from(Status), Status.ALL),
        text=_sometimes(draw, _search(tasks), None),
        priorities=_sometimes(draw, st.lists(st.sampled_from(Priority), max_size=2), ()),
        tags=_sometimes(draw, st.lists(st.sampled_from([*TAGS, "missing"]), max_size=2), ()),
        due=_sometimes(draw, st.sampled_from(Due), None),
    )
    query = TaskQuery(
        filter=task_filter,
        # The due sort, the one that merges keyset streams, is drawn half of the time.
        sort=Sort(
            field=draw(st.sampled_from([SortField.DUE] * 4 + list(SortField))),
            descending=draw(st.booleans()),
        ),
        tz=ZoneInfo(draw(st.sampled_from(ZONES))),
        limit=draw(st.integers(1, 4)),
    )
    return tasks, query


async def _listed(uow: UnitOfWorkFactory, owner: UserId, query: TaskQuery) -> list[TaskId]:
    tasks = TaskUseCases(uow=uow, clock=FakeClock(NOW), cursors=CURSORS)
    caller = Caller.of(Principal(user_id=owner))
    seen: list[TaskId] = []
    cursor = None
    while True:
        page = await tasks.list_page(caller, query, cursor)
        seen += [t.id for t in page.tasks]
        assert len(seen) <= LIMIT_MAX, "paging does not end"
        if (cursor := page.next_cursor) is None:
            return seen


async def _run(uow: UnitOfWorkFactory, tasks: list[Task], query: TaskQuery) -> list[int]:
    """The positions in `tasks` of the listed tasks, in listed order; the data is removed after.

    The tasks go to the owner's default list; the manual order is asked of that list (it is
    one list's order only), every other order of all the owner's lists.
    """
    owner = UserId(f"eq-{uuid.uuid4().hex[:12]}")
    async with uow() as work:
        user = User(id=owner, created_at=NOW)
        inbox = await work.lists.ensure_default(TaskList.default_for(owner, NOW), user)
        placed = [attrs.evolve(t, user_id=owner, list_id=inbox.id) for t in tasks]
        stored = [await work.tasks.add(task, user) for task in placed]
        await work.commit()
    if query.sort.field is SortField.POSITION:
        query = attrs.evolve(query, list_id=inbox.id)
    try:
        index = {task.id: n for n, task in enumerate(stored)}
        return [index[task_id] for task_id in await _listed(uow, owner, query)]
    finally:
        async with uow() as work:
            for task in stored:
                await work.tasks.remove(task, task.user_id, NOW)
            await work.commit()


def _expected(tasks: list[Task], query: TaskQuery) -> list[int]:
    # Ids are given in insertion order by every backend, so positions stand in for them.
    numbered = [attrs.evolve(t, id=TaskId(n + 1)) for n, t in enumerate(tasks)]
    chosen = [t for t in numbered if attrs.evolve(query, now=NOW).matches(t)]
    ordered = sorted(chosen, key=query.order_key, reverse=query.sort.descending)
    return [t.id - 1 for t in ordered]


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    # Shrinking replays against three databases and can take minutes; a failure prints the
    # example as generated, which is small enough to read.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@seed(1)
@given(case=_cases())
async def test_every_backend_lists_the_same_ids_in_the_same_order(
    backends: Backends, case: tuple[list[Task], TaskQuery]
) -> None:
    tasks, query = case
    want = _expected(tasks, query)
    for name, uow in backends.items():
        assert await _run(uow, tasks, query) == want, name


def test_the_alphabet_covers_what_the_search_must_get_right() -> None:
    # Guards the generator itself: these are the characters the backends could disagree on.
    folded = {c: c.casefold() for c in ALPHABET}
    assert folded["ẞ"] == folded["ß"] == "ss"
    assert folded["Σ"] == folded["ς"] == "σ"
    assert len(folded["İ"]) == 2
