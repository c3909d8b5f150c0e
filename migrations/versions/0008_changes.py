"""The change feed: a change number on tasks, lists, memberships and the trash; tombstones; the
purge horizon (and SQLite's write counter).

Existing rows are numbered below 0, where no write ever numbers (PostgreSQL's transaction ids
and SQLite's counter are positive): each task and list a number of its own (in id order), each
membership one below them all. A client's first sync is a full one, which reads every row
whatever its number; distinct numbers keep a later read after its cursor an index range per list
rather than a scan of every task of the lists whose numbers tie.

Revision ID: 0008_changes
Revises: 0007_trash
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_changes"
down_revision: str | Sequence[str] | None = "0007_trash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NUMBERED = ("tasks", "lists", "memberships", "trash")
JOINED_BEFORE_ALL = -(2**62)
"""The number of every membership that existed before this revision: below every row's."""
TOMBSTONE_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_tombstones_list_id_changed", ("list_id", "changed")),
    ("ix_tombstones_user_id_changed", ("user_id", "changed")),
    ("ix_tombstones_at", ("at",)),
)


def upgrade() -> None:
    """Number every row 0, index tasks in feed order, create tombstones and sync_state."""
    for table in NUMBERED:
        op.add_column(
            table, sa.Column("changed", sa.BigInteger(), nullable=False, server_default="0")
        )
    for table in ("tasks", "lists"):
        op.execute(
            f"UPDATE {table} SET changed = id - (SELECT coalesce(max(id), 0) + 1 FROM {table})"
        )
    op.execute(f"UPDATE memberships SET changed = {JOINED_BEFORE_ALL}")
    op.create_index("ix_tasks_list_id_changed_id", "tasks", ["list_id", "changed", "id"])
    op.create_table(
        "tombstones",
        sa.Column("id", ID, sa.Identity(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("list_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        sa.CheckConstraint(
            "(kind = 'task' AND list_id IS NOT NULL) OR (kind = 'list' AND user_id IS NOT NULL)",
            name=op.f("ck_tombstones_kind_names_whose"),
        ),
        sqlite_autoincrement=True,
    )
    for name, columns in TOMBSTONE_INDEXES:
        op.create_index(name, "tombstones", list(columns))
    state = op.create_table(
        "sync_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("horizon", sa.BigInteger(), nullable=False),
        sa.Column("last_change", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_state")),
        sa.CheckConstraint("id = 1", name=op.f("ck_sync_state_one_row")),
    )
    assert state is not None
    op.bulk_insert(state, [{"id": 1, "horizon": 0, "last_change": 0}])


def downgrade() -> None:
    """Drop what upgrade added (the feed's history with it: clients sync in full again)."""
    op.drop_table("sync_state")
    for name, _ in reversed(TOMBSTONE_INDEXES):
        op.drop_index(name, table_name="tombstones")
    op.drop_table("tombstones")
    op.drop_index("ix_tasks_list_id_changed_id", table_name="tasks")
    for table in reversed(NUMBERED):
        with op.batch_alter_table(table, recreate="never") as altered:
            altered.drop_column("changed")
