"""area counters on groups (area, decided, open, map gain) and a history index by entity

Revision ID: 0006_expert_web
Revises: 0004_stable_groups
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_expert_web"
down_revision = "0004_stable_groups"
branch_labels = None
depends_on = None

_COLUMNS = ("area", "decided_area", "open_area", "open_masks")


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("gain", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("area", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_groups_gain", "groups", ["project_id", "gain"])
    op.create_index("ix_history_entity", "history", ["project_id", "entity", "entity_id"])
    # fill the counters from the masks (once, here; every write keeps them from now on)
    live = "masks.group_id = groups.id AND masks.present"
    open_ = f"{live} AND masks.class_id IS NULL AND NOT masks.refine"
    op.execute(sa.text(
        f"UPDATE groups SET area = COALESCE((SELECT SUM(area) FROM masks WHERE {live}), 0), "
        f"decided_area = COALESCE((SELECT SUM(area) FROM masks WHERE {live} AND masks.class_id IS NOT NULL), 0), "
        f"open_area = COALESCE((SELECT SUM(area) FROM masks WHERE {open_}), 0), "
        f"open_masks = (SELECT COUNT(*) FROM masks WHERE {open_}), "
        f"gain = COALESCE((SELECT SUM(area * (1 - COALESCE(pred_score, 0))) FROM masks WHERE {open_}), 0)"))
    op.execute(sa.text("UPDATE projects SET area = COALESCE((SELECT SUM(groups.area) FROM groups "
                       "WHERE groups.project_id = projects.id), 0)"))


def downgrade() -> None:
    op.drop_index("ix_history_entity", table_name="history")
    op.drop_index("ix_groups_gain", table_name="groups")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("area")
    with op.batch_alter_table("groups") as batch:
        for name in (*_COLUMNS, "gain"):
            batch.drop_column(name)
