"""The trash: deleted tasks kept for 30 days, each with who deleted it, when, and with what.

Revision ID: 0007_trash
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007_trash"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_trash_list_id_deleted_at_id", ("list_id", "deleted_at", "id")),
    ("ix_trash_user_id_deleted_at_id", ("user_id", "deleted_at", "id")),
    ("ix_trash_deleted_at", ("deleted_at",)),
    ("ix_trash_trash_root", ("trash_root",)),
)


def _code_points(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the trash table: every column of tasks, and the deletion's who, when and root."""
    op.create_table(
        "trash",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("title", _code_points(200), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_at", TIMESTAMP, nullable=True),
        sa.Column("tags", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("list_id", ID, nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("position", _code_points(129), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=False),
        sa.Column("deleted_by", sa.String(255), nullable=False),
        sa.Column("trash_root", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trash")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_trash_user_id_users"), ondelete="CASCADE"
        ),
    )
    for name, columns in INDEXES:
        op.create_index(name, "trash", list(columns))


def downgrade() -> None:
    """Drop the trash (its tasks are lost: they were deleted)."""
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="trash")
    op.drop_table("trash")
