"""Tasks in the `tasks` table, seen through list membership, and their lists' counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import attrs
from sqlalchemy import (
    Integer,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence.executors import Prepared, Row
from adapters.persistence.numbering import (
    AT,
    BUMP,
    NO_USER,
    PG_NUMBER,
    SQLITE_NUMBER,
    TASK_KIND,
    tombstones_from,
    touch_lists,
)
from adapters.persistence.pages import (
    ONE,
    PARENT,
    SORT_COLUMNS,
    USER,
    ZERO,
    Conditions,
    after,
    counts_of,
    dated_after,
    due_conditions,
    parent_conditions,
    parent_kind,
    scope,
    status_conditions,
    timed_after,
)
from adapters.persistence.rows import TASK_COLUMNS, WRITTEN
from adapters.persistence.rows import task_from_row as _task
from adapters.persistence.rows import task_values as _task_values
from adapters.persistence.statements import SqlRepository
from adapters.persistence.tables import NO_DUE, lists, memberships, tasks, trash, users
from adapters.persistence.trash import bin_statement, binned
from domain.errors import NotFound
from domain.lists import Role
from domain.policy import LIST_NOT_FOUND
from domain.queries import Parent, SortField, TaskCounts, TaskQuery, fold
from domain.tasks import Task
from domain.types import ListId, TaskId, UserId
from domain.users import User


def _param(name: str) -> Any:
    return bindparam(name, type_=tasks.c[name].type)


# Named unlike any column: a column's name is reserved for its value in INSERT and UPDATE.
_TASK: Final = bindparam("task_id", type_=tasks.c.id.type)
_THE_TASK: Final = tasks.c.id == _TASK
_AT_VERSION: Final = tasks.c.version == bindparam("expected_version", type_=Integer)
_LIST: Final = bindparam("in_list", type_=tasks.c.list_id.type)
_OWNER: Final = bindparam("owner_id", type_=tasks.c.user_id.type)
_COUNTED: Final = ("pending", "completed")

GET_VISIBLE: Final = Prepared(
    select(*TASK_COLUMNS, memberships.c.role)
    .join_from(
        tasks,
        memberships,
        and_(memberships.c.list_id == tasks.c.list_id, memberships.c.user_id == USER),
    )
    .where(_THE_TASK)
)
"""The task and the user's role in its list, in one round trip (none for a non-member)."""
COUNTS: Final = {
    one_list: Prepared(select(*counts_of(scope(one_list=one_list)))) for one_list in (False, True)
}
_UPDATE_TASK: Final = (
    update(tasks)
    .where(_THE_TASK, _AT_VERSION)
    .values(user_id=_OWNER, **{name: _param(name) for name in WRITTEN})
)


def _update_task(number: Any) -> Update:
    return _UPDATE_TASK.values(changed=number).returning(tasks.c.id)


def _recounted(counter: str) -> Any:
    # A counter of the list the task left (`from_…`) and of the one it is in now (`to_…`),
    # which may be the same list: each delta applies to its own list.
    def delta(side: str) -> Any:
        mine = lists.c.id == bindparam(f"{side}_list", type_=lists.c.id.type)
        return case((mine, bindparam(f"{side}_{counter}", type_=Integer)), else_=ZERO)

    return lists.c[counter] + delta("from") + delta("to")


def _recount(number: Any) -> Any:
    # Both lists (or the one) are numbered: their counts, or a task in them, changed.
    sides = [bindparam(f"{side}_list", type_=lists.c.id.type) for side in ("from", "to")]
    values = {counter: _recounted(counter) for counter in _COUNTED}
    return touch_lists(number, lists.c.id.in_(sides)).values(values)


def _left_list(number: Any, *conditions: Any) -> Any:
    # The task left the list it was in (`from_list`): a delete in its members' feeds.
    left = select(
        number, TASK_KIND, _TASK, bindparam("from_list", type_=lists.c.id.type), NO_USER, AT
    )
    return tombstones_from(left.where(*conditions))


def _recount_postgres(*, moved: bool) -> Prepared:
    # The task and its lists' counters and numbers in one statement: nothing to count if it was
    # not at the version. Both lists' rows are locked by the one UPDATE (by an index scan, in id
    # order); a deadlock with another writer nonetheless is broken by PostgreSQL, and answered
    # as StorageUnavailable (errors.py).
    changed = _update_task(PG_NUMBER).cte("changed")
    written = exists(select(changed.c.id))
    statement = _recount(PG_NUMBER).where(written)
    if moved:
        statement = statement.add_cte(_left_list(PG_NUMBER, written).cte("left"))
    return Prepared(statement)


