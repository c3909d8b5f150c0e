"""The SQL repositories: their statements, one set per dialect where SQL differs, and row mapping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    Integer,
    Table,
    and_,
    bindparam,
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

from adapters.persistence.executors import Executor, Params, Prepared, Row
from adapters.persistence.rows import RECORD_COLUMNS, TASK_COLUMNS, USER_COLUMNS, WRITTEN
from adapters.persistence.rows import record_from_row as _record
from adapters.persistence.rows import task_from_row as _task
from adapters.persistence.rows import task_values as _task_values
from adapters.persistence.rows import user_from_row as _user
from adapters.persistence.tables import (
    NO_DUE,
    ended_sessions,
    idempotency_keys,
    oidc_identities,
    personal_tokens,
    tasks,
    users,
)
from domain.accounts import Account
from domain.errors import Conflict
from domain.idempotency import IdempotencyRecord
from domain.identities import ExternalIdentity
from domain.personal_tokens import PersonalToken
from domain.policy import Scope
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
)
from domain.sessions import EndedSessions, IssuedSession
from domain.tasks import Task
from domain.types import TaskId, UserId
from domain.users import User
from taskservice.ports import FoundToken

_SORT_COLUMNS: Final = {
    SortField.CREATED_AT: tasks.c.created_at,
    SortField.UPDATED_AT: tasks.c.updated_at,
    SortField.PRIORITY: tasks.c.priority,
    SortField.TITLE: tasks.c.title,
}
Conditions = list[ColumnElement[bool]]


def _param(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=tasks.c[name].type)


def _values(table: Table, names: Sequence[str]) -> dict[str, BindParameter[Any]]:
    # Each column's value from the parameter of its name.
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


_COUNTERS_MOVED: Final = {
    "tasks_pending": users.c.tasks_pending + bindparam("pending_delta", type_=Integer),
    "tasks_completed": users.c.tasks_completed + bindparam("completed_delta", type_=Integer),
}


def _counted_by(changed: CTE) -> Prepared:
    # The owner's counters move in the statement that changes the task, so they cannot drift
    # and no transaction holds the owner's row for longer than that statement.
    return Prepared(
        update(users)
        .where(users.c.id == changed.c.user_id)
        .values(_COUNTERS_MOVED)
        .returning(users.c.id)
    )


# Named unlike any column: a column's name is reserved for its value in INSERT and UPDATE.
_OWNER: Final = tasks.c.user_id == bindparam("owner_id", type_=tasks.c.user_id.type)
_THE_TASK: Final = (tasks.c.id == bindparam("task_id", type_=tasks.c.id.type), _OWNER)
_AT_VERSION: Final = tasks.c.version == bindparam("expected_version", type_=Integer)
GET_TASK: Final = Prepared(select(*TASK_COLUMNS).where(*_THE_TASK))
_THE_OWNER: Final = users.c.id == bindparam("owner_id", type_=users.c.id.type)
COUNTS: Final = Prepared(select(users.c.tasks_pending, users.c.tasks_completed).where(_THE_OWNER))
_UPDATE_TASK: Final = (
    update(tasks).where(*_THE_TASK, _AT_VERSION).values({n: _param(n) for n in WRITTEN})
)
UPDATE_TASK: Final = Prepared(_UPDATE_TASK.returning(tasks.c.id))
UPDATE_COUNTED_TASK: Final = _counted_by(_UPDATE_TASK.returning(tasks.c.user_id).cte("changed"))
_DELETE_TASK: Final = delete(tasks).where(*_THE_TASK, _AT_VERSION)
DELETE_TASK: Final = Prepared(_DELETE_TASK.returning(tasks.c.id))
DELETE_COUNTED_TASK: Final = _counted_by(_DELETE_TASK.returning(tasks.c.user_id).cte("gone"))
INSERT_TASK: Final = Prepared(
    insert(tasks)
    .values(user_id=bindparam("owner_id"), **{n: _param(n) for n in WRITTEN})
    .returning(tasks.c.id)
)


def _owner_upsert(dialect_insert: Any) -> Any:
    # Provisions a first-seen owner and counts the new task in one statement.
    values = dialect_insert(users).values(
        id=bindparam("owner_id", type_=users.c.id.type),
        email=bindparam("email", type_=users.c.email.type),
        created_at=bindparam("user_created_at", type_=users.c.created_at.type),
        tasks_pending=bindparam("pending_delta", type_=Integer),
        tasks_completed=bindparam("completed_delta", type_=Integer),
    )
    return values.on_conflict_do_update(
        index_elements=[users.c.id],
        set_={
            "tasks_pending": users.c.tasks_pending + values.excluded.tasks_pending,
            "tasks_completed": users.c.tasks_completed + values.excluded.tasks_completed,
        },
    ).returning(users.c.id)


COUNT_OWNER_SQLITE: Final = Prepared(_owner_upsert(sqlite.insert))
_OWNER_CTE: Final = _owner_upsert(postgresql.insert).cte("owner")
INSERT_COUNTED_TASK_POSTGRES: Final = Prepared(
    insert(tasks)
    .from_select(
        ["user_id", *WRITTEN],
        select(_OWNER_CTE.c.id, *[_param(n) for n in WRITTEN]),
    )
    .returning(tasks.c.id)
    .add_cte(_OWNER_CTE)
)
COUNT_CHANGE_SQLITE: Final = Prepared(
    update(users).where(_THE_OWNER).values(_COUNTERS_MOVED).returning(users.c.id)
)
_PAGES: dict[tuple[SortField, bool, Status, bool, bool], Prepared] = {}
# The owner's counts beside every row of a page: one round trip where two would cost 30 us
# of the reference app's 490 per list (make bench), and more of the service's.
_COUNT_COLUMNS: Final = (
    select(users.c.tasks_pending).where(_THE_OWNER).scalar_subquery(),
    select(users.c.tasks_completed).where(_THE_OWNER).scalar_subquery(),
)


# A user's cut-off beside each of their ended sessions still unexpired (one row, NULL, for none):
# read whenever a process's knowledge of the user is over a second old, so compiled once.
ENDED_SESSIONS: Final = Prepared(
    select(users.c.sessions_ended_before, ended_sessions.c.session_id)
    .select_from(
        users.outerjoin(
            ended_sessions,
            and_(
                ended_sessions.c.user_id == users.c.id,
                ended_sessions.c.expires_at
                > bindparam("now", type_=ended_sessions.c.expires_at.type),
            ),
        )
    )
    .where(_THE_OWNER)
)
_BEFORE: Final = bindparam("before", type_=users.c.sessions_ended_before.type)
END_ALL_SESSIONS: Final = Prepared(
    update(users)
    .where(
        _THE_OWNER,
        or_(users.c.sessions_ended_before.is_(None), users.c.sessions_ended_before < _BEFORE),
    )
    .values(sessions_ended_before=_BEFORE)
)


def _purge(table: Table, key: str, moment: str) -> Prepared:
    # Up to `limit` rows expired by `expired_by`, oldest first. SKIP LOCKED: concurrent purges
    # take disjoint rows instead of waiting on each other.
    doomed = (
        select(table.c.user_id, table.c[key])
        .where(table.c[moment] <= bindparam("expired_by", type_=table.c[moment].type))
        .order_by(table.c[moment])
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    doomed_keys = tuple_(table.c.user_id, table.c[key]).in_(doomed)
    return Prepared(delete(table).where(doomed_keys).returning(table.c[key]))


PURGE_RECORDS: Final = _purge(idempotency_keys, "key", "created_at")
PURGE_ENDED_SESSIONS: Final = _purge(ended_sessions, "session_id", "expires_at")
_ACCOUNT: Final = ("id", "email", "name", "created_at", "password_hash", "email_key")


def _ensure_user(dialect_insert: Any) -> Prepared:
    values = dialect_insert(users).values(_values(users, ("id", "email", "name", "created_at")))
    return Prepared(values.on_conflict_do_nothing(index_elements=[users.c.id]))


def _add_account(dialect_insert: Any) -> Prepared:
    # ON CONFLICT DO NOTHING (on the id or the e-mail key) instead of catching IntegrityError:
    # a failed statement would abort the whole PostgreSQL transaction, and the caller's unit of
    # work with it.
    values = dialect_insert(users).values(_values(users, _ACCOUNT))
    return Prepared(values.on_conflict_do_nothing().returning(users.c.id))


def _claim_record(dialect_insert: Any) -> Prepared:
    # The unique key makes a concurrent claim wait for the other transaction to end, then see
    # its row: exactly one of them stores a record.
    table = idempotency_keys
    names = [column.name for column in RECORD_COLUMNS]
    values = dialect_insert(table).values(_values(table, names))
    claimed = values.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.key],
        set_={name: values.excluded[name] for name in names},
        where=table.c.created_at <= bindparam("expired_by", type_=table.c.created_at.type),
    )
    return Prepared(claimed.returning(table.c.key))


def _end_session(dialect_insert: Any) -> Prepared:
    values = _values(ended_sessions, ("user_id", "session_id", "expires_at"))
    return Prepared(dialect_insert(ended_sessions).values(values).on_conflict_do_nothing())


def _add_identity(dialect_insert: Any) -> Prepared:
    # DO NOTHING rather than an IntegrityError, which would abort a PostgreSQL transaction: two
    # first sign-ins of one person at once store one identity, and the loser's user is not kept.
    values = _values(oidc_identities, ("issuer", "subject", "user_id", "created_at"))
    inserted = dialect_insert(oidc_identities).values(values).on_conflict_do_nothing()
    return Prepared(inserted.returning(oidc_identities.c.user_id))


_THE_USER: Final = users.c.id == bindparam("user_id", type_=users.c.id.type)
PASSWORD_HASH: Final = Prepared(select(users.c.password_hash).where(_THE_USER))
SET_PASSWORD: Final = Prepared(
    update(users)
    .where(_THE_USER, users.c.password_hash.is_not(None))
    .values(password_hash=bindparam("password_hash", type_=users.c.password_hash.type))
    .returning(users.c.id)
)
# Every table that holds a user's data refers to users.id with ON DELETE CASCADE, so one
# statement erases it all, in the transaction of its unit of work.
DELETE_USER: Final = Prepared(delete(users).where(_THE_USER).returning(users.c.id))
_TOKEN_COLUMNS: Final = (
    personal_tokens.c.id,
    personal_tokens.c.user_id,
    personal_tokens.c.name,
    personal_tokens.c.scopes,
    personal_tokens.c.created_at,
    personal_tokens.c.expires_at,
)
ADD_TOKEN: Final = Prepared(
    insert(personal_tokens).values(
        _values(personal_tokens, [c.name for c in (*_TOKEN_COLUMNS, personal_tokens.c.token_hash)])
    )
)
# A token's check reads its owner's cut-off with it: one round trip for everything it needs.
FIND_TOKEN: Final = Prepared(
    select(*_TOKEN_COLUMNS, personal_tokens.c.token_hash, users.c.sessions_ended_before)
    .select_from(personal_tokens.join(users, users.c.id == personal_tokens.c.user_id))
    .where(
        personal_tokens.c.token_hash
        == bindparam("token_hash", type_=personal_tokens.c.token_hash.type)
    )
)
TOKENS_OF_USER: Final = Prepared(
    select(*_TOKEN_COLUMNS)
    .where(personal_tokens.c.user_id == bindparam("user_id", type_=personal_tokens.c.user_id.type))
    .order_by(personal_tokens.c.created_at.desc(), personal_tokens.c.id)
)
DELETE_TOKEN: Final = Prepared(
    delete(personal_tokens)
    .where(
        personal_tokens.c.id == bindparam("token_id", type_=personal_tokens.c.id.type),
        personal_tokens.c.user_id == bindparam("user_id", type_=personal_tokens.c.user_id.type),
    )
    .returning(personal_tokens.c.id)
)
USER_OF_IDENTITY: Final = Prepared(
    select(*USER_COLUMNS)
    .select_from(users.join(oidc_identities, oidc_identities.c.user_id == users.c.id))
    .where(
        oidc_identities.c.issuer == bindparam("issuer", type_=oidc_identities.c.issuer.type),
        oidc_identities.c.subject == bindparam("subject", type_=oidc_identities.c.subject.type),
    )
)

IDENTITIES_OF_USER: Final = Prepared(
    select(oidc_identities.c.issuer, oidc_identities.c.subject)
    .where(oidc_identities.c.user_id == bindparam("user_id", type_=oidc_identities.c.user_id.type))
    .order_by(oidc_identities.c.created_at, oidc_identities.c.issuer, oidc_identities.c.subject)
)


def _jsonb_has_any(tags: tuple[str, ...]) -> ColumnElement[bool]:
    # JSONB `?|`, which the GIN index on tags serves.
    jsonb = type_coerce(tasks.c.tags, postgresql.JSONB)
    has_any: ColumnElement[bool] = jsonb.has_any(postgresql.array(tags))
    return has_any


def _json_each_has_any(tags: tuple[str, ...]) -> ColumnElement[bool]:
    each = func.json_each(tasks.c.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value.in_(tags)))


Steps = tuple[Prepared, ...]
"""Statements run in order while each returns a row; what the last one run returns is the answer.

