"""trainings keep their hold-out report (reason, per-class accuracy, calibration)

Groups keep their keys across retraining (the engine no longer splits a cluster by the
class it predicts after each training), so no group data moves; what is new is the
training's hold-out report: why something is not scored, per-class accuracy, the
calibration temperature, ECE and the reliability bins the dashboard draws.

Revision ID: 0004_stable_groups
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_stable_groups"
down_revision = "0003_publish_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trainings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holdout", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trainings", schema=None) as batch_op:
        batch_op.drop_column("holdout")
