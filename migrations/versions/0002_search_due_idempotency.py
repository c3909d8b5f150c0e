"""Text search, due sorting and idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)
NO_DUE = sa.text("due_date IS NULL AND due_at IS NULL")
BACKFILL_BATCH = 1000


def upgrade() -> None:
    """Add the folded search text, the due and text/tag indexes, and the idempotency_keys table."""
    postgres = op.get_bind().dialect.name == "postgresql"
    # SQLite cannot add a NOT NULL column without a default; PostgreSQL drops it after the backfill.
    op.add_column(
        "tasks", sa.Column("search_text", sa.Text(), nullable=False, server_default="")
    )
    _backfill_search_text()
    if postgres:
        op.alter_column("tasks", "search_text", server_default=None)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            op.f("ix_tasks_search_text_trgm"),
            "tasks",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
        op.create_index(op.f("ix_tasks_tags"), "tasks", ["tags"], postgresql_using="gin")
    op.create_index(op.f("ix_tasks_user_id_due_at_id"), "tasks", ["user_id", "due_at", "id"])
    op.create_index(op.f("ix_tasks_user_id_due_date_id"), "tasks", ["user_id", "due_date", "id"])
    op.create_index(
        op.f("ix_tasks_user_id_id_no_due"),
        "tasks",
        ["user_id", "id"],
        postgresql_where=NO_DUE,
        sqlite_where=NO_DUE,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"]
    )


def downgrade() -> None:
    """Drop what upgrade added; the pg_trgm extension stays, as other schemas may use it."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    for name in ("ix_tasks_user_id_id_no_due", "ix_tasks_user_id_due_date_id", "ix_tasks_user_id_due_at_id"):
        op.drop_index(op.f(name), table_name="tasks")
    if postgres:
        op.drop_index(op.f("ix_tasks_tags"), table_name="tasks")
        op.drop_index(op.f("ix_tasks_search_text_trgm"), table_name="tasks")
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild would lose the table's AUTOINCREMENT.
    op.drop_column("tasks", "search_text")


def _backfill_search_text() -> None:
    # The rule of domain.queries.search_text as of this revision, copied so it cannot drift.
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.BigInteger()),
        sa.column("title", sa.Text()),
        sa.column("description", sa.Text()),
        sa.column("search_text", sa.Text()),
    )
    bind = op.get_bind()
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(tasks.c.id, tasks.c.title, tasks.c.description)
            .where(tasks.c.id > last_id)
            .order_by(tasks.c.id)
            .limit(BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(tasks)
            .where(tasks.c.id == sa.bindparam("task_id"))
            .values(search_text=sa.bindparam("folded")),
            [
                {
                    "task_id": task_id,
                    "folded": title.casefold() + "\x1f" + (description or "").casefold(),
                }
                for task_id, title, description in rows
            ],
        )
        last_id = rows[-1].id
