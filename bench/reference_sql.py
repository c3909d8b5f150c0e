"""The reference app's SQL: the very statements the service's adapter prepares, written out.

The reference imports nothing of the service, so these are copies, character for character, of
what SQLAlchemy compiles for asyncpg (tests/unit/test_reference_sql.py checks every one): the
membership-scoped page (the user's lists, then a LATERAL keyset scan of keys per list, merged,
then the chosen rows), the
counts summed from the lists' counters, a task with the caller's role, a list with it, the
default list, the last position, and the writes that keep the counters.
"""

from __future__ import annotations

from typing import Final

NAMES: Final = (
    "id",
    "user_id",
    "title",
    "created_at",
    "updated_at",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_date",
    "due_at",
    "tags",
    "version",
    "list_id",
    "parent_id",
    "position",
    "created_by",
)
"""What the service reads of a task, in its order (tests/unit/test_field_copies.py checks)."""
COLUMNS: Final = ", ".join(f"tasks.{name}" for name in NAMES)
_TIMESTAMP: Final = "TIMESTAMP WITH TIME ZONE"
WRITTEN: Final[tuple[tuple[str, str], ...]] = (
    ("title", "VARCHAR"),
    ("created_at", _TIMESTAMP),
    ("updated_at", _TIMESTAMP),
    ("description", "VARCHAR"),
    ("completed", "BOOLEAN"),
    ("completed_at", _TIMESTAMP),
    ("priority", "SMALLINT"),
    ("due_date", "DATE"),
    ("due_at", _TIMESTAMP),
    ("tags", "JSONB"),
    ("version", "INTEGER"),
    ("list_id", "BIGINT"),
    ("parent_id", "BIGINT"),
    ("position", "VARCHAR"),
    ("created_by", "VARCHAR"),
)
"""What the service writes on insert, in its order, with the casts it compiles to."""
SEARCH_TEXT: Final = ("search_text", "VARCHAR")
NUMBER: Final = "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)"
"""The change number of a write (the service's feed): its transaction's id."""
TABLE_ORDER: Final = (
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_date",
    "due_at",
    "tags",
    "version",
    "created_at",
    "updated_at",
    "list_id",
    "parent_id",
    "position",
    "created_by",
    "search_text",
)
"""The written columns in the table's order, as an UPDATE sets them."""


def _scope(one_list: bool) -> str:
    narrowed = " AND memberships.list_id = $2::BIGINT" if one_list else ""
    return (
        "WITH scope AS \n(SELECT memberships.list_id AS list_id, lists.pending AS list_pending, "
        "lists.completed AS list_completed \nFROM memberships JOIN lists ON lists.id = "
        f"memberships.list_id \nWHERE memberships.user_id = $1::VARCHAR{narrowed})\n "
    )


_SUMS: Final = (
    "(SELECT coalesce(sum(scope.list_pending), 0) AS coalesce_1 \nFROM scope) AS anon_1, "
    "(SELECT coalesce(sum(scope.list_completed), 0) AS coalesce_2 \nFROM scope) AS anon_2"
)


def page_sql(*, one_list: bool, after: bool) -> str:
    """A page newest first with the counts in every row: of every list of the user ($1), or of
    list $2; after ($n, $n+1) = (created_at, id) when `after`; LIMIT the last parameter. The
    keys of each list first (an index-only scan per list), then the chosen rows."""
    n = 3 if one_list else 2
    keyset = ""
    if after:
        keyset = f" AND (tasks.created_at, tasks.id) < (${n}::{_TIMESTAMP}, ${n + 1}::BIGINT)"
        n += 2
    return (
        f"{_scope(one_list)}SELECT {COLUMNS}, {_SUMS} \nFROM (SELECT keyed.id AS id \nFROM scope "
        "JOIN LATERAL (SELECT tasks.created_at AS created_at, tasks.id AS id \nFROM tasks \n"
        f"WHERE tasks.list_id = scope.list_id{keyset} ORDER BY tasks.created_at DESC, tasks.id "
        f"DESC \n LIMIT ${n}::INTEGER) AS keyed ON true ORDER BY keyed.created_at DESC, "
        f"keyed.id DESC \n LIMIT ${n}::INTEGER) AS chosen JOIN tasks ON tasks.id = chosen.id "
        "ORDER BY tasks.created_at DESC, tasks.id DESC"
    )


def counts_sql(*, one_list: bool) -> str:
    """The counts of every list of user $1, or of list $2 (for an empty page only)."""
    return f"{_scope(one_list)}SELECT {_SUMS}"


