"""Task and user repositories over one AsyncConnection, with explicit row-to-domain mapping."""

from __future__ import annotations

from typing import Any, Final

import attrs
from sqlalchemy import ColumnElement, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from adapters.persistence.errors import storage_errors
from adapters.persistence.tables import tasks, users
from domain.accounts import Account
from domain.errors import Conflict
from domain.queries import SortField, Status, TaskCounts, TaskQuery
from domain.tasks import Priority, Task
from domain.types import TaskId, UserId
from domain.users import User

_SORT_COLUMNS: Final = {
    SortField.CREATED_AT: tasks.c.created_at,
    SortField.UPDATED_AT: tasks.c.updated_at,
    SortField.PRIORITY: tasks.c.priority,
    SortField.TITLE: tasks.c.title,
}


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
        """One keyset page of the user's matching tasks, ordered by the sort column, then id."""
        column = _SORT_COLUMNS[query.sort.field]
        descending = query.sort.descending
        statement = select(tasks).where(tasks.c.user_id == user_id, *_status(query.filter.status))
        if query.after is not None:
            value, after_id = query.after
            statement = statement.where(_after(column, value, after_id, descending=descending))
        order = (column.desc(), tasks.c.id.desc()) if descending else (column, tasks.c.id)
        result = await self._execute(statement.order_by(*order).limit(query.limit))
        return [_task(row) for row in result.mappings()]

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
        statement = self._insert(values | {"created_at": user.created_at})
        await self._execute(statement.on_conflict_do_nothing(index_elements=[users.c.id]))

    async def account_by_email(self, email_key: str) -> Account | None:
        """The local account whose lower-cased e-mail is `email_key`."""
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
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "created_at": user.created_at,
                "password_hash": account.password_hash,
                "email_key": email_key,
            }
        )
        # ON CONFLICT DO NOTHING (on the id or the e-mail key) instead of catching IntegrityError:
        # a failed statement would abort the whole PostgreSQL transaction, and the caller's
        # unit of work with it.
        result = await self._execute(statement.on_conflict_do_nothing().returning(users.c.id))
        if result.first() is None:
            raise Conflict("An account with this e-mail already exists.")

    def _insert(self, values: dict[str, object]) -> postgresql.Insert | sqlite.Insert:
        # The dialect's own INSERT, for its ON CONFLICT clause.
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        return dialect_insert(users).values(values)


def _status(status: Status) -> tuple[ColumnElement[bool], ...]:
    if status is Status.PENDING:
        return (tasks.c.completed.is_(False),)
    if status is Status.COMPLETED:
        return (tasks.c.completed.is_(True),)
    return ()


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
