"""Ended sessions: sign-out of one token, and a per-user cut-off for every token issued before it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the users' cut-off and the ended_sessions table."""
    op.add_column("users", sa.Column("sessions_ended_before", TIMESTAMP, nullable=True))
    op.create_table(
        "ended_sessions",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "session_id", name=op.f("pk_ended_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ended_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_ended_sessions_expires_at"), "ended_sessions", ["expires_at"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index(op.f("ix_ended_sessions_expires_at"), table_name="ended_sessions")
    op.drop_table("ended_sessions")
    op.drop_column("users", "sessions_ended_before")
