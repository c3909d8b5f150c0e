"""Per-user task counters, so that a list's counts cost one row instead of a scan.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("tasks_pending", "tasks_completed")


def upgrade() -> None:
    """Add the counters and fill them from the tasks that exist."""
    for name in COUNTERS:
        op.add_column(
            "users", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    # One statement, so that the counters match the tasks of the moment it ran; writers of
    # older releases must be stopped first, as for every migration.
    op.execute(
        "UPDATE users SET "
        "tasks_pending = (SELECT count(*) FROM tasks "
        "WHERE tasks.user_id = users.id AND NOT tasks.completed), "
        "tasks_completed = (SELECT count(*) FROM tasks "
        "WHERE tasks.user_id = users.id AND tasks.completed)"
    )


def downgrade() -> None:
    """Drop the counters."""
    for name in reversed(COUNTERS):
        op.drop_column("users", name)