PostgreSQL does in one statement, with CTEs, what SQLite does in two.
"""


@attrs.frozen(kw_only=True)
class Statements:
    """The statements whose SQL differs between dialects: one set per dialect, same names."""

    add_task: Steps
    update_counted_task: Steps
    delete_task: Steps
    ensure_user: Prepared
    add_account: Prepared
    claim_record: Prepared
    end_session: Prepared
    add_identity: Prepared
    any_tag: Callable[[tuple[str, ...]], ColumnElement[bool]]


STATEMENTS: Final = {
    "postgresql": Statements(
        add_task=(INSERT_COUNTED_TASK_POSTGRES,),
        update_counted_task=(UPDATE_COUNTED_TASK,),
        delete_task=(DELETE_COUNTED_TASK,),
        ensure_user=_ensure_user(postgresql.insert),
        add_account=_add_account(postgresql.insert),
        claim_record=_claim_record(postgresql.insert),
        end_session=_end_session(postgresql.insert),
        add_identity=_add_identity(postgresql.insert),
        any_tag=_jsonb_has_any,
    ),
    "sqlite": Statements(
        add_task=(COUNT_OWNER_SQLITE, INSERT_TASK),
        update_counted_task=(UPDATE_TASK, COUNT_CHANGE_SQLITE),
        delete_task=(DELETE_TASK, COUNT_CHANGE_SQLITE),
        ensure_user=_ensure_user(sqlite.insert),
        add_account=_add_account(sqlite.insert),
        claim_record=_claim_record(sqlite.insert),
        end_session=_end_session(sqlite.insert),
        add_identity=_add_identity(sqlite.insert),
        any_tag=_json_each_has_any,
    ),
}
"""Each dialect's statements, chosen once per database (unit_of_work.SqlUnitOfWorkFactory)."""


