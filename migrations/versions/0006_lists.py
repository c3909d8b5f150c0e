"""Lists, memberships and invites; every task in a list, placed, with per-list counters.

Every existing user gets a default list ("Inbox") that they own, with their tasks in it in the
order they were created and the counters of 0003 copied onto it; the per-user counters go.
Downgrading gives the tasks back to their lists' owners (subtasks become plain tasks) and
counts them per owner again; lists, memberships and invites are dropped.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import fractional_indexing
import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 1000
DEFAULT_NAME = "Inbox"
COUNTERS = ("tasks_pending", "tasks_completed")
NO_DUE = sa.text("due_date IS NULL AND due_at IS NULL")


def _code_points(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


# Revision 0004's list indexes, by owner (0001 and 0002 made them).
OLD_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_tasks_user_id_created_at_id", ("user_id", "created_at", "id")),
    ("ix_tasks_user_id_updated_at_id", ("user_id", "updated_at", "id")),
    ("ix_tasks_user_id_priority_id", ("user_id", "priority", "id")),
    ("ix_tasks_user_id_title_id", ("user_id", "title", "id")),
    ("ix_tasks_user_id_completed", ("user_id", "completed")),
    ("ix_tasks_user_id_due_at_id", ("user_id", "due_at", "id")),
    ("ix_tasks_user_id_due_date_id", ("user_id", "due_date", "id")),
)
OLD_NO_DUE_INDEX = ("ix_tasks_user_id_id_no_due", ("user_id", "id"))
# This revision's: a keyset scan per list and sort, a parent's subtasks in order.
NEW_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    *(
        (f"ix_tasks_list_id_{column}_id", ("list_id", column, "id"))
        for column in (
            "created_at",
            "updated_at",
            "priority",
            "title",
            "due_at",
            "due_date",
            "position",
        )
    ),
    ("ix_tasks_parent_id_position_id", ("parent_id", "position", "id")),
)
NEW_NO_DUE_INDEX = ("ix_tasks_list_id_id_no_due", ("list_id", "id"))
# PostgreSQL's list indexes also hold what a page filters by, so that its scans read no row.
KEPT = ["completed", "parent_id"]
NEW_TASK_COLUMNS = ("list_id", "parent_id", "position", "created_by")

users = sa.table(
    "users",
    sa.column("id", sa.String()),
    sa.column("tasks_pending", sa.Integer()),
    sa.column("tasks_completed", sa.Integer()),
)
lists = sa.table(
    "lists",
    sa.column("id", ID),
    sa.column("owner_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("is_default", sa.Boolean()),
    sa.column("version", sa.Integer()),
    sa.column("pending", sa.Integer()),
    sa.column("completed", sa.Integer()),
    sa.column("created_at", TIMESTAMP),
    sa.column("updated_at", TIMESTAMP),
)
memberships = sa.table(
    "memberships",
    sa.column("list_id", ID),
    sa.column("user_id", sa.String()),
    sa.column("role", sa.String()),
    sa.column("joined_at", TIMESTAMP),
)
tasks = sa.table(
    "tasks",
    sa.column("id", ID),
    sa.column("user_id", sa.String()),
    sa.column("created_at", TIMESTAMP),
    sa.column("list_id", ID),
    sa.column("position", sa.String()),
    sa.column("created_by", sa.String()),
)


def upgrade() -> None:
    """Create lists, memberships and invites; give every user an Inbox holding their tasks."""
    _create_lists_memberships_invites()
    _default_lists(datetime.now(UTC))
    op.add_column("tasks", sa.Column("list_id", ID, nullable=True))
    op.add_column("tasks", sa.Column("parent_id", ID, nullable=True))
    op.add_column("tasks", sa.Column("position", _code_points(129), nullable=True))
    op.add_column("tasks", sa.Column("created_by", sa.String(255), nullable=True))
    _move_tasks_into_default_lists()
    _drop_indexes(OLD_INDEXES, OLD_NO_DUE_INDEX)
    with _tasks_table() as table:
        for name, kind in (
            ("list_id", ID),
            ("position", _code_points(129)),
            ("created_by", sa.String(255)),
        ):
            table.alter_column(name, existing_type=kind, nullable=False)
        table.drop_constraint("fk_tasks_user_id_users", type_="foreignkey")
        # A task's owner is its list's owner: both columns refer to the list.
        table.create_foreign_key(
            "fk_tasks_user_id_lists",
            "lists",
            ["user_id", "list_id"],
            ["owner_id", "id"],
            ondelete="CASCADE",
        )
        table.create_foreign_key(
            "fk_tasks_parent_id_tasks", "tasks", ["parent_id"], ["id"], ondelete="CASCADE"
        )
    _create_indexes(NEW_INDEXES, NEW_NO_DUE_INDEX)
    # Plain DROP COLUMNs (SQLite 3.35+): the counters live on the lists now.
    for name in reversed(COUNTERS):
        op.drop_column("users", name)


def downgrade() -> None:
    """Give every task back to its list's owner, count them per owner, and drop the lists."""
    for name in COUNTERS:
        op.add_column("users", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    # Every task is its list owner's (tasks.user_id), so an owner's counts are their lists'.
    owned = sa.select(sa.func.coalesce(sa.func.sum(lists.c.pending), 0)).where(
        lists.c.owner_id == users.c.id
    )
    done = sa.select(sa.func.coalesce(sa.func.sum(lists.c.completed), 0)).where(
        lists.c.owner_id == users.c.id
    )
    op.execute(
        users.update().values(
            tasks_pending=owned.scalar_subquery(), tasks_completed=done.scalar_subquery()
        )
    )
    _drop_indexes(NEW_INDEXES, NEW_NO_DUE_INDEX)
    with _tasks_table() as table:
        table.drop_constraint("fk_tasks_parent_id_tasks", type_="foreignkey")
        table.drop_constraint("fk_tasks_user_id_lists", type_="foreignkey")
        table.create_foreign_key(
            "fk_tasks_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        for name in reversed(NEW_TASK_COLUMNS):
            table.drop_column(name)
    _create_indexes(OLD_INDEXES, OLD_NO_DUE_INDEX)
    op.drop_index("ix_invites_expires_at", table_name="invites")
    op.drop_index("ix_invites_list_id_created_at", table_name="invites")
    op.drop_table("invites")
    op.drop_index("ix_memberships_user_id_list_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index("ix_lists_owner_id_default", table_name="lists")
    op.drop_table("lists")


def _create_lists_memberships_invites() -> None:
    op.create_table(
        "lists",
        sa.Column("id", ID, sa.Identity(), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("name", _code_points(100), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_lists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("owner_id", "id", name=op.f("uq_lists_owner_id_id")),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 100", name=op.f("ck_lists_name_length")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_lists_version_positive")),
        sa.CheckConstraint(
            "pending >= 0 AND completed >= 0", name=op.f("ck_lists_counts_not_negative")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_lists_owner_id_default",
        "lists",
        ["owner_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
        sqlite_where=sa.text("is_default"),
    )
    op.create_table(
        "memberships",
        sa.Column("list_id", ID, nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("list_id", "user_id", name=op.f("pk_memberships")),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name=op.f("fk_memberships_list_id_lists"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "role IN ('owner', 'editor', 'viewer')", name=op.f("ck_memberships_role_known")
        ),
    )
    op.create_index("ix_memberships_user_id_list_id", "memberships", ["user_id", "list_id"])
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("list_id", ID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_invites")),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name=op.f("fk_invites_list_id_lists"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_invites_created_by_users"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("role IN ('editor', 'viewer')", name=op.f("ck_invites_role_grantable")),
    )
    op.create_index("ix_invites_list_id_created_at", "invites", ["list_id", "created_at"])
    op.create_index("ix_invites_expires_at", "invites", ["expires_at"])


def _default_lists(now: datetime) -> None:
    # Every user's Inbox, owned, carrying the counters their tasks had.
    op.execute(
        lists.insert().from_select(
            ["owner_id", "name", "is_default", "version", "pending", "completed"]
            + ["created_at", "updated_at"],
            sa.select(
                users.c.id,
                sa.literal(DEFAULT_NAME, sa.String()),
                sa.true(),
                sa.literal(1, sa.Integer()),
                users.c.tasks_pending,
                users.c.tasks_completed,
                sa.literal(now, TIMESTAMP),
                sa.literal(now, TIMESTAMP),
            ).order_by(users.c.id),
        )
    )
    op.execute(
        memberships.insert().from_select(
            ["list_id", "user_id", "role", "joined_at"],
            sa.select(lists.c.id, lists.c.owner_id, sa.literal("owner"), lists.c.created_at),
        )
    )


def _move_tasks_into_default_lists() -> None:
    inbox = sa.select(lists.c.id).where(lists.c.owner_id == tasks.c.user_id, lists.c.is_default)
    op.execute(tasks.update().values(list_id=inbox.scalar_subquery(), created_by=tasks.c.user_id))
    _place_in_created_order()


def _place_in_created_order() -> None:
    # Each owner's tasks in the order they were made (created_at, then id), keyed as new tasks
    # are: a0, a1, … after one another (domain.placement, through the same library). Read in
    # batches along the old (user_id, created_at, id) index, written back a batch at a time.
    bind = op.get_bind()
    order = (tasks.c.user_id, tasks.c.created_at, tasks.c.id)
    write = (
        tasks.update()
        .where(tasks.c.id == sa.bindparam("task_id"))
        .values(position=sa.bindparam("key"))
    )
    owner, key, last = None, None, None
    while True:
        chosen = sa.select(*order).order_by(*order).limit(BATCH)
        if last is not None:
            chosen = chosen.where(sa.tuple_(*order) > sa.tuple_(*last))
        rows = bind.execute(chosen).all()
        if not rows:
            return
        keys: list[dict[str, Any]] = []
        for user_id, _, task_id in rows:
            if user_id != owner:
                owner, key = user_id, None
            key = fractional_indexing.generate_key_between(key, None)
            keys.append({"task_id": task_id, "key": key})
        bind.execute(write, keys)
        last = tuple(rows[-1])


@contextmanager
def _tasks_table() -> Iterator[Any]:
    """Alter `tasks` in place on PostgreSQL; SQLite, which cannot add or drop constraints, gets
    the table rebuilt (batch mode), with its AUTOINCREMENT and its highest id ever handed out."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        with op.batch_alter_table("tasks", recreate="never") as table:
            yield table
        return
    handed_out = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'tasks'"))
    seq = handed_out.scalar()
    with op.batch_alter_table(
        "tasks", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as table:
        yield table
    if seq is not None:
        # The copy leaves the sequence at the greatest id present: ids of tasks deleted from
        # the end would be handed out again.
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = max(seq, :seq) WHERE name = 'tasks'"),
            {"seq": seq},
        )


def _drop_indexes(plain: Sequence[tuple[str, tuple[str, ...]]], no_due: tuple[str, Any]) -> None:
    for name, _ in (*plain, no_due):
        op.drop_index(name, table_name="tasks")


def _create_indexes(
    plain: Sequence[tuple[str, tuple[str, ...]]], no_due: tuple[str, tuple[str, ...]]
) -> None:
    # The list indexes (on list_id) hold KEPT as well; revision 0004's (on user_id) did not.
    for name, columns in plain:
        include = KEPT if columns[0] == "list_id" else []
        op.create_index(name, "tasks", list(columns), postgresql_include=include)
    name, columns = no_due
    op.create_index(
        name,
        "tasks",
        list(columns),
        postgresql_where=NO_DUE,
        sqlite_where=NO_DUE,
        postgresql_include=KEPT if columns[0] == "list_id" else [],
    )
