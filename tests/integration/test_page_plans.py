"""PostgreSQL's plans of a page: scoped by membership first, one keyset index scan per list on
(list_id, sort column, id), at most a page of rows from each list, at any depth.

A user with 20 lists and 10,000 tasks, beside another user with 20,000 tasks, all analysed; the
statements are the very ones the repository prepares, explained with the arguments it sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import asyncpg
import orjson
import pytest
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from adapters.persistence.executors import Prepared
from adapters.persistence.repositories import STATEMENTS
from adapters.persistence.tables import NO_DUE, tasks
from adapters.persistence.tasks import COUNTS
from domain.queries import SortField, Status
from tests.integration.sql_backends import migrated_postgres

pytestmark = pytest.mark.postgres

ME: Final = "plans-me"
OTHER: Final = "plans-other"
MY_LISTS: Final = 20
MY_TASKS: Final = 10_000
OTHER_TASKS: Final = 20_000
LIMIT: Final = 51
"""A page of 50 and the one row more that tells whether another page exists."""
DEEP: Final = 9_000
"""How deep a deep page of all ME's lists starts; of one list (500 tasks): DEEP_IN_ONE."""
DEEP_IN_ONE: Final = 400
SORTED = [field for field in SortField if field not in (SortField.DUE, SortField.POSITION)]
_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]

_SEED: Final = (
    "INSERT INTO users (id, created_at) VALUES ('plans-me', now()), ('plans-other', now())",
    # Others with lists of their own, so that memberships and lists are tables worth an index.
    "INSERT INTO users (id, created_at) SELECT 'plans-' || n, now() "
    "FROM generate_series(1, 5000) n",
    "INSERT INTO lists (owner_id, name, is_default, version, created_at, updated_at) "
    "SELECT 'plans-' || n, 'Inbox', true, 1, now(), now() FROM generate_series(1, 5000) n",
    "INSERT INTO lists (owner_id, name, is_default, version, created_at, updated_at) "
    "SELECT 'plans-me', 'list ' || n, n = 1, 1, now(), now() FROM generate_series(1, 20) n",
    "CREATE TEMPORARY TABLE mine AS SELECT id FROM lists WHERE owner_id = 'plans-me'",
    "INSERT INTO lists (owner_id, name, is_default, version, created_at, updated_at) "
    "VALUES ('plans-other', 'big', true, 1, now(), now())",
    "INSERT INTO memberships (list_id, user_id, role, joined_at) "
    "SELECT id, owner_id, 'owner', now() FROM lists",
    # Tasks spread over the lists, with sort values that interleave across them.
    "INSERT INTO tasks (user_id, list_id, title, completed, completed_at, priority, due_at, "
    "tags, version, created_at, updated_at, position, created_by, search_text) "
    "SELECT lists.owner_id, lists.id, md5(n::text), n % 3 = 0, "
    "CASE WHEN n % 3 = 0 THEN now() END, n % 4, "
    "CASE WHEN n % 2 = 0 THEN now() + n * interval '1 hour' END, '[]', 1, "
    "now() - n * interval '1 minute', now() - (n * 7 % 1000) * interval '1 minute', "
    "'a' || lpad(n::text, 6, '0'), lists.owner_id, md5(n::text) "
    "FROM generate_series(1, 30000) n JOIN lists ON lists.id = CASE WHEN n <= 10000 "
    "THEN (SELECT min(id) FROM mine) + n % 20 ELSE (SELECT max(id) FROM lists) END",
    "UPDATE lists SET pending = (SELECT count(*) FROM tasks WHERE list_id = lists.id "
    "AND NOT completed), completed = (SELECT count(*) FROM tasks WHERE list_id = lists.id "
    "AND completed)",
    # As autovacuum leaves a table that is read more than written: its pages all-visible.
    "VACUUM ANALYZE",
)


@pytest.fixture(scope="module")
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """A connection to a migrated, seeded and analysed database."""
    async with migrated_postgres() as url:
        conn = await asyncpg.connect(url)
        try:
            for statement in _SEED:
                await conn.execute(statement)
            mine = "SELECT count(*) FROM tasks WHERE user_id = $1"
            assert await conn.fetchval(mine, ME) == MY_TASKS
            assert await conn.fetchval(mine, OTHER) == OTHER_TASKS
            yield conn
        finally:
            await conn.close()


async def my_lists(conn: asyncpg.Connection) -> list[int]:
    """The ids of ME's lists."""
    rows = await conn.fetch("SELECT id FROM lists WHERE owner_id = $1 ORDER BY id", ME)
    return [row["id"] for row in rows]


async def plan(
    conn: asyncpg.Connection, statement: Prepared, params: dict[str, Any]
) -> dict[str, Any]:
    """The executed plan of the statement with the arguments the repository would send."""
    compiled = statement.compiled(_DIALECT)
    raw = await conn.fetchval(
        f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled.sql}", *compiled.arguments(params)
    )
    found: dict[str, Any] = orjson.loads(raw)[0]["Plan"]
    return found


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan."""
    yield node
    for child in node.get("Plans", ()):
        yield from nodes(child)


def task_scans(root: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's scans of the tasks table."""
    return [n for n in nodes(root) if n.get("Relation Name") == "tasks"]