GET_VISIBLE: Final = (
    f"SELECT {COLUMNS}, memberships.role \nFROM tasks JOIN memberships ON memberships.list_id = "
    "tasks.list_id AND memberships.user_id = $1::VARCHAR \nWHERE tasks.id = $2::BIGINT"
)
"""Task $2 and user $1's role in its list: none for a non-member."""
_LIST_COLUMNS: Final = (
    "lists.id, lists.owner_id, lists.name, lists.is_default, lists.version, lists.created_at, "
    "lists.updated_at"
)
ACCESS: Final = (
    f"SELECT {_LIST_COLUMNS}, memberships.role \nFROM lists JOIN memberships ON "
    "memberships.list_id = lists.id AND memberships.user_id = $1::VARCHAR \n"
    "WHERE lists.id = $2::BIGINT"
)
"""List $2 and user $1's role in it."""
DEFAULT_LIST: Final = (
    f"SELECT {_LIST_COLUMNS} \nFROM lists \nWHERE lists.owner_id = $1::VARCHAR "
    "AND lists.is_default IS true"
)
LAST_POSITION: Final = (
    "SELECT tasks.position \nFROM tasks \nWHERE tasks.list_id = $1::BIGINT AND "
    "tasks.parent_id IS NULL ORDER BY tasks.position DESC \n LIMIT 1"
)
"""The greatest position among the top-level tasks of list $1."""


def insert_sql() -> str:
    """A new task counted in its list, its creator provisioned if first seen: $1-$4 the creator
    (id, email, name, created_at), $5-$6 the counters' deltas, $7 the list, $8 the owner, then
    the written columns but the list, then the search text."""
    values, n = [], 9
    for name, kind in (*WRITTEN, SEARCH_TEXT):
        if name == "list_id":
            values.append("$7::BIGINT")
            continue
        values.append(f"${n}::{kind}")
        n += 1
    selected = ", ".join(
        f"{value} AS anon_{i}" for i, value in enumerate(["$8::VARCHAR", *values], 1)
    )
    selected += f", {NUMBER} AS pg_current_xact_id_1"
    names = ", ".join(name for name, _ in (*WRITTEN, SEARCH_TEXT)) + ", changed"
    return (
        "WITH creator AS \n(INSERT INTO users (id, email, name, created_at) VALUES ($1::VARCHAR, "
        f"$2::VARCHAR, $3::VARCHAR, $4::{_TIMESTAMP}) ON CONFLICT (id) DO NOTHING), \n"
        "counted AS \n(UPDATE lists SET pending=(lists.pending + $5::INTEGER), "
        f"completed=(lists.completed + $6::INTEGER), changed={NUMBER} WHERE lists.id = $7::BIGINT "
        "RETURNING "
        f"lists.id)\n INSERT INTO tasks (user_id, {names}) SELECT {selected} \nFROM counted "
        "RETURNING tasks.id"
    )


def update_sql() -> str:
    """A task's every column at version $n+1 (id $n), numbered, and in the same statement its
    list's counters move and its list is numbered: $1-$6 (from list, from pending, to list, to
    pending, from completed, to completed; both lists one, and the deltas 0 when the completion
    stays)."""
    first = 7
    kinds = dict((*WRITTEN, SEARCH_TEXT))
    sets = [f"user_id=${first}::VARCHAR"] + [
        f"{name}=${i}::{kinds[name]}" for i, name in enumerate(TABLE_ORDER, first + 1)
    ]
    sets.append(f"changed={NUMBER}")
    n = first + 1 + len(TABLE_ORDER)
    update = (
        f"UPDATE tasks SET {', '.join(sets)} WHERE tasks.id = ${n}::BIGINT AND "
        f"tasks.version = ${n + 1}::INTEGER RETURNING tasks.id"
    )
    moved = {
        counter: (
            f"(lists.{counter} + CASE WHEN (lists.id = $1::BIGINT) THEN ${a}::INTEGER ELSE 0 END"
            f" + CASE WHEN (lists.id = $3::BIGINT) THEN ${b}::INTEGER ELSE 0 END)"
        )
        for counter, a, b in (("pending", 2, 4), ("completed", 5, 6))
    }
    return (
        f"WITH changed AS \n({update})\n UPDATE lists SET pending={moved['pending']}, "
        f"completed={moved['completed']}, changed={NUMBER} WHERE lists.id IN ($1::BIGINT, "
        "$3::BIGINT) AND (EXISTS (SELECT changed.id \nFROM changed)) RETURNING lists.id"
    )


