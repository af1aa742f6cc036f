"""Each server's own /access rules: channels and roles the bot is kept to.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

One row per rule; the unique constraint starts (platform, server_id), which is how the rules
are read: all of one server's at once, for each message addressed to the bot there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("server_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_rules")),
        sa.UniqueConstraint(
            "platform",
            "server_id",
            "kind",
            "value",
            name=op.f("uq_access_rules_platform_server_id_kind_value"),
        ),
    )


def downgrade() -> None:
    op.drop_table("access_rules")
