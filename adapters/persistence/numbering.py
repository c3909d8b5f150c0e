"""The change number of a write (domain.sync), per dialect, and the tombstones writes leave.

PostgreSQL numbers a write by its transaction's id (xid8: 64 bits, never wraps, the same for
every row one transaction writes); readers bound what they read by their snapshot's xmin
(changes.py), so a transaction that commits late is never skipped. SQLite has one writer at a
time: a unit of work's statements take the next number of a counter (`sync_state.last_change`),
so commit order is number order.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)

from adapters.persistence.executors import Prepared
from adapters.persistence.tables import lists, sync_state, tombstones
from domain.sync import Kind


def xid_number(xid8: Any) -> Any:
    """A PostgreSQL transaction id (xid8, 64 bits) as the change number it is."""
    return cast(cast(xid8, Text), BigInteger)


PG_NUMBER: Final = xid_number(func.pg_current_xact_id())
SQLITE_NUMBER: Final = select(sync_state.c.last_change).scalar_subquery()
NUMBER: Final = {"postgresql": PG_NUMBER, "sqlite": SQLITE_NUMBER}
"""Each dialect's number of the write a statement is part of."""
BUMP: Final = {
    "postgresql": (),
    "sqlite": (
        Prepared(
            update(sync_state).values(
                last_change=sync_state.c.last_change + literal_column("1", BigInteger)
            )
        ),
    ),
}
"""The steps that begin a write on each dialect: SQLite takes the next number first."""
AT: Final = bindparam("at", type_=tombstones.c.at.type)
"""When the tombstones a statement writes were written (the use case's clock)."""
TASK_KIND: Final = literal_column(f"'{Kind.TASK.value}'", tombstones.c.kind.type)
LIST_KIND: Final = literal_column(f"'{Kind.LIST.value}'", tombstones.c.kind.type)
NO_LIST: Final = literal_column("NULL", tombstones.c.list_id.type)
NO_USER: Final = literal_column("NULL", tombstones.c.user_id.type)
TOMBSTONE_COLUMNS: Final = ("changed", "kind", "entity_id", "list_id", "user_id", "at")


def tombstones_from(rows: Any) -> Any:
    """INSERT INTO tombstones of a select of TOMBSTONE_COLUMNS, in their order."""
    return insert(tombstones).from_select(list(TOMBSTONE_COLUMNS), rows)


def touch_lists(number: Any, chosen: Any) -> Any:
    """UPDATE lists numbered `number` where `chosen`, returning their ids: something in or of
    them changed (domain.sync)."""
    return update(lists).where(chosen).values(changed=number).returning(lists.c.id)
