"""Channels choose chat or text completion, an instruct template and how reasoning shows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The API type moves from connections to channels: "/api type:text" switches a
channel, which may be using the operator's endpoint and so have no connection row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(
            sa.Column("api_type", sa.String(length=20), server_default="chat", nullable=False)
        )
        batch.add_column(sa.Column("instruct_template", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column(
                "reasoning_display", sa.String(length=20), server_default="hide", nullable=False
            )
        )
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("api_type")


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(
            sa.Column("api_type", sa.String(length=20), server_default="chat", nullable=False)
        )
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("reasoning_display")
        batch.drop_column("instruct_template")
        batch.drop_column("api_type")
