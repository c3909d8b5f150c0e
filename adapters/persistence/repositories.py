"""Task and user repositories over one AsyncConnection, with explicit row-to-domain mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from adapters.persistence.errors import storage_errors
from adapters.persistence.tables import NO_DUE, idempotency_keys, tasks, users
from domain.accounts import Account
from domain.errors import Conflict
from domain.idempotency import IdempotencyRecord, Reply
from domain.queries import (
    Due,
    DueWindow,
    Position,
    SortField,
    Status,
    TaskCounts,
    TaskQuery,
    day_start,
    fold,
    latest_day_started_by,
    search_text,
)
from domain.tasks import Priority, Task
from domain.types import TaskId, UserId
from domain.users import User

_SORT_COLUMNS: Final = {
    SortField.CREATED_AT: tasks.c.created_at,
    SortField.UPDATED_AT: tasks.c.updated_at,
    SortField.PRIORITY: tasks.c.priority,
    SortField.TITLE: tasks.c.title,
}
Conditions = list[ColumnElement[bool]]


class _Statements:
    """Runs statements on a unit of work's connection, translating storage failures."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _execute(self, statement: Executable) -> CursorResult[Any]:
        with storage_errors():
            return await self._connection.execute(statement)

    @property
    def _dialect(self) -> str:
        return self._connection.dialect.name

    def _insert(self, table: Table, values: dict[str, object]) -> postgresql.Insert | sqlite.Insert:
        # The dialect's own INSERT, for its ON CONFLICT clause.
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        return dialect_insert(table).values(values)


class SqlTaskRepository(_Statements):
    """A user's tasks in the `tasks` table, inside one unit of work."""

    async def add(self, task: Task) -> Task:
        """Insert a new task and return it with the id the database assigned."""
        result = await self._execute(
            insert(tasks).values(user_id=task.user_id, **_task_values(task)).returning(tasks.c.id)
        )
        return attrs.evolve(task, id=TaskId(result.scalar_one()))

    async def get(self, user_id: UserId, task_id: TaskId) -> Task | None:
        """The task if it exists and belongs to `user_id`."""
        result = await self._execute(
            select(tasks).where(tasks.c.id == task_id, tasks.c.user_id == user_id)
        )
        row = result.mappings().one_or_none()
        return None if row is None else _task(row)

    async def replace(self, task: Task, expected_version: int) -> bool:
        """Overwrite the stored task in one statement if it is still at `expected_version`."""
        result = await self._execute(
            update(tasks)
            .where(
                tasks.c.id == task.id,
                tasks.c.user_id == task.user_id,
                tasks.c.version == expected_version,
            )
            .values(**_task_values(task))
        )
        return result.rowcount == 1

    async def remove(self, task: Task) -> bool:
        """Delete the task if the stored one is still at `task.version`."""
        result = await self._execute(
            delete(tasks).where(
                tasks.c.id == task.id,
                tasks.c.user_id == task.user_id,
                tasks.c.version == task.version,
            )
        )
        return result.rowcount == 1

    async def page(self, user_id: UserId, query: TaskQuery) -> list[Task]:
        """One keyset page of the user's matching tasks, ordered by the sort value, then id."""
        conditions = [tasks.c.user_id == user_id, *self._filter(query)]
        if query.sort.field is SortField.DUE:
            return await self._page_by_due(conditions, query)
        column = _SORT_COLUMNS[query.sort.field]
        descending = query.sort.descending
        if query.after is not None:
            value, after_id = query.after
            conditions.append(_after(column, value, after_id, descending=descending))
        return await self._rows(conditions, column, descending, query.limit)

    async def _page_by_due(self, conditions: Conditions, query: TaskQuery) -> list[Task]:
        # No single index orders by the due moment (an all-day date's moment depends on the
        # caller's zone), so the page merges two index-ordered streams, timed and all-day, and
        # then continues with the tasks that have no due, which come last in both directions.
        descending, limit, after = query.sort.descending, query.limit, query.after
        rows: list[Task] = []
        if after is None or after[0] is not None:
            timed = [tasks.c.due_at.is_not(None), *_timed_after(after, descending)]
            dated = [tasks.c.due_date.is_not(None), *_dated_after(after, query.tz, descending)]
            rows = sorted(
                await self._rows(conditions + timed, tasks.c.due_at, descending, limit)
                + await self._rows(conditions + dated, tasks.c.due_date, descending, limit),
                key=query.order_key,
                reverse=descending,
            )[:limit]
        if len(rows) < limit:
            undated = [NO_DUE]
            if after is not None and after[0] is None:
                undated.append(tasks.c.id < after[1] if descending else tasks.c.id > after[1])
            rows += await self._rows(conditions + undated, None, descending, limit - len(rows))
        return rows

    async def _rows(
        self, conditions: Conditions, column: Any, descending: bool, limit: int
    ) -> list[Task]:
        keys = (tasks.c.id,) if column is None else (column, tasks.c.id)
        order = [k.desc() for k in keys] if descending else list(keys)
        statement = select(tasks).where(*conditions).order_by(*order).limit(limit)
        result = await self._execute(statement)
        return [_task(row) for row in result.mappings()]

    def _filter(self, query: TaskQuery) -> Conditions:
        chosen = query.filter
        conditions = _status(chosen.status)
        if chosen.text is not None:
            conditions.append(tasks.c.search_text.contains(fold(chosen.text), autoescape=True))
        if chosen.priorities:
            conditions.append(tasks.c.priority.in_([p.rank for p in chosen.priorities]))
        if chosen.tags:
            conditions.append(self._any_tag(chosen.tags))
        window = query.due_window()
        if window is not None:
            conditions += _due(window)
        return conditions

    def _any_tag(self, tags: tuple[str, ...]) -> ColumnElement[bool]:
        if self._dialect == "postgresql":
            # JSONB `?|`, which the GIN index on tags serves.
            jsonb = type_coerce(tasks.c.tags, postgresql.JSONB)
            has_any: ColumnElement[bool] = jsonb.has_any(postgresql.array(tags))
            return has_any
        each = func.json_each(tasks.c.tags).table_valued("value")
        return exists(select(literal(1)).select_from(each).where(each.c.value.in_(tags)))

    async def counts(self, user_id: UserId) -> TaskCounts:
        """The user's pending and completed counts, in one grouped query."""
        result = await self._execute(
            select(tasks.c.completed, func.count().label("n"))
            .where(tasks.c.user_id == user_id)
            .group_by(tasks.c.completed)
        )
        by_state = {bool(row["completed"]): int(row["n"]) for row in result.mappings()}
        return TaskCounts(pending=by_state.get(False, 0), completed=by_state.get(True, 0))


