"""Shared state: short-lived entries every process must see alike.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

`shared_state` holds one row per (kind, key) until `expires_at`: Telegram key links and the
wait for a key, /forget's confirmation codes, each channel's latest reply, the chats that
refused drafts. `owner` names the person a row is about, for /forget.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_state")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_shared_state_kind_key")),
    )
    op.create_index("ix_shared_state_expires_at", "shared_state", ["expires_at"])
    op.create_index("ix_shared_state_owner", "shared_state", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_shared_state_owner", table_name="shared_state")
    op.drop_index("ix_shared_state_expires_at", table_name="shared_state")
    op.drop_table("shared_state")