async def cursor_at(
    conn: asyncpg.Connection, column: str, descending: bool, depth: int, list_id: int | None
) -> tuple[Any, int]:
    """The (sort value, id) of ME's task `depth` rows into the order."""
    direction = "DESC" if descending else "ASC"
    scope = "list_id = $2" if list_id is not None else "user_id = $2"
    # The column is a SortField's value, not input.
    row = await conn.fetchrow(
        f"SELECT {column}, id FROM tasks WHERE {scope} "  # noqa: S608
        f"ORDER BY {column} {direction}, id {direction} OFFSET $1 LIMIT 1",
        depth,
        list_id if list_id is not None else ME,
    )
    assert row is not None
    return row[0], row[1]


# Manual order is one list's order only (the use cases refuse it for all lists).
SCOPES = [
    pytest.param(field, one_list, id=f"{field.value}-{'one list' if one_list else 'all lists'}")
    for field in (*SORTED, SortField.POSITION)
    for one_list in (False, True)
    if one_list or field is not SortField.POSITION
]


@pytest.mark.parametrize("status", [Status.ALL, Status.PENDING], ids=lambda s: s.value)
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "deep page"])
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize(("field", "one_list"), SCOPES)
async def test_a_page_scans_each_list_by_its_index_and_reads_a_page_of_each(
    connection: asyncpg.Connection,
    field: SortField,
    descending: bool,
    deep: bool,
    one_list: bool,
    status: Status,
) -> None:
    lists = await my_lists(connection)
    list_id = lists[3] if one_list else None
    shape = (field, descending, status, deep, True, one_list, "any")
    params: dict[str, Any] = {
        "user_id": ME,
        "list_id": list_id,
        "parent_id": None,
        "limit": LIMIT,
    }
    if deep:
        depth = DEEP_IN_ONE if one_list else DEEP
        params["after_value"], params["after_id"] = await cursor_at(
            connection, field.value, descending, depth, list_id
        )
    root = await plan(connection, STATEMENTS["postgresql"].pages.simple(shape), params)

    keyed = _read_by(root, f"ix_tasks_list_id_{field.value}_id", descending)
    # At most a page of keys from each list in scope: never all the user's tasks, at any depth.
    assert keyed <= (1 if one_list else MY_LISTS) * LIMIT
    assert root["Actual Rows"] == LIMIT


@pytest.mark.parametrize("one_list", [False, True], ids=["all lists", "one list"])
@pytest.mark.parametrize("stream", ["due_at", "due_date", "id_no_due"])
async def test_the_due_sort_reads_each_stream_by_its_index(
    connection: asyncpg.Connection, stream: str, one_list: bool
) -> None:
    # The due sort's three streams (tasks.SqlTaskRepository._page_by_due), built per call.
    lists = await my_lists(connection)
    column = {"due_at": tasks.c.due_at, "due_date": tasks.c.due_date}.get(stream)
    condition = NO_DUE if column is None else column.is_not(None)
    page = STATEMENTS["postgresql"].pages.rows(
        one_list=one_list, conditions=[condition], column=column, descending=False
    )
    params = {"user_id": ME, "list_id": lists[3] if one_list else None, "limit": LIMIT}
    root = await plan(connection, Prepared(page), params)
    keyed = _read_by(root, f"ix_tasks_list_id_{stream}{'' if column is None else '_id'}", False)
    assert keyed <= (1 if one_list else MY_LISTS) * LIMIT


def _read_by(root: dict[str, Any], index: str, descending: bool) -> int:
    """How many keys the plan reads by `index`, after checking that it reads nothing whole:
    scoped by membership first, by index; each list's keys by `index`, in the order's
    direction; of the rows themselves only the page's, by primary key; the counts from the
    lists' counters."""
    assert [n["Relation Name"] for n in nodes(root) if n["Node Type"] == "Seq Scan"] == []
    scans = task_scans(root)
    keyed = [scan for scan in scans if scan.get("Index Name") == index]
    fetched = [scan for scan in scans if scan.get("Index Name") == "pk_tasks"]
    assert keyed, f"no scan of {index}"
    assert len(keyed) + len(fetched) == len(scans), [s.get("Index Name") for s in scans]
    for scan in keyed:
        assert scan["Node Type"] == "Index Only Scan", scan["Node Type"]
        assert scan["Scan Direction"] == ("Backward" if descending else "Forward")
        assert scan.get("Heap Fetches", 0) == 0
    assert sum(scan["Actual Rows"] * scan["Actual Loops"] for scan in fetched) <= LIMIT
    assert not [n for n in nodes(root) if n["Node Type"] == "Aggregate" and task_scans(n)]
    return sum(scan["Actual Rows"] * scan["Actual Loops"] for scan in keyed)


async def test_counts_read_one_row_per_list_and_no_task(connection: asyncpg.Connection) -> None:
    for one_list, list_id in ((False, None), (True, (await my_lists(connection))[0])):
        root = await plan(connection, COUNTS[one_list], {"user_id": ME, "list_id": list_id})
        assert task_scans(root) == []
