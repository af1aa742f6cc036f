"""Characters belong to a library scope and a channel can use one; personas; reply swipes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Characters had no scope yet and nothing wrote them, so existing rows (none) get "".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("characters") as batch:
        batch.add_column(sa.Column("scope", sa.String(), server_default="", nullable=False))
        batch.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                server_default=sa.func.now(),
                nullable=False,
            )
        )
        batch.create_unique_constraint(batch.f("uq_characters_scope_name"), ["scope", "name"])
    op.create_table(
        "personas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personas")),
        sa.UniqueConstraint("platform", "user_id", name=op.f("uq_personas_platform_user_id")),
    )
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("character_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("postprocess_placeholder", sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_channels_character_id_characters"),
            "characters",
            ["character_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("token_counter", sa.String(), nullable=True))
        batch.add_column(sa.Column("swipes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("swipe_index", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("images", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("images")
        batch.drop_column("swipe_index")
        batch.drop_column("swipes")
        batch.drop_column("token_counter")
    with op.batch_alter_table("channels") as batch:
        batch.drop_constraint(batch.f("fk_channels_character_id_characters"), type_="foreignkey")
        batch.drop_column("postprocess_placeholder")
        batch.drop_column("character_id")
    op.drop_table("personas")
    with op.batch_alter_table("characters") as batch:
        batch.drop_constraint(batch.f("uq_characters_scope_name"), type_="unique")
        batch.drop_column("updated_at")
        batch.drop_column("scope")