class SqlRepository:
    """Runs statements through a unit of work's executor, in its dialect."""

    def __init__(self, executor: Executor, statements: Statements) -> None:
        self._fetch = executor.fetch
        self._sql = statements

    async def _steps(self, steps: Steps, params: Params) -> Sequence[Row]:
        rows: Sequence[Row] = ()
        for statement in steps:
            rows = await self._fetch(statement, params)
            if not rows:
                break
        return rows


class SqlTaskRepository(SqlRepository):
    """A user's tasks in the `tasks` table, and their counts in `users`, inside one unit of work."""

    async def add(self, task: Task, owner: User) -> Task:
        """Insert a new task, and its owner if first seen, and return it with its id."""
        params = {
            **_task_values(task),
            "owner_id": task.user_id,
            "email": owner.email,
            "user_created_at": owner.created_at,
            **_deltas(task, +1),
        }
        rows = await self._steps(self._sql.add_task, params)
        return attrs.evolve(task, id=TaskId(rows[0][0]))

    async def get(self, user_id: UserId, task_id: TaskId) -> Task | None:
        """The task if it exists and belongs to `user_id`."""
        rows = await self._fetch(GET_TASK, {"task_id": task_id, "owner_id": user_id})
        return _task(rows[0]) if rows else None

    async def replace(self, task: Task, previous: Task) -> bool:
        """Overwrite `previous` with `task` in one statement if it is still at its version."""
        params = {
            **_task_values(task),
            "task_id": task.id,
            "owner_id": task.user_id,
            "expected_version": previous.version,
        }
        if task.completed == previous.completed:
            return bool(await self._fetch(UPDATE_TASK, params))
        moved = {
            "pending_delta": -1 if task.completed else +1,
            "completed_delta": +1 if task.completed else -1,
        }
        return bool(await self._steps(self._sql.update_counted_task, params | moved))

    async def remove(self, task: Task) -> bool:
        """Delete the task if the stored one is still at `task.version`."""
        params = {
            "task_id": task.id,
            "owner_id": task.user_id,
            "expected_version": task.version,
            **_deltas(task, -1),
        }
        return bool(await self._steps(self._sql.delete_task, params))

    async def page(self, user_id: UserId, query: TaskQuery) -> list[Task]:
        """One keyset page of the user's matching tasks, ordered by the sort value, then id."""
        if _is_simple(query):
            return [_task(row) for row in await self._simple_page(user_id, query, counted=False)]
        conditions = [tasks.c.user_id == user_id, *self._filter(query)]
        if query.sort.field is SortField.DUE:
            return await self._page_by_due(conditions, query)
        column = _SORT_COLUMNS[query.sort.field]
        descending = query.sort.descending
        if query.after is not None:
            value, after_id = query.after
            position = (literal(value, column.type), literal(after_id, tasks.c.id.type))
            conditions.append(_after(column, *position, descending=descending))
        return await self._rows(conditions, column, descending, query.limit)

    async def page_with_counts(
        self, user_id: UserId, query: TaskQuery
    ) -> tuple[list[Task], TaskCounts]:
        """`page` and `counts`: in one statement for a list sorted by a column and by status."""
        if not _is_simple(query):
            return await self.page(user_id, query), await self.counts(user_id)
        rows = await self._simple_page(user_id, query, counted=True)
        if not rows:
            return [], await self.counts(user_id)
        pending, completed = rows[0][-2:]
        return [_task(row) for row in rows], TaskCounts(pending=pending, completed=completed)

    async def _simple_page(
        self, user_id: UserId, query: TaskQuery, *, counted: bool
    ) -> Sequence[Row]:
        # The common list, sorted by a column and filtered by status at most: its statement is
        # prepared once per shape instead of built per request.
        sort, after = query.sort, query.after
        shape = (sort.field, sort.descending, query.filter.status, after is not None, counted)
        statement = _PAGES.get(shape)
        if statement is None:
            statement = _PAGES[shape] = page_statement(*shape)
        params: dict[str, Any] = {"owner_id": user_id, "limit": query.limit}
        if after is not None:
            params["after_value"], params["after_id"] = after
        return await self._fetch(statement, params)

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
        statement = select(*TASK_COLUMNS).where(*conditions)
        statement = statement.order_by(*_order(column, descending)).limit(limit)
        return [_task(row) for row in await self._fetch(statement)]

    def _filter(self, query: TaskQuery) -> Conditions:
        chosen = query.filter
        conditions = _status(chosen.status)
        if chosen.text is not None:
            conditions.append(tasks.c.search_text.contains(fold(chosen.text), autoescape=True))
        if chosen.priorities:
            conditions.append(tasks.c.priority.in_([p.rank for p in chosen.priorities]))
        if chosen.tags:
            conditions.append(self._sql.any_tag(chosen.tags))
        window = query.due_window()
        if window is not None:
            conditions += _due(window)
        return conditions

    async def counts(self, user_id: UserId) -> TaskCounts:
        """The user's pending and completed counts, from the counters every write keeps."""
        rows = await self._fetch(COUNTS, {"owner_id": user_id})
        pending, completed = rows[0] if rows else (0, 0)
        return TaskCounts(pending=pending, completed=completed)