class SqlUserRepository(_Statements):
    """Users and local accounts in the `users` table, inside one unit of work."""

    async def get(self, user_id: UserId) -> User | None:
        """The user `user_id`, if known."""
        result = await self._execute(select(users).where(users.c.id == user_id))
        row = result.mappings().one_or_none()
        return None if row is None else _user(row)

    async def ensure(self, user: User) -> None:
        """Insert the user unless its id exists; the first writer's row is kept."""
        values = {"id": user.id, "email": user.email, "name": user.name}
        statement = self._insert(users, values | {"created_at": user.created_at})
        await self._execute(statement.on_conflict_do_nothing(index_elements=[users.c.id]))

    async def account_by_email(self, email_key: str) -> Account | None:
        """The local account whose lower-cased e-mail is `email_key`."""
        if "\x00" in email_key:
            # PostgreSQL text cannot hold NUL, so no stored e-mail has one (and asking would fail).
            return None
        result = await self._execute(
            select(users).where(users.c.email_key == email_key, users.c.password_hash.is_not(None))
        )
        row = result.mappings().one_or_none()
        if row is None:
            return None
        return Account(user=_user(row), password_hash=row["password_hash"])

    async def add_account(self, account: Account, email_key: str) -> None:
        """Insert a local account; Conflict if its e-mail key or id is taken."""
        user = account.user
        statement = self._insert(
            users,
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "created_at": user.created_at,
                "password_hash": account.password_hash,
                "email_key": email_key,
            },
        )
        # ON CONFLICT DO NOTHING (on the id or the e-mail key) instead of catching IntegrityError:
        # a failed statement would abort the whole PostgreSQL transaction, and the caller's
        # unit of work with it.
        result = await self._execute(statement.on_conflict_do_nothing().returning(users.c.id))
        if result.first() is None:
            raise Conflict("An account with this e-mail already exists.")


