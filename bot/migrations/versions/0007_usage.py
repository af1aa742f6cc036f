"""Usage accounting: one row per turn whose reply began at the endpoint.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Who asked (platform, user, server, channel), which model on which host (never the key or
the URL), tokens each side and whether we estimated them, how long, how it ended. Indexed
for a person's and a server's totals over a time window.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("server_id", sa.String(), nullable=True),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("endpoint_host", sa.String(), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("prompt_estimated", sa.Boolean(), nullable=False),
        sa.Column("completion_estimated", sa.Boolean(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
    )
    op.create_index(
        "ix_usage_platform_user_id_created_at",
        "usage",
        ["platform", "user_id", "created_at"],
    )
    op.create_index(
        "ix_usage_platform_server_id_created_at",
        "usage",
        ["platform", "server_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_usage_platform_server_id_created_at", table_name="usage")
    op.drop_index("ix_usage_platform_user_id_created_at", table_name="usage")
    op.drop_table("usage")