class SqlUserRepository(SqlRepository):
    """Users and local accounts in the `users` table, inside one unit of work."""

    async def get(self, user_id: UserId) -> User | None:
        """The user `user_id`, if known."""
        rows = await self._fetch(select(*USER_COLUMNS).where(users.c.id == user_id))
        return _user(rows[0]) if rows else None

    async def ensure(self, user: User) -> None:
        """Insert the user unless its id exists; the first writer's row is kept."""
        values = {"id": user.id, "email": user.email, "name": user.name}
        await self._fetch(self._sql.ensure_user, values | {"created_at": user.created_at})

    async def account_by_email(self, email_key: str) -> Account | None:
        """The local account whose lower-cased e-mail is `email_key`."""
        if "\x00" in email_key:
            # PostgreSQL text cannot hold NUL, so no stored e-mail has one (and asking would fail).
            return None
        rows = await self._fetch(
            select(*USER_COLUMNS, users.c.password_hash).where(
                users.c.email_key == email_key, users.c.password_hash.is_not(None)
            )
        )
        if not rows:
            return None
        return Account(user=_user(rows[0]), password_hash=rows[0][-1])

    async def add_account(self, account: Account, email_key: str) -> None:
        """Insert a local account; Conflict if its e-mail key or id is taken."""
        user = account.user
        values = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "created_at": user.created_at,
            "password_hash": account.password_hash,
            "email_key": email_key,
        }
        if not await self._fetch(self._sql.add_account, values):
            raise Conflict("An account with this e-mail already exists.")

    async def password_hash(self, user_id: UserId) -> str | None:
        """The user's password hash; None without one."""
        rows = await self._fetch(PASSWORD_HASH, {"user_id": user_id})
        return rows[0][0] if rows else None

    async def set_password(self, user_id: UserId, password_hash: str) -> bool:
        """Replace the hash of a user who has a password."""
        params = {"user_id": user_id, "password_hash": password_hash}
        return bool(await self._fetch(SET_PASSWORD, params))

    async def remove(self, user_id: UserId) -> bool:
        """Delete the user's row, and by the foreign keys' cascade everything they own."""
        return bool(await self._fetch(DELETE_USER, {"user_id": user_id}))