def _add_postgres() -> Prepared:
    # The creator (if first seen), the list's counters and number, and the task in one statement.
    creator = _ensure_creator(postgresql.insert).cte("creator")
    counted = _count_new(PG_NUMBER).cte("counted")
    values = select(_OWNER, *(_param(name) for name in WRITTEN), PG_NUMBER).select_from(counted)
    statement = insert(tasks).from_select(["user_id", *WRITTEN, "changed"], values)
    return Prepared(statement.returning(tasks.c.id).add_cte(creator, counted))


def _ensure_creator(dialect_insert: Any) -> Any:
    values = dialect_insert(users).values(
        id=bindparam("creator_id", type_=users.c.id.type),
        email=bindparam("creator_email", type_=users.c.email.type),
        name=bindparam("creator_name", type_=users.c.name.type),
        created_at=bindparam("creator_created_at", type_=users.c.created_at.type),
    )
    return values.on_conflict_do_nothing(index_elements=[users.c.id])


def _count_new(number: Any) -> Any:
    return touch_lists(number, lists.c.id == _param("list_id")).values(
        {
            counter: lists.c[counter] + bindparam(f"new_{counter}", type_=Integer)
            for counter in _COUNTED
        }
    )


def _insert_task(number: Any) -> Prepared:
    return Prepared(
        insert(tasks)
        .values(user_id=_OWNER, changed=number, **{name: _param(name) for name in WRITTEN})
        .returning(tasks.c.id)
    )


def _gone_counts(gone: Any, sub: Any) -> dict[str, Any]:
    # Each counter less the deleted task (`gone`) and its deleted subtasks (`sub`), all of
    # one list: a subtask is always in its parent's list.
    return {
        counter: lists.c[counter]
        - select(func.count()).where(_is(gone, counter)).scalar_subquery()
        - select(func.count()).where(_is(sub, counter)).scalar_subquery()
        for counter in _COUNTED
    }


def _is(rows: Any, counter: str) -> Any:
    return rows.c.completed.is_(counter == "completed")


def _left_by(number: Any, rows: Any) -> Any:
    # Each deleted task's delete in the feeds of its list's members.
    return select(number, TASK_KIND, rows.c.id, rows.c.list_id, NO_USER, AT)


def _delete_postgres() -> Prepared:
    # The task and its subtasks out of tasks, into the trash, and uncounted: one statement.
    gone = delete(tasks).where(_THE_TASK, _AT_VERSION).returning(*tasks.columns).cte("gone")
    sub = (
        delete(tasks)
        .where(tasks.c.parent_id.in_(select(gone.c.id)))
        .returning(*tasks.columns)
        .cte("sub")
    )
    kept = (
        bin_statement(binned(gone, gone.c.id), binned(sub, _TASK)).returning(trash.c.id).cte("kept")
    )
    left = tombstones_from(union_all(_left_by(PG_NUMBER, gone), _left_by(PG_NUMBER, sub))).cte(
        "left"
    )
    counted = touch_lists(PG_NUMBER, lists.c.id == gone.c.list_id).values(_gone_counts(gone, sub))
    return Prepared(counted.add_cte(sub, kept, left))


# SQLite, which holds the write lock for the whole unit of work: the counters first, while the
# task and its subtasks are still there to count, then the deletes, then the rows.
_FAMILY: Final = (tasks.c.id == _TASK) | (tasks.c.parent_id == _TASK)
_family = select(tasks.c.completed).where(_FAMILY).subquery("family")
RECOUNT_REMOVED_SQLITE: Final = Prepared(
    touch_lists(
        SQLITE_NUMBER,
        lists.c.id == select(tasks.c.list_id).where(_THE_TASK, _AT_VERSION).scalar_subquery(),
    ).values(
        {
            counter: lists.c[counter]
            - select(func.count()).where(_is(_family, counter)).scalar_subquery()
            for counter in _COUNTED
        }
    )
)
LEFT_FAMILY_SQLITE: Final = Prepared(
    tombstones_from(
        select(SQLITE_NUMBER, TASK_KIND, tasks.c.id, tasks.c.list_id, NO_USER, AT).where(_FAMILY)
    )
)
BIN_FAMILY_SQLITE: Final = Prepared(bin_statement(binned(tasks, _TASK).where(_FAMILY)))
DELETE_FAMILY_SQLITE: Final = Prepared(delete(tasks).where(_FAMILY).returning(tasks.c.id))

