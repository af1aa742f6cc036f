"""Quotas: admissions for per-minute rates, and each server's own limits.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

`quota_admissions` holds one row per turn a quota let through (kept minutes, indexed for
a person's and a server's sliding window); `quota_overrides` the limits a server's admins
set within the operator's, one row per (platform, server). Token quotas read `usage`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMITS = (
    "user_messages_per_minute",
    "server_messages_per_minute",
    "user_tokens_per_day",
    "user_tokens_per_month",
    "server_tokens_per_day",
    "server_tokens_per_month",
)


def upgrade() -> None:
    op.create_table(
        "quota_admissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("server_id", sa.String(), nullable=True),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_admissions")),
    )
    op.create_index(
        "ix_quota_admissions_platform_user_id_created_at",
        "quota_admissions",
        ["platform", "user_id", "created_at"],
    )
    op.create_index(
        "ix_quota_admissions_platform_server_id_created_at",
        "quota_admissions",
        ["platform", "server_id", "created_at"],
    )
    op.create_table(
        "quota_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("server_id", sa.String(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in LIMITS),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_overrides")),
        sa.UniqueConstraint(
            "platform", "server_id", name=op.f("uq_quota_overrides_platform_server_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("quota_overrides")
    op.drop_index(
        "ix_quota_admissions_platform_server_id_created_at", table_name="quota_admissions"
    )
    op.drop_index("ix_quota_admissions_platform_user_id_created_at", table_name="quota_admissions")
    op.drop_table("quota_admissions")