FEED: Final = (
    "WITH mine AS \n"
    "(SELECT memberships.list_id AS list_id, memberships.changed AS joined \n"
    "FROM memberships \n"
    "WHERE memberships.user_id = $1::VARCHAR), \n"
    "page AS \n"
    "(SELECT entries.key AS key, entries.kind AS kind, entries.id AS id, entries.op"
    " AS op \n"
    "FROM (SELECT greatest(lists.changed, mine.joined) AS key, 'list' AS kind,"
    " lists.id AS id, 'upsert' AS op \n"
    "FROM lists JOIN mine ON lists.id = mine.list_id UNION ALL SELECT"
    " greatest(tasks.changed, mine.joined) AS key, 'task' AS kind, tasks.id AS id,"
    " 'upsert' AS op \n"
    "FROM tasks JOIN mine ON tasks.list_id = mine.list_id \n"
    "WHERE mine.joined >= $2::BIGINT UNION ALL SELECT greatest(tasks.changed,"
    " mine.joined) AS key, 'task' AS kind, tasks.id AS id, 'upsert' AS op \n"
    "FROM tasks JOIN mine ON tasks.list_id = mine.list_id \n"
    "WHERE mine.joined < $2::BIGINT AND tasks.changed >= $2::BIGINT UNION ALL SELECT"
    " tombstones.changed AS key, 'task' AS kind, tombstones.entity_id AS id,"
    " 'delete' AS op \n"
    "FROM tombstones JOIN mine ON tombstones.list_id = mine.list_id \n"
    "WHERE tombstones.kind = 'task' AND tombstones.changed > mine.joined AND"
    " tombstones.changed >= $2::BIGINT UNION ALL SELECT tombstones.changed AS key,"
    " 'list' AS kind, tombstones.entity_id AS id, 'delete' AS op \n"
    "FROM tombstones \n"
    "WHERE tombstones.user_id = $1::VARCHAR AND tombstones.kind = 'list' AND"
    " tombstones.changed >= $2::BIGINT) AS entries \n"
    "WHERE (entries.key, entries.kind, entries.id, entries.op) > ($2::BIGINT,"
    " $3::VARCHAR, $4::BIGINT, $5::VARCHAR) AND entries.key < (SELECT"
    " coalesce(min(CAST(CAST(running AS TEXT) AS BIGINT)),"
    " CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT) AS BIGINT)) AS"
    " coalesce_1 \n"
    "FROM pg_snapshot_xip(pg_current_snapshot()) AS running \n"
    "WHERE NOT (EXISTS (SELECT 1 \n"
    "FROM pg_stat_activity \n"
    "WHERE pg_stat_activity.backend_xid = xid(running) AND pg_stat_activity.datname"
    " != current_database()))) ORDER BY entries.key, entries.kind, entries.id,"
    " entries.op \n"
    " LIMIT $6::INTEGER)\n"
    " SELECT page.key, page.kind, page.id, page.op, tasks.id AS id_1, tasks.user_id,"
    " tasks.title, tasks.created_at, tasks.updated_at, tasks.description,"
    " tasks.completed, tasks.completed_at, tasks.priority, tasks.due_date,"
    " tasks.due_at, tasks.tags, tasks.version, tasks.list_id, tasks.parent_id,"
    " tasks.position, tasks.created_by, lists.id AS id_2, lists.owner_id,"
    " lists.name, lists.is_default, lists.version AS version_1, lists.created_at AS"
    " created_at_1, lists.updated_at AS updated_at_1, viewer.role, (SELECT count(*)"
    " AS count_1 \n"
    "FROM memberships AS fellow \n"
    "WHERE fellow.list_id = lists.id) AS anon_1, lists.pending, lists.completed AS"
    " completed_1 \n"
    "FROM page LEFT OUTER JOIN tasks ON page.kind = 'task' AND page.op = 'upsert'"
    " AND tasks.id = page.id LEFT OUTER JOIN lists ON page.kind = 'list' AND page.op"
    " = 'upsert' AND lists.id = page.id LEFT OUTER JOIN memberships AS viewer ON"
    " viewer.list_id = lists.id AND viewer.user_id = $1::VARCHAR ORDER BY page.key,"
    " page.kind, page.id, page.op"
)
"""A page of user $1's change feed after the position ($2-$5: number, kind, id, op), at most $6
entries, each with its task's columns (NAMES) or its list's (id, owner_id, name, is_default,
version, created_at, updated_at, the user's role, members, pending, completed) when an upsert;
on PostgreSQL bounded by the transactions still running in this database."""
HORIZON: Final = "SELECT sync_state.horizon \nFROM sync_state"
"""The greatest change number purged: a cursor at or below it is a 410."""
