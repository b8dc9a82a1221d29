"""city size: indexes for the interactive queries

The masks of a neighbourhood are read through (project_id, neighbourhood); masks by the
decision that set them (dashboard, agreement); decisions of a group by (project_id,
neighbourhood, group_key). ``ix_masks_project_patch`` goes: the unique constraint's index
(project_id, patch, mask_id) serves the same searches, and an import of millions of masks
maintains one index less.

Revision ID: 0007_city_counters
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0007_city_counters"
down_revision = "0002_assessment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_masks_hood", "masks", ["project_id", "neighbourhood"])
    op.create_index("ix_masks_decision", "masks", ["decision_id"])
    op.create_index("ix_decisions_group", "decisions", ["project_id", "neighbourhood", "group_key"])
    op.drop_index("ix_masks_project_patch", table_name="masks")


def downgrade() -> None:
    op.create_index("ix_masks_project_patch", "masks", ["project_id", "patch"])
    op.drop_index("ix_decisions_group", table_name="decisions")
    op.drop_index("ix_masks_decision", table_name="masks")
    op.drop_index("ix_masks_hood", table_name="masks")
