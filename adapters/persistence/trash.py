"""Deleted tasks in the `trash` table (SPEC §8): put there by the deletes of tasks and lists,
taken back out by a restore, purged for good."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)

from adapters.persistence.executors import Prepared, Row
from adapters.persistence.numbering import NUMBER, touch_lists
from adapters.persistence.rows import TASK_COLUMNS
from adapters.persistence.rows import task_from_row as _task
from adapters.persistence.rows import task_values as _task_values
from adapters.persistence.statements import SqlRepository
from adapters.persistence.tables import lists, memberships, tasks, trash
from domain.lists import Role
from domain.tasks import Task
from domain.trash import TrashedTask, TrashPosition
from domain.types import TaskId, UserId

_NAMES: Final = tuple(column.name for column in TASK_COLUMNS)
_EVERY_TASK_COLUMN: Final = tuple(column.name for column in tasks.columns)
TRASH_COLUMNS: Final = (
    *(trash.c[name] for name in _NAMES),
    trash.c.deleted_at,
    trash.c.deleted_by,
    trash.c.trash_root,
)
"""What a trashed task is read as: its task's columns as TASK_COLUMNS, then the deletion's."""
BINNED: Final = [*_EVERY_TASK_COLUMN, "deleted_at", "deleted_by", "trash_root"]
"""The trash columns every move into the trash writes, in this order."""
_WIDTH: Final = len(_NAMES)

# Named unlike any column: a column's name is reserved for its value in INSERT and UPDATE.
BINNED_AT: Final = bindparam("binned_at", type_=trash.c.deleted_at.type)
BINNED_BY: Final = bindparam("binned_by", type_=trash.c.deleted_by.type)
_USER: Final = bindparam("user_id", type_=memberships.c.user_id.type)
_ROOT: Final = bindparam("root_id", type_=trash.c.id.type)
_THE_ENTRY: Final = trash.c.trash_root == _ROOT
_IS_ROOT: Final = trash.c.id == trash.c.trash_root
_LIMIT: Final = bindparam("limit", type_=Integer)
_NEWEST_FIRST: Final = (trash.c.deleted_at.desc(), trash.c.id.desc())
_AFTER: Final = tuple_(trash.c.deleted_at, trash.c.id) < tuple_(
    bindparam("after_at", type_=trash.c.deleted_at.type),
    bindparam("after_id", type_=trash.c.id.type),
)


def binned(rows: Any, root: Any) -> Select[Any]:
    """`rows` (with every column of tasks) as trash rows, deleted by BINNED_BY at BINNED_AT,
    each the entry of `root` (a column or value)."""
    return select(*(rows.c[name] for name in _EVERY_TASK_COLUMN), BINNED_AT, BINNED_BY, root)


def bin_statement(*parts: Select[Any]) -> Any:
    """An INSERT into the trash of the rows `parts` select (each as `binned` makes them)."""
    chosen = parts[0] if len(parts) == 1 else union_all(*parts)
    return insert(trash).from_select(BINNED, chosen)


# A list's tasks, before the list goes: each top-level task is the entry of its subtasks.
_IN_LIST: Final = bindparam("in_list", type_=tasks.c.list_id.type)
BIN_LIST: Final = Prepared(
    bin_statement(
        binned(tasks, func.coalesce(tasks.c.parent_id, tasks.c.id)).where(
            tasks.c.list_id == _IN_LIST
        )
    )
)


def _gone() -> ColumnElement[bool]:
    # The user's own list that is gone: its trash is theirs, as its owner.
    return and_(trash.c.user_id == _USER, ~exists().where(lists.c.id == trash.c.list_id))


def _role_names(roles: frozenset[Role]) -> list[Any]:
    # Literal role names: a Prepared statement takes every value from the call's parameters.
    return [literal_column(f"'{role.value}'", memberships.c.role.type) for role in sorted(roles)]


def _role_in(roles: frozenset[Role]) -> ColumnElement[bool]:
    return trash.c.list_id.in_(
        select(memberships.c.list_id).where(
            memberships.c.user_id == _USER, memberships.c.role.in_(_role_names(roles))
        )
    )


def _seen(roles: frozenset[Role]) -> ColumnElement[bool]:
    # The entries (and their subtasks, which share their list and owner) the user sees.
    branches = [_role_in(roles)] if roles else []
    if Role.OWNER in roles:
        branches.append(_gone())
    return or_(*branches) if branches else literal_column("1") == literal_column("0")


@functools.cache
def scanned_page(roles: frozenset[Role], after: bool) -> Prepared:
    """SQLite: a page of the entries seen through `roles`, newest first (after a position
    when `after`), in one scan of the trash."""
    chosen = select(*TRASH_COLUMNS).where(_IS_ROOT, _seen(roles), *_after_if(after))
    return Prepared(chosen.order_by(*_NEWEST_FIRST).limit(_LIMIT))


@functools.cache
def lateral_page(roles: frozenset[Role], after: bool) -> Prepared:
    """PostgreSQL: per list seen through `roles`, a LATERAL keyset scan of at most a page along
    (list_id, deleted_at, id), and one along (user_id, deleted_at, id) for the user's lists
    that are gone; merged. A page costs the same however much trash there is."""
    branches = []
    if roles:
        member = (
            select(memberships.c.list_id)
            .where(memberships.c.user_id == _USER, memberships.c.role.in_(_role_names(roles)))
            .subquery("member")
        )
        per_list = (
            select(*TRASH_COLUMNS)
            .where(trash.c.list_id == member.c.list_id, _IS_ROOT, *_after_if(after))
            .order_by(*_NEWEST_FIRST)
            .limit(_LIMIT)
            .lateral("per_list")
        )
        branches.append(select(*per_list.c).select_from(member.join(per_list, true())))
    if Role.OWNER in roles:
        gone = (
            select(*TRASH_COLUMNS)
            .where(_IS_ROOT, _gone(), *_after_if(after))
            .order_by(*_NEWEST_FIRST)
            .limit(_LIMIT)
            .subquery("gone")
        )
        branches.append(select(*gone.c))
    if not branches:
        return scanned_page(roles, after)
    merged = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("merged")
    return Prepared(
        select(*merged.c).order_by(merged.c.deleted_at.desc(), merged.c.id.desc()).limit(_LIMIT)
    )


PAGE: Final = {"postgresql": lateral_page, "sqlite": scanned_page}
"""Each dialect's page of the trash, by the roles seen through and whether it goes on after a
position."""


def _after_if(after: bool) -> list[ColumnElement[bool]]:
    return [_AFTER] if after else []


@functools.cache
def empty_statement(roles: frozenset[Role]) -> Prepared:
    """Delete every trashed row seen through `roles`."""
    return Prepared(delete(trash).where(_seen(roles)).returning(trash.c.id))


_member = memberships.alias("member")
GET_VISIBLE: Final = Prepared(
    select(
        *TRASH_COLUMNS,
        _member.c.role,
        select(lists.c.id).where(lists.c.id == trash.c.list_id).scalar_subquery(),
    )
    .select_from(
        trash.outerjoin(
            _member, and_(_member.c.list_id == trash.c.list_id, _member.c.user_id == _USER)
        )
    )
    .where(trash.c.id == _ROOT, _IS_ROOT)
)
FAMILY: Final = Prepared(
    select(*TRASH_COLUMNS).where(_THE_ENTRY, ~_IS_ROOT).order_by(trash.c.position, trash.c.id)
)
TAKE_ENTRY: Final = Prepared(delete(trash).where(_THE_ENTRY).returning(trash.c.id))


def _restore(dialect: str) -> dict[str, Prepared]:
    # A restored task keeps its id, which tasks' identity (BY DEFAULT) accepts; it and its list
    # are numbered, as any task written (numbering.py).
    number = NUMBER[dialect]
    values: dict[str, Any] = {
        column.name: bindparam(column.name, type_=column.type)
        for column in tasks.columns
        if column.name != "changed"
    }
    counted = touch_lists(number, lists.c.id == bindparam("to_list", type_=lists.c.id.type))
    return {
        "restore_task": Prepared(insert(tasks).values({**values, "changed": number})),
        "recount_restored": Prepared(
            counted.values(
                {
                    counter: lists.c[counter] + bindparam(f"new_{counter}", type_=Integer)
                    for counter in ("pending", "completed")
                }
            )
        ),
    }


RESTORE: Final = {dialect: _restore(dialect) for dialect in ("postgresql", "sqlite")}
"""Each dialect's statements of a restore, by Statements field."""
# SKIP LOCKED: concurrent purges take disjoint entries instead of waiting on each other.
PURGE_EXPIRED: Final = Prepared(
    delete(trash)
    .where(
        trash.c.trash_root.in_(
            select(trash.c.id)
            .where(
                _IS_ROOT,
                trash.c.deleted_at <= bindparam("expired_by", type_=trash.c.deleted_at.type),
            )
            .order_by(trash.c.deleted_at)
            .limit(_LIMIT)
            .with_for_update(skip_locked=True)
        )
    )
    .returning(trash.c.trash_root)
)
_OWNED: Final = select(*TRASH_COLUMNS).where(
    trash.c.user_id == bindparam("owner_id", type_=trash.c.user_id.type)
)
OF_OWNER: Final = {
    after: Prepared(
        (_OWNED.where(_AFTER) if after else _OWNED).order_by(*_NEWEST_FIRST).limit(_LIMIT)
    )
    for after in (False, True)
}