class SqlIdempotencyRepository(_Statements):
    """Idempotency records in the `idempotency_keys` table, inside one unit of work."""

    async def get(self, user_id: UserId, key: str) -> IdempotencyRecord | None:
        """The record of the user's key, expired or not."""
        result = await self._execute(
            select(idempotency_keys).where(
                idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key
            )
        )
        row = result.mappings().one_or_none()
        return None if row is None else _record(row)

    async def claim(self, record: IdempotencyRecord, expired_by: datetime) -> bool:
        """Insert the record, or overwrite an expired one; nothing while a newer one holds the key.

        The unique key makes a concurrent claim wait for the other transaction to end, then
        see its row: exactly one of them stores a record.
        """
        reply = record.reply
        values: dict[str, object] = {
            "user_id": record.user_id,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "status": reply.status,
            "headers": dict(reply.headers),
            "body": reply.body,
            "created_at": record.created_at,
        }
        statement = self._insert(idempotency_keys, values)
        statement = statement.on_conflict_do_update(
            index_elements=[idempotency_keys.c.user_id, idempotency_keys.c.key],
            set_={name: statement.excluded[name] for name in values},
            where=idempotency_keys.c.created_at <= expired_by,
        )
        result = await self._execute(statement.returning(idempotency_keys.c.key))
        return result.first() is not None

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` expired records, oldest first, skipping rows others have locked."""
        table = idempotency_keys
        # SKIP LOCKED: concurrent purges take disjoint rows instead of waiting on each other.
        doomed = (
            select(table.c.user_id, table.c.key)
            .where(table.c.created_at <= expired_by)
            .order_by(table.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._execute(
            delete(table).where(tuple_(table.c.user_id, table.c.key).in_(doomed))
        )
        return result.rowcount


def _status(status: Status) -> Conditions:
    if status is Status.PENDING:
        return [tasks.c.completed.is_(False)]
    if status is Status.COMPLETED:
        return [tasks.c.completed.is_(True)]
    return []


def _due(window: DueWindow) -> Conditions:
    if window.due is Due.NONE:
        return [NO_DUE]
    dated = [tasks.c.due_date.is_not(None), *_bounded(tasks.c.due_date, window.dates)]
    timed = [tasks.c.due_at.is_not(None), *_bounded(tasks.c.due_at, window.moments)]
    conditions = [or_(and_(*dated), and_(*timed))]
    if window.pending_only:
        conditions.append(tasks.c.completed.is_(False))
    return conditions


def _bounded(column: Any, bounds: tuple[Any, Any]) -> Conditions:
    start, before = bounds
    return [
        *([] if start is None else [column >= start]),
        *([] if before is None else [column < before]),
    ]


def _timed_after(after: Position | None, descending: bool) -> Conditions:
    if after is None:
        return []
    value, after_id = after
    return [_after(tasks.c.due_at, value, after_id, descending=descending)]


def _dated_after(after: Position | None, tz: ZoneInfo, descending: bool) -> Conditions:
    # An all-day task is past `after` when its day starts past the moment, or at the moment
    # with a greater id: translated into dates, since the day start is not a column.
    if after is None:
        return []
    moment, after_id = after
    assert isinstance(moment, datetime)
    day = latest_day_started_by(moment, tz)
    if day is None:
        return [false()] if descending else []
    if day_start(day, tz) == moment:
        return [_after(tasks.c.due_date, day, after_id, descending=descending)]
    return [tasks.c.due_date <= day] if descending else [tasks.c.due_date > day]


def _after(
    column: Any, value: object, after_id: TaskId, *, descending: bool
) -> ColumnElement[bool]:
    # A row-value comparison is one index range condition on PostgreSQL (the spelled-out
    # `col < v OR (col = v AND id < i)` only bounds user_id there, so deep pages would scan),
    # and SQLite (3.15+) bounds its index range by the sort column alike.
    position = tuple_(column, tasks.c.id)
    cursor = tuple_(literal(value, column.type), literal(after_id, tasks.c.id.type))
    return position < cursor if descending else position > cursor


def _task_values(task: Task) -> dict[str, object]:
    return {
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": task.completed_at,
        "priority": task.priority.rank,
        "due_date": task.due_date,
        "due_at": task.due_at,
        "tags": list(task.tags),
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "search_text": search_text(task),
    }


def _task(row: RowMapping) -> Task:
    return Task(
        id=TaskId(row["id"]),
        user_id=UserId(row["user_id"]),
        title=row["title"],
        description=row["description"],
        completed=bool(row["completed"]),
        completed_at=row["completed_at"],
        priority=Priority.from_rank(row["priority"]),
        due_date=row["due_date"],
        due_at=row["due_at"],
        tags=tuple(row["tags"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _user(row: RowMapping) -> User:
    return User(
        id=UserId(row["id"]),
        email=row["email"],
        name=row["name"],
        created_at=row["created_at"],
    )


def _record(row: RowMapping) -> IdempotencyRecord:
    return IdempotencyRecord(
        user_id=UserId(row["user_id"]),
        key=row["key"],
        fingerprint=row["fingerprint"],
        reply=Reply(status=row["status"], headers=row["headers"], body=bytes(row["body"])),
        created_at=row["created_at"],
    )
