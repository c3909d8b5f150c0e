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
    ForeignKeyConstraint,
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
    UniqueConstraint,
    and_,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.identities import ISSUER_MAX, SUBJECT_MAX
from domain.lists import GRANTABLE_ROLES, LIST_NAME_MAX, Role
from domain.personal_tokens import NAME_MAX as PERSONAL_TOKEN_NAME_MAX
from domain.placement import POSITION_MAX_LENGTH, SEPARATOR
from domain.sessions import SESSION_ID_MAX
from domain.tasks import TITLE_MAX

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

POSITION_LENGTH: Final = 2 * POSITION_MAX_LENGTH + len(SEPARATOR)
"""The longest position: a parent's key, the separator, a subtask's key."""
SORTED_BY: Final = (
    "created_at",
    "updated_at",
    "priority",
    "title",
    "due_at",
    "due_date",
    "position",
)
"""The columns a list is ordered by, each with an index (list_id, column, id)."""
KEPT: Final = ["completed", "parent_id"]
"""What the list indexes also hold on PostgreSQL, so that a page's filters need no row."""

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
    # Every session token of the user issued before this moment has ended (sign-out everywhere,
    # a new password); null while none has.
    Column("sessions_ended_before", UtcDateTime, nullable=True),
)

_ID_TYPE: Final = BigInteger().with_variant(Integer, "sqlite")
"""Ids of tasks and lists: INTEGER PRIMARY KEY on SQLite makes the id the rowid, and
AUTOINCREMENT keeps deleted ids from being handed out again, as on PostgreSQL and in memory."""
_ROLES: Final = ", ".join(f"'{role.value}'" for role in Role)
_GRANTABLE: Final = ", ".join(f"'{role.value}'" for role in GRANTABLE_ROLES)


def _code_points(length: int) -> String:
    # Code-point order, as Python's str ordering: "C" on PostgreSQL, SQLite's BINARY by default.
    return String(length).with_variant(String(length, collation="C"), "postgresql")