class SqlPersonalTokenRepository(SqlRepository):
    """Personal access tokens in `personal_tokens`, found by the hash of their secret."""

    async def add(self, token: PersonalToken, token_hash: str) -> None:
        """Insert the token with its hash."""
        values = {
            "id": token.id,
            "user_id": token.user_id,
            "name": token.name,
            "scopes": _scopes_text(token.scopes),
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "token_hash": token_hash,
        }
        await self._fetch(ADD_TOKEN, values)

    async def of_user(self, user_id: UserId) -> list[PersonalToken]:
        """The user's tokens, newest first."""
        return [_token(row) for row in await self._fetch(TOKENS_OF_USER, {"user_id": user_id})]

    async def find(self, token_hash: str) -> FoundToken | None:
        """The token stored under `token_hash`, with its owner's cut-off."""
        rows = await self._fetch(FIND_TOKEN, {"token_hash": token_hash})
        if not rows:
            return None
        row = rows[0]
        return FoundToken(token=_token(row), token_hash=row[6], sessions_ended_before=row[7])

    async def remove(self, user_id: UserId, token_id: str) -> bool:
        """Delete the user's token."""
        return bool(await self._fetch(DELETE_TOKEN, {"user_id": user_id, "token_id": token_id}))


def _scopes_text(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(scope.value for scope in scopes))


