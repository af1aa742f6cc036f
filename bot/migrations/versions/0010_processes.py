"""Processes and their leases; a pending reply names the process writing it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

`processes` holds one row per running bot process (its random id, host and pid for people,
when it started, its last heartbeat and when its lease runs out). `messages.owner_process`
is the process writing a pending reply (None once settled, and on rows written before this
revision, which any process may settle). A process settles only the pending replies of
processes whose lease has run out, never a live one's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processes")),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("owner_process", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_messages_owner_process"), "messages", ["owner_process"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_owner_process"), table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("owner_process")
    op.drop_table("processes")
