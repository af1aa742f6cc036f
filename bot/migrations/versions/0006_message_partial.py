"""A pending reply keeps the text the chat has been shown so far.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

`partial` and `partial_reasoning` hold what a reply streaming right now has shown (for a
continuation, what it added); they are emptied when the reply is settled. Existing rows
have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("partial", sa.Text(), nullable=True))
        batch.add_column(sa.Column("partial_reasoning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("partial_reasoning")
        batch.drop_column("partial")
