"""Users and tasks.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the users and tasks tables with their constraints and list indexes."""
    op.create_table(
        "users",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("email_key", sa.String(254), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_key", name=op.f("uq_users_email_key")),
    )
    op.create_table(
        "tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column(
            "title",
            sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_at", TIMESTAMP, nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tasks_user_id_users"), ondelete="CASCADE"
        ),
        sa.CheckConstraint("length(title) BETWEEN 1 AND 200", name=op.f("ck_tasks_title_length")),
        sa.CheckConstraint(
            "length(description) <= 1000", name=op.f("ck_tasks_description_length")
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name=op.f("ck_tasks_priority_rank")),
        sa.CheckConstraint(
            "NOT (due_date IS NOT NULL AND due_at IS NOT NULL)", name=op.f("ck_tasks_one_due")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_tasks_version_positive")),
        sa.CheckConstraint(
            "completed = (completed_at IS NOT NULL)",
            name=op.f("ck_tasks_completed_at_iff_completed"),
        ),
        sqlite_autoincrement=True,
    )
    for name, columns in _INDEXES:
        op.create_index(op.f(name), "tasks", list(columns))


def downgrade() -> None:
    """Drop the tasks and users tables and everything on them."""
    for name, _ in reversed(_INDEXES):
        op.drop_index(op.f(name), table_name="tasks")
    op.drop_table("tasks")
    op.drop_table("users")


_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_tasks_user_id_created_at_id", ("user_id", "created_at", "id")),
    ("ix_tasks_user_id_updated_at_id", ("user_id", "updated_at", "id")),
    ("ix_tasks_user_id_priority_id", ("user_id", "priority", "id")),
    ("ix_tasks_user_id_title_id", ("user_id", "title", "id")),
    ("ix_tasks_user_id_completed", ("user_id", "completed")),
)
