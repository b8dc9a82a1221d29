"""publish policy per project; who restored a decision loaded with its file's author

Revision ID: 0003_publish_policy
Revises: 0001
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_publish_policy"
down_revision = "0007_city_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("publish_policy", sa.String(length=16), nullable=False,
                                   server_default="reviewed"))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("restored_by", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_decisions_restored_by", "users", ["restored_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint("fk_decisions_restored_by", type_="foreignkey")
        batch.drop_column("restored_by")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("publish_policy")
