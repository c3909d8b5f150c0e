"""The statements of every dialect, and the repositories of users, idempotency records and sessions.

Tasks (tasks.py, with their pages in pages.py) and lists (lists.py) have modules of their own;
what differs between dialects is gathered here, one `Statements` set per dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BindParameter,
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import changes as change_sql
from adapters.persistence import lists as list_sql
from adapters.persistence import tasks as task_sql
from adapters.persistence import trash as trash_sql
from adapters.persistence.executors import Prepared, Row
from adapters.persistence.numbering import BUMP
from adapters.persistence.pages import Pages, correlated_page, lateral_page
from adapters.persistence.rows import RECORD_COLUMNS, USER_COLUMNS
from adapters.persistence.rows import record_from_row as _record
from adapters.persistence.rows import user_from_row as _user
from adapters.persistence.statements import SqlRepository, Statements, Steps
from adapters.persistence.tables import (
    ended_sessions,
    idempotency_keys,
    oidc_identities,
    personal_tokens,
    users,
)
from domain.accounts import Account
from domain.errors import Conflict
from domain.idempotency import IdempotencyRecord
from domain.identities import ExternalIdentity
from domain.personal_tokens import PersonalToken
from domain.policy import Scope
from domain.sessions import EndedSessions, IssuedSession
from domain.types import UserId
from domain.users import User
from taskservice.ports import FoundToken

__all__ = ["STATEMENTS", "SqlRepository", "Statements", "Steps"]


def _values(table: Table, names: Sequence[str]) -> dict[str, BindParameter[Any]]:
    # Each column's value from the parameter of its name.
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


# Named unlike any column: a column's name is reserved for its value in INSERT and UPDATE.
_THE_OWNER: Final = users.c.id == bindparam("owner_id", type_=users.c.id.type)


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

    async def remove(self, user_id: UserId, now: datetime) -> bool:
        """Delete the user's row, and by the foreign keys' cascade everything they own; the
        members of their lists lose them in their feeds."""
        done = bool(await self._steps(self._sql.remove_user, {"user_id": user_id, "at": now}))
        if done:
            # Their lists go, and with them other members' access: too many to name here.
            self._touched.everything()
        return done


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


def _statements(dialect: str, dialect_insert: Any, pages: Pages, any_tag: Any) -> Statements:
    # The dialect's set: each field the statement of its name for that dialect.
    return Statements(
        add_task=task_sql.ADD_TASK[dialect],
        recount_task=task_sql.RECOUNT_TASK[dialect],
        move_task=task_sql.MOVE_TASK[dialect],
        delete_task=task_sql.DELETE_TASK[dialect],
        pages=pages,
        trash_page=trash_sql.PAGE[dialect],
        any_tag=any_tag,
        add_list=list_sql.ADD_LIST[dialect],
        add_default_list=list_sql.ADD_DEFAULT_LIST[dialect],
        replace_list=list_sql.LIST_WRITES[dialect]["replace_list"],
        remove_list=list_sql.LIST_WRITES[dialect]["remove_list"],
        add_member=list_sql.LIST_WRITES[dialect]["add_member"],
        set_role=list_sql.LIST_WRITES[dialect]["set_role"],
        remove_member=list_sql.LIST_WRITES[dialect]["remove_member"],
        remove_user=change_sql.REMOVE_USER[dialect],
        feed=change_sql.FEED[dialect],
        purge=change_sql.PURGE[dialect],
        bump=BUMP[dialect],
        restore_task=trash_sql.RESTORE[dialect]["restore_task"],
        recount_restored=trash_sql.RESTORE[dialect]["recount_restored"],
        ensure_user=_ensure_user(dialect_insert),
        add_account=_add_account(dialect_insert),
        claim_record=_claim_record(dialect_insert),
        end_session=_end_session(dialect_insert),
        add_identity=_add_identity(dialect_insert),
    )


STATEMENTS: Final = {
    "postgresql": _statements(
        "postgresql", postgresql.insert, Pages(lateral_page), task_sql.jsonb_has_any
    ),
    "sqlite": _statements(
        "sqlite", sqlite.insert, Pages(correlated_page), task_sql.json_each_has_any
    ),
}
"""Each dialect's statements, chosen once per database (unit_of_work.SqlUnitOfWorkFactory)."""