_SQLITE_UPDATE: Final = Prepared(_update_task(SQLITE_NUMBER))
_SQLITE_RECOUNT: Final = Prepared(_recount(SQLITE_NUMBER))
ADD_TASK: Final = {
    "postgresql": (_add_postgres(),),
    "sqlite": (
        *BUMP["sqlite"],
        Prepared(_ensure_creator(sqlite.insert)),
        Prepared(_count_new(SQLITE_NUMBER)),
        _insert_task(SQLITE_NUMBER),
    ),
}
RECOUNT_TASK: Final = {
    "postgresql": (_recount_postgres(moved=False),),
    "sqlite": (*BUMP["sqlite"], _SQLITE_UPDATE, _SQLITE_RECOUNT),
}
"""A task written in its list: the row, its list's counters and number."""
MOVE_TASK: Final = {
    "postgresql": (_recount_postgres(moved=True),),
    "sqlite": (
        *BUMP["sqlite"],
        _SQLITE_UPDATE,
        Prepared(_left_list(SQLITE_NUMBER)),
        _SQLITE_RECOUNT,
    ),
}
"""A task written into another list: as RECOUNT_TASK, and a delete for the list it left."""
# The task's row locked first: a subtask being added under it (whose foreign key check holds the
# row) commits before the delete reads the subtasks, which then go to the trash with it instead
# of by cascade, uncounted and unkept.
LOCK_TASK: Final = Prepared(select(tasks.c.id).where(_THE_TASK, _AT_VERSION).with_for_update())
DELETE_TASK: Final = {
    "postgresql": (LOCK_TASK, _delete_postgres()),
    "sqlite": (
        *BUMP["sqlite"],
        RECOUNT_REMOVED_SQLITE,
        LEFT_FAMILY_SQLITE,
        BIN_FAMILY_SQLITE,
        DELETE_FAMILY_SQLITE,
    ),
}


def _siblings(kind: str) -> list[Any]:
    return [tasks.c.list_id == _LIST, *parent_conditions(kind)]


LAST_POSITION: Final = {
    kind: Prepared(
        select(tasks.c.position)
        .where(*_siblings(kind))
        .order_by(tasks.c.position.desc())
        .limit(ONE)
    )
    for kind in (Parent.NONE.value, "task")
}
_ABOVE: Final = tasks.c.position > bindparam("above", type_=tasks.c.position.type)
POSITION_AFTER: Final = {
    (kind, bounded): Prepared(
        select(tasks.c.position)
        .where(
            *_siblings(kind),
            tasks.c.id != bindparam("excluding", type_=tasks.c.id.type),
            *([_ABOVE] if bounded else []),
        )
        .order_by(tasks.c.position)
        .limit(ONE)
    )
    for kind in (Parent.NONE.value, "task")
    for bounded in (False, True)
}
_IN_ORDER: Final = (tasks.c.position, tasks.c.id)
SUBTASKS: Final = Prepared(
    select(*TASK_COLUMNS).where(tasks.c.parent_id == PARENT).order_by(*_IN_ORDER)
)
IN_LIST: Final = Prepared(
    select(*TASK_COLUMNS).where(tasks.c.list_id == _LIST).order_by(*_IN_ORDER)
)


def jsonb_has_any(tags: tuple[str, ...]) -> Any:
    """PostgreSQL: JSONB `?|`, which the GIN index on tags serves."""
    jsonb = type_coerce(tasks.c.tags, postgresql.JSONB)
    return jsonb.has_any(postgresql.array(tags))


def json_each_has_any(tags: tuple[str, ...]) -> Any:
    """SQLite: any of the task's tags among `tags`."""
    each = func.json_each(tasks.c.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value.in_(tags)))