def trashed_from_row(row: Row) -> TrashedTask:
    """The trashed task of a row that starts with TRASH_COLUMNS."""
    deleted_at, deleted_by, root = row[_WIDTH : _WIDTH + 3]
    return TrashedTask(
        task=_task(row), deleted_at=deleted_at, deleted_by=UserId(deleted_by), root=TaskId(root)
    )


class SqlTrashRepository(SqlRepository):
    """The trash table inside one unit of work."""

    async def page(
        self,
        user_id: UserId,
        roles: frozenset[Role],
        after: TrashPosition | None,
        limit: int,
    ) -> list[TrashedTask]:
        """One keyset page of the entries the user sees, newest first."""
        params = {"user_id": user_id, "limit": limit, **_after(after)}
        rows = await self._fetch(self._sql.trash_page(roles, after is not None), params)
        return [trashed_from_row(row) for row in rows]

    async def get_visible(
        self, user_id: UserId, task_id: TaskId
    ) -> tuple[TrashedTask, Role] | None:
        """The entry, the user's membership in its list, and whether the list is gone."""
        rows = await self._fetch(GET_VISIBLE, {"user_id": user_id, "root_id": task_id})
        if not rows:
            return None
        entry = trashed_from_row(rows[0])
        role, live_list = rows[0][-2:]
        if role is not None:
            return entry, Role(role)
        # A list that is gone leaves its trash to its owner.
        if live_list is None and entry.task.user_id == user_id:
            return entry, Role.OWNER
        return None

    async def family(self, root: TaskId) -> list[TrashedTask]:
        """The subtasks deleted with the entry, in position order."""
        return [trashed_from_row(row) for row in await self._fetch(FAMILY, {"root_id": root})]

    async def restore(self, root: TaskId, tasks: Sequence[Task]) -> bool:
        """Delete the entry's rows (the one DELETE makes a concurrent restore wait, then find
        none), insert `tasks` with their ids, and count them in their list."""
        if not await self._fetch(TAKE_ENTRY, {"root_id": root}):
            return False
        await self._steps(self._sql.bump, {})
        for task in tasks:
            await self._fetch(
                self._sql.restore_task,
                {**_task_values(task), "id": task.id, "user_id": task.user_id},
            )
        done = sum(task.completed for task in tasks)
        params = {
            "to_list": tasks[0].list_id,
            "new_pending": len(tasks) - done,
            "new_completed": done,
        }
        restored = bool(await self._fetch(self._sql.recount_restored, params))
        if restored:
            self._touched.list(tasks[0].list_id)
        return restored

    async def purge(self, root: TaskId) -> bool:
        """Delete the entry's rows."""
        return bool(await self._fetch(TAKE_ENTRY, {"root_id": root}))

    async def empty(self, user_id: UserId, roles: frozenset[Role]) -> int:
        """Delete every trashed row the user sees."""
        return len(await self._fetch(empty_statement(roles), {"user_id": user_id}))

    async def purge_expired(self, deleted_by: datetime, limit: int) -> int:
        """Delete up to `limit` expired entries with their subtasks, skipping rows others hold."""
        rows = await self._fetch(PURGE_EXPIRED, {"expired_by": deleted_by, "limit": limit})
        return len({row[0] for row in rows})

    async def of_owner(
        self, owner_id: UserId, after: TrashPosition | None, limit: int
    ) -> list[TrashedTask]:
        """One keyset page of the owner's trashed tasks, newest first."""
        params = {"owner_id": owner_id, "limit": limit, **_after(after)}
        rows = await self._fetch(OF_OWNER[after is not None], params)
        return [trashed_from_row(row) for row in rows]


def _after(after: TrashPosition | None) -> dict[str, Any]:
    if after is None:
        return {}
    return {"after_at": after[0], "after_id": after[1]}
