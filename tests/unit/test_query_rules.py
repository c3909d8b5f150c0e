"""The list query's rules on the in-memory adapter: due windows in a zone, and the due sort."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from adapters.memory import MemoryStore
from domain.queries import (
    Due,
    Sort,
    SortField,
    TaskFilter,
    TaskQuery,
    day_start,
    latest_day_started_by,
    time_zones,
)
from domain.tasks import parse_changes
from domain.types import TaskId, UserId
from domain.users import Caller, Principal
from taskservice.services import TaskUseCases
from tests.clock import FakeClock
from tests.sealing import CURSORS

ALICE = Principal(user_id=UserId("alice"))
AS_ALICE = Caller.of(ALICE)
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


async def add(store: MemoryStore, clock: FakeClock, **fields: object) -> TaskId:
    """Create a task for Alice through the use case."""
    changes = parse_changes({"title": "t", **fields}, "create")
    task = await TaskUseCases(uow=store, clock=clock, cursors=CURSORS).create(AS_ALICE, changes)
    return task.id


async def listed(
    store: MemoryStore, clock: FakeClock, query: TaskQuery, *, page_size: int = 100
) -> list[TaskId]:
    """Every id the use case lists for `query`, page by page."""
    seen: list[TaskId] = []
    cursor = None
    while True:
        page = await TaskUseCases(uow=store, clock=clock, cursors=CURSORS).list_page(
            AS_ALICE,
            TaskQuery(filter=query.filter, sort=query.sort, tz=query.tz, limit=page_size),
            cursor,
        )
        seen += [t.id for t in page.tasks]
        if (cursor := page.next_cursor) is None:
            return seen


def due(kind: Due, tz: ZoneInfo) -> TaskQuery:
    """A query for one due window in `tz`."""
    sort = Sort(field=SortField.DUE, descending=False)
    return TaskQuery(filter=TaskFilter(due=kind), tz=tz, sort=sort)


async def test_today_on_the_23_hour_day_when_new_york_springs_forward() -> None:
    # 2030-03-10 runs from 05:00Z (EST) to 04:00Z the next day (EDT).
    store, clock = MemoryStore(), FakeClock(datetime(2030, 3, 10, 12, tzinfo=UTC))
    before = await add(store, clock, due_at="2030-03-10T04:59:59Z")
    first = await add(store, clock, due_at="2030-03-10T05:00:00Z")
    last = await add(store, clock, due_at="2030-03-11T03:59:59Z")
    after = await add(store, clock, due_at="2030-03-11T04:00:00Z")
    all_day = await add(store, clock, due_date="2030-03-10")

    # The all-day task sorts at 05:00Z too; the smaller id breaks the tie.
    assert await listed(store, clock, due(Due.TODAY, NEW_YORK)) == [first, all_day, last]
    assert before not in await listed(store, clock, due(Due.TODAY, NEW_YORK))
    assert after in await listed(store, clock, due(Due.NEXT_7_DAYS, NEW_YORK))


async def test_today_on_the_25_hour_day_when_berlin_falls_back() -> None:
    # 2030-10-27 runs from 22:00Z the day before (CEST) to 23:00Z (CET).
    store, clock = MemoryStore(), FakeClock(datetime(2030, 10, 27, 12, tzinfo=UTC))
    await add(store, clock, due_at="2030-10-26T21:59:59Z")
    first = await add(store, clock, due_at="2030-10-26T22:00:00Z")
    last = await add(store, clock, due_at="2030-10-27T22:59:59Z")
    await add(store, clock, due_at="2030-10-27T23:00:00Z")

    assert await listed(store, clock, due(Due.TODAY, BERLIN)) == [first, last]
    assert day_start(date(2030, 10, 28), BERLIN) - day_start(date(2030, 10, 27), BERLIN) == (
        datetime(2030, 10, 28, tzinfo=UTC) - datetime(2030, 10, 26, 23, tzinfo=UTC)
    )


async def test_days_are_the_callers_calendar_days() -> None:
    # At 12:00Z it is already 2 January on Kiritimati (UTC+14) but still 1 January in UTC.
    store, clock = MemoryStore(), FakeClock(datetime(2030, 1, 1, 12, tzinfo=UTC))
    yesterday_there = await add(store, clock, due_date="2030-01-01")
    tomorrow_here = await add(store, clock, due_date="2030-01-02")
    kiritimati = ZoneInfo("Pacific/Kiritimati")

    assert await listed(store, clock, due(Due.OVERDUE, kiritimati)) == [yesterday_there]
    assert await listed(store, clock, due(Due.OVERDUE, ZoneInfo("UTC"))) == []
    assert await listed(store, clock, due(Due.TODAY, kiritimati)) == [tomorrow_here]
    assert await listed(store, clock, due(Due.TODAY, ZoneInfo("UTC"))) == [yesterday_there]


async def test_overdue_means_pending_and_past_and_next_7_days_means_today_plus_six() -> None:
    store, clock = MemoryStore(), FakeClock(datetime(2030, 1, 10, 12, tzinfo=UTC))
    past_moment = await add(store, clock, due_at="2030-01-10T11:59:59Z")
    await add(store, clock, due_at="2030-01-10T12:00:00Z")
    past_day = await add(store, clock, due_date="2030-01-09")
    await add(store, clock, due_date="2030-01-09", completed=True)
    last_of_week = await add(store, clock, due_date="2030-01-16")
    await add(store, clock, due_date="2030-01-17")
    none = await add(store, clock)
    utc = ZoneInfo("UTC")

    overdue = await listed(store, clock, due(Due.OVERDUE, utc))
    week = await listed(store, clock, due(Due.NEXT_7_DAYS, utc))
    assert sorted(overdue) == sorted([past_moment, past_day])
    assert last_of_week in week
    assert past_day not in week
    assert await listed(store, clock, due(Due.NONE, utc)) == [none]
    assert none not in await listed(store, clock, due(Due.ANY, utc))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("page_size", [1, 2, 100])
async def test_the_due_sort_puts_tasks_without_a_due_last_both_ways(
    descending: bool, page_size: int
) -> None:
    store, clock = MemoryStore(), FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    none_a = await add(store, clock)
    early = await add(store, clock, due_at="2030-01-02T04:00:00Z")
    all_day = await add(store, clock, due_date="2030-01-02")  # 05:00Z in New York
    none_b = await add(store, clock)
    late = await add(store, clock, due_at="2030-01-02T06:00:00Z")
    tie = await add(store, clock, due_at="2030-01-02T05:00:00Z")
    sort = Sort(field=SortField.DUE, descending=descending)

    ids = await listed(store, clock, TaskQuery(sort=sort, tz=NEW_YORK), page_size=page_size)

    dated = [early, all_day, tie, late]
    undated = [none_a, none_b]
    if descending:
        assert ids == [*reversed(dated), *reversed(undated)]
    else:
        assert ids == [*dated, *undated]


async def test_an_all_day_date_sorts_at_the_start_of_its_day_in_the_zone() -> None:
    store, clock = MemoryStore(), FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    timed = await add(store, clock, due_at="2030-01-02T04:00:00Z")
    all_day = await add(store, clock, due_date="2030-01-02")
    query = TaskQuery(sort=Sort(field=SortField.DUE, descending=False))

    assert await listed(store, clock, query) == [all_day, timed]
    assert await listed(store, clock, TaskQuery(sort=query.sort, tz=NEW_YORK)) == [timed, all_day]


def test_latest_day_started_by_finds_the_local_day() -> None:
    assert latest_day_started_by(datetime(2030, 1, 2, 4, 59, tzinfo=UTC), NEW_YORK) == date(
        2030, 1, 1
    )
    assert latest_day_started_by(datetime(2030, 1, 2, 5, tzinfo=UTC), NEW_YORK) == date(2030, 1, 2)
    assert latest_day_started_by(datetime.min.replace(tzinfo=UTC), NEW_YORK) is None


def test_the_zone_names_are_iana_names_and_nothing_else() -> None:
    zones = time_zones()
    assert {"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"} <= zones
    assert not {"localtime", "", "Mars/Olympus_Mons", "../etc/passwd"} & zones