class SqlTaskRepository(SqlRepository):
    """Tasks seen through list membership, and their lists' counters, inside one unit of work."""

    async def add(self, task: Task, creator: User) -> Task:
        """Insert the task, count it in its list, and store its creator if first seen."""
        params = {
            **_task_values(task),
            "owner_id": task.user_id,
            "creator_id": creator.id,
            "creator_email": creator.email,
            "creator_name": creator.name,
            "creator_created_at": creator.created_at,
            **_deltas("new", task, +1),
        }
        rows = await self._steps(self._sql.add_task, params)
        if not rows:
            # The list was deleted since the caller's role in it was read.
            raise NotFound(LIST_NOT_FOUND)
        self._touched.list(task.list_id)
        return attrs.evolve(task, id=TaskId(rows[0][0]))

    async def get_visible(self, user_id: UserId, task_id: TaskId) -> tuple[Task, Role] | None:
        """The task and the user's role in its list, joined in one statement."""
        rows = await self._fetch(GET_VISIBLE, {"task_id": task_id, "user_id": user_id})
        return (_task(rows[0]), Role(rows[0][-1])) if rows else None

    async def replace(self, task: Task, previous: Task) -> bool:
        """Overwrite `previous` with `task` if it is still at its version; the counters and
        numbers of the lists it left and joined, and the delete in the feed of the list it
        left, follow in the same statement (or transaction, on SQLite)."""
        params = {
            **_task_values(task),
            "owner_id": task.user_id,
            "task_id": task.id,
            "expected_version": previous.version,
            "from_list": previous.list_id,
            "to_list": task.list_id,
            **_deltas("from", previous, -1),
            **_deltas("to", task, +1),
        }
        if task.list_id == previous.list_id:
            done = bool(await self._steps(self._sql.recount_task, params))
        else:
            # Dated as the move is: it sets the task's updated_at to its moment.
            moved = params | {"at": task.updated_at}
            done = bool(await self._steps(self._sql.move_task, moved))
        if done:
            self._touched.list(task.list_id, previous.list_id)
        return done

    async def remove(self, task: Task, by: UserId, at: datetime) -> bool:
        """Move the task and its subtasks to the trash if it is still at its version, uncount
        them, and leave a delete of each in its list's feed."""
        params = {
            "task_id": task.id,
            "expected_version": task.version,
            "binned_at": at,
            "binned_by": by,
            "at": at,
        }
        done = bool(await self._steps(self._sql.delete_task, params))
        if done:
            self._touched.list(task.list_id)
        return done

    async def page(self, user_id: UserId, query: TaskQuery) -> list[Task]:
        """One keyset page of the matching tasks of the lists in scope."""
        if _is_simple(query):
            rows = await self._simple_page(user_id, query, counted=False)
            return [_task(row) for row in rows]
        params = _scope_params(user_id, query)
        conditions = [*parent_conditions(parent_kind(query.parent)), *self._filter(query)]
        if query.sort.field is SortField.DUE:
            return await self._page_by_due(params, conditions, query)
        column = SORT_COLUMNS[query.sort.field]
        descending = query.sort.descending
        if query.after is not None:
            value, after_id = query.after
            cursor = (literal(value, column.type), literal(after_id, tasks.c.id.type))
            conditions.append(after(column, *cursor, descending=descending))
        return await self._rows(params, conditions, column, descending, query.limit)

    async def page_with_counts(
        self, user_id: UserId, query: TaskQuery
    ) -> tuple[list[Task], TaskCounts]:
        """`page` and `counts`: in one statement for a page sorted by a column and by status."""
        if not _is_simple(query):
            page = await self.page(user_id, query)
            return page, await self.counts(user_id, query.list_id)
        rows = await self._simple_page(user_id, query, counted=True)
        if not rows:
            return [], await self.counts(user_id, query.list_id)
        pending, completed = rows[0][-2:]
        return [_task(row) for row in rows], TaskCounts(pending=pending, completed=completed)

    async def counts(self, user_id: UserId, list_id: ListId | None = None) -> TaskCounts:
        """The counters of the lists in scope, summed: one row per list."""
        params = {"user_id": user_id, "list_id": list_id}
        rows = await self._fetch(COUNTS[list_id is not None], params)
        pending, completed = rows[0]
        return TaskCounts(pending=pending, completed=completed)

    async def last_position(self, list_id: ListId, parent_id: TaskId | None) -> str | None:
        """The greatest sibling position, read from the end of an index."""
        statement = LAST_POSITION[_kind(parent_id)]
        rows = await self._fetch(statement, {"in_list": list_id, "parent_id": parent_id})
        return rows[0][0] if rows else None

    async def position_after(
        self,
        list_id: ListId,
        parent_id: TaskId | None,
        position: str | None,
        excluding: TaskId,
    ) -> str | None:
        """The least sibling position above `position`, `excluding` left out."""
        statement = POSITION_AFTER[(_kind(parent_id), position is not None)]
        params = {
            "in_list": list_id,
            "parent_id": parent_id,
            "above": position,
            "excluding": excluding,
        }
        rows = await self._fetch(statement, params)
        return rows[0][0] if rows else None

    async def subtasks(self, parent_id: TaskId) -> list[Task]:
        """The parent's subtasks in position order."""
        return [_task(row) for row in await self._fetch(SUBTASKS, {"parent_id": parent_id})]

    async def in_list(self, list_id: ListId) -> list[Task]:
        """Every task of the list in position order."""
        return [_task(row) for row in await self._fetch(IN_LIST, {"in_list": list_id})]

    async def _simple_page(
        self, user_id: UserId, query: TaskQuery, *, counted: bool
    ) -> Sequence[Row]:
        # The common list, sorted by a column and filtered by status at most: its statement is
        # prepared once per shape instead of built per request.
        sort, after_position = query.sort, query.after
        shape = (
            sort.field,
            sort.descending,
            query.filter.status,
            after_position is not None,
            counted,
            query.list_id is not None,
            parent_kind(query.parent),
        )
        params = _scope_params(user_id, query)
        if after_position is not None:
            params["after_value"], params["after_id"] = after_position
        return await self._fetch(self._sql.pages.simple(shape), params)

    async def _page_by_due(
        self, params: dict[str, Any], conditions: Conditions, query: TaskQuery
    ) -> list[Task]:
        # No single index orders by the due moment (an all-day date's moment depends on the
        # caller's zone), so the page merges two index-ordered streams, timed and all-day, and
        # then continues with the tasks that have no due, which come last in both directions.
        descending, limit, position = query.sort.descending, query.limit, query.after
        rows: list[Task] = []
        if position is None or position[0] is not None:
            timed = [tasks.c.due_at.is_not(None), *timed_after(position, descending)]
            dated = [
                tasks.c.due_date.is_not(None),
                *dated_after(position, query.tz, descending),
            ]
            rows = sorted(
                await self._rows(params, conditions + timed, tasks.c.due_at, descending, limit)
                + await self._rows(params, conditions + dated, tasks.c.due_date, descending, limit),
                key=query.order_key,
                reverse=descending,
            )[:limit]
        if len(rows) < limit:
            undated = [NO_DUE]
            if position is not None and position[0] is None:
                undated.append(tasks.c.id < position[1] if descending else tasks.c.id > position[1])
            rest = limit - len(rows)
            rows += await self._rows(params, conditions + undated, None, descending, rest)
        return rows

    async def _rows(
        self,
        params: dict[str, Any],
        conditions: Conditions,
        column: Any,
        descending: bool,
        limit: int,
    ) -> list[Task]:
        statement = self._sql.pages.rows(
            one_list=params["list_id"] is not None,
            conditions=conditions,
            column=column,
            descending=descending,
        )
        rows = await self._fetch(statement, params | {"limit": limit})
        return [_task(row) for row in rows]

    def _filter(self, query: TaskQuery) -> Conditions:
        chosen = query.filter
        conditions = status_conditions(chosen.status)
        if chosen.text is not None:
            conditions.append(tasks.c.search_text.contains(fold(chosen.text), autoescape=True))
        if chosen.priorities:
            conditions.append(tasks.c.priority.in_([p.rank for p in chosen.priorities]))
        if chosen.tags:
            conditions.append(self._sql.any_tag(chosen.tags))
        window = query.due_window()
        if window is not None:
            conditions += due_conditions(window)
        return conditions


def _scope_params(user_id: UserId, query: TaskQuery) -> dict[str, Any]:
    parent = None if isinstance(query.parent, Parent) else query.parent
    return {
        "user_id": user_id,
        "list_id": query.list_id,
        "parent_id": parent,
        "limit": query.limit,
    }


def _kind(parent_id: TaskId | None) -> str:
    return Parent.NONE.value if parent_id is None else "task"


def _is_simple(query: TaskQuery) -> bool:
    # Sorted by a column and filtered by status at most: one statement per shape, prepared once.
    chosen = query.filter
    return (
        query.sort.field is not SortField.DUE
        and chosen.text is None
        and not chosen.priorities
        and not chosen.tags
        and chosen.due is None
    )


def _deltas(side: str, task: Task, sign: int) -> dict[str, int]:
    return {
        f"{side}_pending": 0 if task.completed else sign,
        f"{side}_completed": sign if task.completed else 0,
    }
