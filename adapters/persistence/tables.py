"""The schema as SQLAlchemy Core tables; migrations/ creates it, the repositories query it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.identities import ISSUER_MAX, SUBJECT_MAX
from domain.personal_tokens import NAME_MAX as PERSONAL_TOKEN_NAME_MAX
from domain.sessions import SESSION_ID_MAX

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_Processor = Callable[[Any], datetime | None]


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC first: SQLite stores the wall-clock digits and drops the offset."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware one")
        return _in_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to the naive values SQLite returns (asyncpg's need nothing, see below)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return _in_utc(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> _Processor | None:
        """None on asyncpg, which returns every timestamptz aware in UTC already.

        So a prepared statement's rows, which come straight from asyncpg, need no processing
        (executors.Prepared), and SQLAlchemy's rows skip a call per value.
        """
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)


def _in_utc(value: datetime) -> datetime:
    # The service's own moments are UTC already (a write binds five), so they pass as they are.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

users = Table(
    "users",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("email", String(254), nullable=True),
    Column("name", String(255), nullable=True),
    Column("password_hash", Text, nullable=True),
    # Set for local accounts only, so that token-provisioned users never claim an e-mail.
    Column("email_key", String(254), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    # How many of the user's tasks are pending and completed, kept by every write of a task in
    # its own statement or transaction: a list's counts then read one row, whatever the user has.
    Column("tasks_pending", Integer, nullable=False, server_default="0"),
    Column("tasks_completed", Integer, nullable=False, server_default="0"),
    # Every session token of the user issued before this moment has ended (sign-out everywhere,
    # a new password); null while none has.
    Column("sessions_ended_before", UtcDateTime, nullable=True),
)

tasks = Table(
    "tasks",
    metadata,
    # INTEGER PRIMARY KEY on SQLite makes the id the rowid; AUTOINCREMENT keeps deleted ids
    # from being handed out again, as on PostgreSQL and in the memory adapter.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column(
        "user_id",
        String(255),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # Code-point order, as Python's str ordering: "C" on PostgreSQL, SQLite's BINARY by default.
    Column(
        "title",
        String(200).with_variant(String(200, collation="C"), "postgresql"),
        nullable=False,
    ),
    Column("description", String(1000), nullable=True),
    Column("completed", Boolean, nullable=False),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("priority", SmallInteger, nullable=False),
    Column("due_date", Date, nullable=True),
    Column("due_at", UtcDateTime, nullable=True),
    Column("tags", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The folded title and description (domain.queries.search_text), written with every change:
    # text search is then a plain substring match that no database's locale can bend.
    Column("search_text", Text, nullable=False),
    # length() counts characters on both backends, as the domain's rules do.
    CheckConstraint("length(title) BETWEEN 1 AND 200", name="title_length"),
    CheckConstraint("length(description) <= 1000", name="description_length"),
    CheckConstraint("priority BETWEEN 0 AND 3", name="priority_rank"),
    CheckConstraint("NOT (due_date IS NOT NULL AND due_at IS NOT NULL)", name="one_due"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_at_iff_completed"),
    Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
    Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
    Index("ix_tasks_user_id_priority_id", "user_id", "priority", "id"),
    Index("ix_tasks_user_id_title_id", "user_id", "title", "id"),
    Index("ix_tasks_user_id_completed", "user_id", "completed"),
    # The due sort reads three keyset streams: timed, all-day, and (last) the tasks with no due.
    Index("ix_tasks_user_id_due_at_id", "user_id", "due_at", "id"),
    Index("ix_tasks_user_id_due_date_id", "user_id", "due_date", "id"),
    sqlite_autoincrement=True,
)
NO_DUE: Final = and_(tasks.c.due_date.is_(None), tasks.c.due_at.is_(None))
Index(
    "ix_tasks_user_id_id_no_due",
    tasks.c.user_id,
    tasks.c.id,
    postgresql_where=NO_DUE,
    sqlite_where=NO_DUE,
)
# Trigram and JSONB indexes exist on PostgreSQL only; SQLite filters those rows in the scan.
POSTGRES_ONLY_INDEXES: Final = frozenset({"ix_tasks_search_text_trgm", "ix_tasks_tags"})
Index(
    "ix_tasks_search_text_trgm",
    tasks.c.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")
Index("ix_tasks_tags", tasks.c.tags, postgresql_using="gin").ddl_if(dialect="postgresql")


def in_schema_of(name: str | None, kind: str, dialect: str) -> bool:
    """Whether the schema object `name` of `kind` exists on `dialect` (for Alembic's comparisons)."""
    return not (kind == "index" and name in POSTGRES_ONLY_INDEXES and dialect != "postgresql")


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column(
        "user_id",
        String(255),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Purging expired records reads them oldest first.
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# Sessions of the service's own tokens ended before their expiry (sign-out): a record is needed
# only while its token would still verify, and is purged after `expires_at`.
ended_sessions = Table(
    "ended_sessions",
    metadata,
    Column(
        "user_id",
        String(255),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("session_id", String(SESSION_ID_MAX), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_ended_sessions_expires_at", "expires_at"),
)

# Personal access tokens (SPEC §10): only the SHA-256 of each secret is kept, and looked up by it.
personal_tokens = Table(
    "personal_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "user_id",
        String(255),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(PERSONAL_TOKEN_NAME_MAX), nullable=False),
    # The granted scopes, space-separated ("tasks:read tasks:write").
    Column("scopes", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_personal_tokens_user_id_created_at", "user_id", "created_at"),
)

# People signed in by an OpenID Provider, keyed by its issuer and their subject there; never by
# e-mail.
oidc_identities = Table(
    "oidc_identities",
    metadata,
    Column("issuer", String(ISSUER_MAX), primary_key=True),
    Column("subject", String(SUBJECT_MAX), primary_key=True),
    Column(
        "user_id",
        String(255),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_oidc_identities_user_id", "user_id"),
)