lists = Table(
    "lists",
    metadata,
    Column("id", _ID_TYPE, Identity(), primary_key=True),
    Column("owner_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", _code_points(LIST_NAME_MAX), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    # How many of the list's tasks (subtasks too) are pending and completed, kept by every write
    # of a task in its own statement or transaction: counts read one row per list in scope.
    Column("pending", Integer, nullable=False, server_default="0"),
    Column("completed", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The change number (domain.sync) of the newest write in or of the list: its name, its
    # counts, its members, any of its tasks.
    Column("changed", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(f"length(name) BETWEEN 1 AND {LIST_NAME_MAX}", name="name_length"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("pending >= 0 AND completed >= 0", name="counts_not_negative"),
    # What a task's (user_id, list_id) refers to, so that a task's owner is its list's, checked
    # by the database; led by the owner, it also counts the lists one user owns.
    UniqueConstraint("owner_id", "id"),
    sqlite_autoincrement=True,
)
# One default list per owner: concurrent first needs insert one, the others do nothing.
ONE_DEFAULT: Final = Index(
    "ix_lists_owner_id_default",
    lists.c.owner_id,
    unique=True,
    postgresql_where=lists.c.is_default,
    sqlite_where=lists.c.is_default,
)

memberships = Table(
    "memberships",
    metadata,
    Column("list_id", _ID_TYPE, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(255), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    # The change number of the membership's making or last change of role: in the member's
    # feed nothing of the list comes before it.
    Column("changed", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(f"role IN ({_ROLES})", name="role_known"),
    # Every read of tasks starts here: the lists one user belongs to.
    Index("ix_memberships_user_id_list_id", "user_id", "list_id"),
)

invites = Table(
    "invites",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("list_id", _ID_TYPE, ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(f"role IN ({_GRANTABLE})", name="role_grantable"),
    # A list's open invites, oldest first; purging reads the expired ones earliest first.
    Index("ix_invites_list_id_created_at", "list_id", "created_at"),
    Index("ix_invites_expires_at", "expires_at"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", _ID_TYPE, Identity(), primary_key=True),
    # The owner of the task's list (SPEC §7), kept beside list_id so that a task reads as one
    # row; the foreign key on both checks that it is that list's owner.
    Column("user_id", String(255), nullable=False),
    Column("title", _code_points(TITLE_MAX), nullable=False),
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
    Column("list_id", _ID_TYPE, nullable=False),
    Column("parent_id", _ID_TYPE, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=True),
    # Placement keys compare as bytes (domain.placement): a parent's key, ".", a subtask's key.
    Column("position", _code_points(POSITION_LENGTH), nullable=False),
    # Who created the task: kept as it was, also after that user leaves the list or is erased.
    Column("created_by", String(255), nullable=False),
    # The folded title and description (domain.queries.search_text), written with every change:
    # text search is then a plain substring match that no database's locale can bend.
    Column("search_text", Text, nullable=False),
    # The change number of the task's last write (domain.sync).
    Column("changed", BigInteger, nullable=False, server_default="0"),
    ForeignKeyConstraint(
        ["user_id", "list_id"], ["lists.owner_id", "lists.id"], ondelete="CASCADE"
    ),
    # length() counts characters on both backends, as the domain's rules do.
    CheckConstraint("length(title) BETWEEN 1 AND 200", name="title_length"),
    CheckConstraint("length(description) <= 1000", name="description_length"),
    CheckConstraint("priority BETWEEN 0 AND 3", name="priority_rank"),
    CheckConstraint("NOT (due_date IS NOT NULL AND due_at IS NOT NULL)", name="one_due"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_at_iff_completed"),
    # A page of one list, or one list's slice of a page of all: a keyset scan per sort, which
    # reads keys alone (index-only on PostgreSQL, the filters by status and parent included).
    *(
        Index(f"ix_tasks_list_id_{column}_id", "list_id", column, "id", postgresql_include=KEPT)
        for column in SORTED_BY
    ),
    # A parent's subtasks in position order (and the parent's cascade).
    Index("ix_tasks_parent_id_position_id", "parent_id", "position", "id"),
    # A list's tasks in feed order: what changed after a cursor.
    Index("ix_tasks_list_id_changed_id", "list_id", "changed", "id"),
    sqlite_autoincrement=True,
)
NO_DUE: Final = and_(tasks.c.due_date.is_(None), tasks.c.due_at.is_(None))
# The due sort reads three keyset streams per list: timed, all-day, and (last) the tasks with
# no due.
Index(
    "ix_tasks_list_id_id_no_due",
    tasks.c.list_id,
    tasks.c.id,
    postgresql_where=NO_DUE,
    sqlite_where=NO_DUE,
    postgresql_include=KEPT,
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

# Deleted tasks (SPEC §8), each row a task as it was in `tasks` (same columns and id) with who
# deleted it and when. Nothing reads `tasks` through here: a trashed task is simply not a task.
trash = Table(
    "trash",
    metadata,
    *(
        Column(
            column.name,
            column.type,
            primary_key=column.primary_key,
            nullable=column.nullable,
            # The id is the task's, kept for its restore: never handed out here.
            autoincrement=False,
        )
        for column in tasks.columns
    ),
    Column("deleted_at", UtcDateTime, nullable=False),
    Column("deleted_by", String(255), nullable=False),
    # The task whose deletion put this row here: itself, or its parent (restored and purged
    # together with it).
    Column("trash_root", _ID_TYPE, nullable=False),
    # No foreign key to the list, which may be gone; the owner's erasure takes their trash.
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    # An editor's trash page per list; an owner's rows of lists that are gone; the purge;
    # a task's subtasks deleted with it.
    Index("ix_trash_list_id_deleted_at_id", "list_id", "deleted_at", "id"),
    Index("ix_trash_user_id_deleted_at_id", "user_id", "deleted_at", "id"),
    Index("ix_trash_deleted_at", "deleted_at"),
    Index("ix_trash_trash_root", "trash_root"),
)

# What left some member's sight (domain.sync): a task that left `list_id` (trashed, moved out),
# or a list gone for `user_id` (deleted, or their membership ended). No foreign keys: what they
# name is gone, and they go after HISTORY_KEPT by `at`.
tombstones = Table(
    "tombstones",
    metadata,
    Column("id", _ID_TYPE, Identity(), primary_key=True),
    Column("changed", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("entity_id", BigInteger, nullable=False),
    Column("list_id", BigInteger, nullable=True),
    Column("user_id", String(255), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    CheckConstraint(
        "(kind = 'task' AND list_id IS NOT NULL) OR (kind = 'list' AND user_id IS NOT NULL)",
        name="kind_names_whose",
    ),
    # A list's members' deletes and a user's lost lists, in feed order; the purge, oldest first.
    Index("ix_tombstones_list_id_changed", "list_id", "changed"),
    Index("ix_tombstones_user_id_changed", "user_id", "changed"),
    Index("ix_tombstones_at", "at"),
    sqlite_autoincrement=True,
)

# One row: the greatest change number of a purged tombstone (a feed cursor at or below it may
# have missed a delete), and on SQLite the number of the last write (PostgreSQL numbers writes
# by their transaction ids instead).
sync_state = Table(
    "sync_state",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("horizon", BigInteger, nullable=False),
    Column("last_change", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)


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
