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