def _token(row: Row) -> PersonalToken:
    token_id, user_id, name, scopes, created_at, expires_at = row[:6]
    return PersonalToken(
        id=token_id,
        user_id=UserId(user_id),
        name=name,
        scopes=frozenset(Scope(s) for s in scopes.split()),
        created_at=created_at,
        expires_at=expires_at,
    )


class SqlIdentityRepository(SqlRepository):
    """OpenID Connect identities in `oidc_identities`, each naming its user."""

    async def user_of(self, issuer: str, subject: str) -> User | None:
        """The user of the identity, if it signed in before."""
        rows = await self._fetch(USER_OF_IDENTITY, {"issuer": issuer, "subject": subject})
        return _user(rows[0]) if rows else None

    async def of_user(self, user_id: UserId) -> list[ExternalIdentity]:
        """The user's identities, oldest first."""
        rows = await self._fetch(IDENTITIES_OF_USER, {"user_id": user_id})
        return [ExternalIdentity(issuer=issuer, subject=subject) for issuer, subject in rows]

    async def add(self, identity: ExternalIdentity, user: User) -> bool:
        """Insert the user, then the identity naming it; False if the identity was taken."""
        values = {"id": user.id, "email": user.email, "name": user.name}
        await self._fetch(self._sql.ensure_user, values | {"created_at": user.created_at})
        params = {
            "issuer": identity.issuer,
            "subject": identity.subject,
            "user_id": user.id,
            "created_at": user.created_at,
        }
        return bool(await self._fetch(self._sql.add_identity, params))


