"""Identity, second part: personal access tokens and OpenID Connect identities.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema as of this revision: later edits to tables.py must not change it.
TIMESTAMP = sa.DateTime(timezone=True)


def _owner() -> sa.Column[str]:
    return sa.Column("user_id", sa.String(255), nullable=False)


def _owned_by_users(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Add the personal_tokens and oidc_identities tables."""
    op.create_table(
        "personal_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        _owner(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_tokens_token_hash")),
        _owned_by_users("personal_tokens"),
    )
    op.create_index(
        op.f("ix_personal_tokens_user_id_created_at"),
        "personal_tokens",
        ["user_id", "created_at"],
    )
    op.create_table(
        "oidc_identities",
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        _owner(),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_oidc_identities")),
        _owned_by_users("oidc_identities"),
    )
    op.create_index(op.f("ix_oidc_identities_user_id"), "oidc_identities", ["user_id"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index(op.f("ix_oidc_identities_user_id"), table_name="oidc_identities")
    op.drop_table("oidc_identities")
    op.drop_index(op.f("ix_personal_tokens_user_id_created_at"), table_name="personal_tokens")
    op.drop_table("personal_tokens")
