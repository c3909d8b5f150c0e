"""The change feed (domain.sync) read from the numbers and tombstones every write leaves.

A user's entries, per membership m of theirs (its number is when they joined or their role
changed, so that nothing of a list comes before it in their feed): the list, and each of its
tasks, as upserts numbered greatest(their number, m's); the deletes of tasks that left the list
after m; and the deletes of lists gone for the user. One statement reads a page of them and the
tasks and lists they name, keyset-ordered by (number, kind, id, op). On PostgreSQL it reads only
numbers below the least id of a transaction of this database still running at its snapshot (its
xmin, but for transactions of other databases of the cluster): every transaction with a smaller
id has ended, and no later commit can take one, so a page never ends past a number that may
still appear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    column,
    delete,
    exists,
    func,
    literal_column,
    select,
    table,
    tuple_,
    union_all,
    update,
)

from adapters.persistence.executors import Prepared, Row
from adapters.persistence.numbering import (
    AT,
    BUMP,
    LIST_KIND,
    NO_LIST,
    NUMBER,
    TASK_KIND,
    tombstones_from,
    touch_lists,
    xid_number,
)
from adapters.persistence.rows import LIST_COLUMNS, TASK_COLUMNS, task_from_row, view_from_row
from adapters.persistence.statements import SqlRepository, Steps
from adapters.persistence.tables import lists, memberships, sync_state, tasks, tombstones, users
from domain.sync import Change, FeedPosition, Kind, ListStamp, Op
from domain.types import ListId, UserId

_USER: Final = bindparam("user_id", type_=memberships.c.user_id.type)
_AFTER: Final = (
    bindparam("after_changed", type_=BigInteger),
    bindparam("after_kind", type_=String),
    bindparam("after_id", type_=BigInteger),
    bindparam("after_op", type_=String),
)
_BEFORE_ALL: Final = {"after_changed": -(2**63), "after_kind": "", "after_id": 0, "after_op": ""}
"""The position before every entry (rows older than the feed are numbered below 0: 0008)."""
_SINCE: Final = _AFTER[0]
_UPSERT: Final = literal_column(f"'{Op.UPSERT.value}'", String)
_DELETE: Final = literal_column(f"'{Op.DELETE.value}'", String)
_ACTIVITY: Final = table("pg_stat_activity", column("backend_xid"), column("datname"))


def _settled() -> Any:
    # The least number a transaction still running may write in this database, as of this
    # statement's snapshot: the least of its in-progress ids (pg_snapshot_xip), leaving out those
    # pg_stat_activity shows running in another database (they write nothing here; one it no
    # longer shows may have been ours, and counts), else its xmax. Below it every number is final.
    running = func.pg_snapshot_xip(func.pg_current_snapshot()).column_valued("running")
    elsewhere = exists(
        select(literal_column("1")).where(
            _ACTIVITY.c.backend_xid == func.xid(running),
            _ACTIVITY.c.datname != func.current_database(),
        )
    )
    xmax = xid_number(func.pg_snapshot_xmax(func.pg_current_snapshot()))
    return (
        select(func.coalesce(func.min(xid_number(running)), xmax))
        .where(~elsewhere)
        .scalar_subquery()
    )


def _greatest(dialect: str, *values: Any) -> Any:
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)


def _feed(dialect: str) -> Prepared:
    mine = (
        select(memberships.c.list_id, memberships.c.changed.label("joined"))
        .where(memberships.c.user_id == _USER)
        .cte("mine")
    )

    def entry(key: Any, kind: Any, entity: Any, op: Any) -> list[Any]:
        return [key.label("key"), kind.label("kind"), entity.label("id"), op.label("op")]

    task_key = _greatest(dialect, tasks.c.changed, mine.c.joined)
    in_mine = tasks.c.list_id == mine.c.list_id
    entries = union_all(
        select(
            *entry(
                _greatest(dialect, lists.c.changed, mine.c.joined), LIST_KIND, lists.c.id, _UPSERT
            )
        ).join_from(lists, mine, lists.c.id == mine.c.list_id),
        # Lists joined at or after the cursor: all their tasks, from the joining on.
        select(*entry(task_key, TASK_KIND, tasks.c.id, _UPSERT))
        .join_from(tasks, mine, in_mine)
        .where(mine.c.joined >= _SINCE),
        # Lists joined before it: only their tasks written since (an index range per list).
        select(*entry(task_key, TASK_KIND, tasks.c.id, _UPSERT))
        .join_from(tasks, mine, in_mine)
        .where(mine.c.joined < _SINCE, tasks.c.changed >= _SINCE),
        select(*entry(tombstones.c.changed, TASK_KIND, tombstones.c.entity_id, _DELETE))
        .join_from(tombstones, mine, tombstones.c.list_id == mine.c.list_id)
        .where(
            tombstones.c.kind == TASK_KIND,
            tombstones.c.changed > mine.c.joined,
            tombstones.c.changed >= _SINCE,
        ),
        select(*entry(tombstones.c.changed, LIST_KIND, tombstones.c.entity_id, _DELETE)).where(
            tombstones.c.user_id == _USER,
            tombstones.c.kind == LIST_KIND,
            tombstones.c.changed >= _SINCE,
        ),
    ).subquery("entries")
    order = (entries.c.key, entries.c.kind, entries.c.id, entries.c.op)
    conditions = [tuple_(*order) > tuple_(*_AFTER)]
    if dialect == "postgresql":
        conditions.append(entries.c.key < _settled())
    page = (
        select(*order)
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .cte("page")
    )
    upsert_of = {
        kind: and_(page.c.kind == kind_column, page.c.op == _UPSERT)
        for kind, kind_column in ((Kind.TASK, TASK_KIND), (Kind.LIST, LIST_KIND))
    }
    viewer = memberships.alias("viewer")
    fellows = memberships.alias("fellow")
    members = select(func.count()).where(fellows.c.list_id == lists.c.id).scalar_subquery()
    statement = (
        select(
            page.c.key,
            page.c.kind,
            page.c.id,
            page.c.op,
            *TASK_COLUMNS,
            *LIST_COLUMNS,
            viewer.c.role,
            members,
            lists.c.pending,
            lists.c.completed,
        )
        .select_from(
            page.outerjoin(tasks, and_(upsert_of[Kind.TASK], tasks.c.id == page.c.id))
            .outerjoin(lists, and_(upsert_of[Kind.LIST], lists.c.id == page.c.id))
            .outerjoin(viewer, and_(viewer.c.list_id == lists.c.id, viewer.c.user_id == _USER))
        )
        .order_by(page.c.key, page.c.kind, page.c.id, page.c.op)
    )
    return Prepared(statement)


FEED: Final = {dialect: _feed(dialect) for dialect in ("postgresql", "sqlite")}
_STAMPS: Final = select(memberships.c.list_id, lists.c.changed, memberships.c.changed).join_from(
    memberships, lists, lists.c.id == memberships.c.list_id
)
STAMPS: Final = {
    # Plain selects (no function): through a transaction pooler they need no transaction.
    False: Prepared(_STAMPS.where(memberships.c.user_id == _USER)),
    True: Prepared(
        _STAMPS.where(
            memberships.c.user_id == _USER,
            memberships.c.list_id == bindparam("list_id", type_=memberships.c.list_id.type),
        )
    ),
}
"""A reader's lists with their numbers: every list (False) or one (True), by the index that
starts every read of tasks (memberships by user)."""
HORIZON: Final = Prepared(select(sync_state.c.horizon))
_EXPIRED_BY: Final = bindparam("expired_by", type_=tombstones.c.at.type)
_DOOMED: Final = (
    select(tombstones.c.id)
    .where(tombstones.c.at <= _EXPIRED_BY)
    .order_by(tombstones.c.at, tombstones.c.id)
    .limit(bindparam("limit", type_=Integer))
)


def _purge(dialect: str) -> Steps:
    # The horizon moves past every tombstone purged, in the purge's own statement or transaction.
    if dialect == "postgresql":
        # SKIP LOCKED: concurrent purges take disjoint rows instead of waiting on each other.
        doomed = _DOOMED.with_for_update(skip_locked=True)
        purged = (
            delete(tombstones)
            .where(tombstones.c.id.in_(doomed))
            .returning(tombstones.c.changed)
            .cte("purged")
        )
        latest = select(func.max(purged.c.changed)).scalar_subquery()
        moved = (
            update(sync_state)
            .where(exists(select(purged.c.changed)))
            .values(horizon=func.greatest(sync_state.c.horizon, latest))
            .cte("moved")
        )
        return (Prepared(select(purged.c.changed).add_cte(moved)),)
    doomed_ids = tombstones.c.id.in_(_DOOMED)
    latest = select(func.max(tombstones.c.changed)).where(doomed_ids).scalar_subquery()
    return (
        Prepared(
            update(sync_state)
            .where(exists(select(tombstones.c.id).where(doomed_ids)))
            .values(horizon=func.max(sync_state.c.horizon, latest))
        ),
        Prepared(delete(tombstones).where(doomed_ids).returning(tombstones.c.id)),
    )


PURGE: Final = {dialect: _purge(dialect) for dialect in ("postgresql", "sqlite")}


def _remove_user(dialect: str) -> Steps:
    # Erasure: the other members of the lists the user owns lose them (their deletes), and the
    # lists the user was a member of count one member fewer (numbered); the cascade does the rest.
    number = NUMBER[dialect]
    erased = bindparam("user_id", type_=users.c.id.type)
    owned_lost = tombstones_from(
        select(number, LIST_KIND, memberships.c.list_id, NO_LIST, memberships.c.user_id, AT)
        .join_from(memberships, lists, lists.c.id == memberships.c.list_id)
        .where(lists.c.owner_id == erased, memberships.c.user_id != erased)
    )
    left = lists.c.id.in_(select(memberships.c.list_id).where(memberships.c.user_id == erased)) & (
        lists.c.owner_id != erased
    )
    removed = delete(users).where(users.c.id == erased).returning(users.c.id)
    if dialect == "postgresql":
        touched = touch_lists(number, left).cte("touched")
        return (Prepared(removed.add_cte(owned_lost.cte("lost"), touched)),)
    return (
        *BUMP[dialect],
        Prepared(owned_lost),
        Prepared(update(lists).where(left).values(changed=number)),
        Prepared(removed),
    )


REMOVE_USER: Final = {dialect: _remove_user(dialect) for dialect in ("postgresql", "sqlite")}
_TASK_WIDTH: Final = len(TASK_COLUMNS)


def _change(row: Row) -> Change:
    changed, kind_text, entity_id, op_text = row[:4]
    kind, op = Kind(kind_text), Op(op_text)
    position = FeedPosition(changed, kind, entity_id, op)
    rest = row[4:]
    task = list_view = None
    if op is Op.UPSERT and kind is Kind.TASK:
        task = task_from_row(rest)
    elif op is Op.UPSERT:
        list_view = view_from_row(rest[_TASK_WIDTH:])
    return Change(kind=kind, id=entity_id, op=op, position=position, task=task, list=list_view)


class SqlChangeRepository(SqlRepository):
    """A user's change feed, one statement a page, and the purge of its deletes."""

    async def page(self, user_id: UserId, after: FeedPosition | None, limit: int) -> list[Change]:
        """The entries after `after`, at most `limit`, with the tasks and lists they name."""
        params: dict[str, Any] = {"user_id": user_id, "limit": limit}
        if after is None:
            params |= _BEFORE_ALL
        else:
            params |= {
                "after_changed": after.changed,
                "after_kind": after.kind.value,
                "after_id": after.id,
                "after_op": after.op.value,
            }
        return [_change(row) for row in await self._fetch(self._sql.feed, params)]

    async def stamps(self, user_id: UserId, list_id: ListId | None = None) -> list[ListStamp]:
        """The lists in scope with their newest change number and the membership's."""
        params: dict[str, Any] = {"user_id": user_id}
        if list_id is not None:
            params["list_id"] = list_id
        rows = await self._fetch(STAMPS[list_id is not None], params)
        return [(row[0], row[1], row[2]) for row in rows]

    async def horizon(self) -> int:
        """The greatest number of a purged tombstone (0 before any)."""
        horizon: int = await self._one(HORIZON, {})
        return horizon

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` tombstones written by `expired_by`, oldest first, and move the
        horizon past them."""
        params = {"expired_by": expired_by, "limit": limit}
        return len(await self._steps(self._sql.purge, params))