class SqlIdempotencyRepository(SqlRepository):
    """Idempotency records in the `idempotency_keys` table, inside one unit of work."""

    async def get(self, user_id: UserId, key: str) -> IdempotencyRecord | None:
        """The record of the user's key, expired or not."""
        table = idempotency_keys
        rows = await self._fetch(
            select(*RECORD_COLUMNS).where(table.c.user_id == user_id, table.c.key == key)
        )
        return _record(rows[0]) if rows else None

    async def claim(self, record: IdempotencyRecord, expired_by: datetime) -> bool:
        """Insert the record, or overwrite an expired one; nothing while a newer one holds the key."""
        reply = record.reply
        values = {
            "user_id": record.user_id,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "status": reply.status,
            "headers": dict(reply.headers),
            "body": reply.body,
            "created_at": record.created_at,
            "expired_by": expired_by,
        }
        return bool(await self._fetch(self._sql.claim_record, values))

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` expired records, oldest first, skipping rows others have locked."""
        params = {"expired_by": expired_by, "limit": limit}
        return len(await self._fetch(PURGE_RECORDS, params))


class SqlSessionRepository(SqlRepository):
    """Ended sessions in `ended_sessions`, and each user's cut-off in `users`, in one unit of work."""

    async def end(self, user_id: UserId, session: IssuedSession) -> None:
        """Insert the session's end unless it is recorded already."""
        values = {"user_id": user_id, "session_id": session.id, "expires_at": session.expires_at}
        await self._fetch(self._sql.end_session, values)

    async def end_all(self, user_id: UserId, before: datetime) -> None:
        """Move the user's cut-off to `before`, unless it is later already."""
        await self._fetch(END_ALL_SESSIONS, {"owner_id": user_id, "before": before})

    async def ended(self, user_id: UserId, now: datetime) -> EndedSessions | None:
        """The user's cut-off and unexpired ended sessions, in one statement; None for no user."""
        rows = await self._fetch(ENDED_SESSIONS, {"owner_id": user_id, "now": now})
        if not rows:
            return None
        ids = frozenset(row[1] for row in rows if row[1] is not None)
        return EndedSessions(before=rows[0][0], ids=ids)

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` expired records, earliest first, skipping rows others have locked."""
        params = {"expired_by": expired_by, "limit": limit}
        return len(await self._fetch(PURGE_ENDED_SESSIONS, params))


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
    position = (literal(value, tasks.c.due_at.type), literal(after_id, tasks.c.id.type))
    return [_after(tasks.c.due_at, *position, descending=descending)]


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
        position = (literal(day, tasks.c.due_date.type), literal(after_id, tasks.c.id.type))
        return [_after(tasks.c.due_date, *position, descending=descending)]
    return [tasks.c.due_date <= day] if descending else [tasks.c.due_date > day]


def _after(
    column: Any, value: ColumnElement[Any], after_id: ColumnElement[Any], *, descending: bool
) -> ColumnElement[bool]:
    # A row-value comparison is one index range condition on PostgreSQL (the spelled-out
    # `col < v OR (col = v AND id < i)` only bounds user_id there, so deep pages would scan),
    # and SQLite (3.15+) bounds its index range by the sort column alike.
    position = tuple_(column, tasks.c.id)
    cursor = tuple_(value, after_id)
    return position < cursor if descending else position > cursor


def _order(column: Any, descending: bool) -> list[Any]:
    keys = (tasks.c.id,) if column is None else (column, tasks.c.id)
    return [k.desc() for k in keys] if descending else list(keys)


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


def page_statement(
    field: SortField, descending: bool, status: Status, continued: bool, counted: bool
) -> Prepared:
    """The page of a list sorted by a column and filtered by status at most, prepared per shape."""
    column = _SORT_COLUMNS[field]
    conditions = [_OWNER, *_status(status)]
    if continued:
        value = bindparam("after_value", type_=column.type)
        after_id = bindparam("after_id", type_=tasks.c.id.type)
        conditions.append(_after(column, value, after_id, descending=descending))
    columns = (*TASK_COLUMNS, *_COUNT_COLUMNS) if counted else TASK_COLUMNS
    statement = select(*columns).where(*conditions).order_by(*_order(column, descending))
    return Prepared(statement.limit(bindparam("limit", type_=Integer)))


def _deltas(task: Task, sign: int) -> dict[str, int]:
    return {
        "pending_delta": 0 if task.completed else sign,
        "completed_delta": sign if task.completed else 0,
    }
