"""next group at city size: indexes for the lease and open-group reads

"Next group" frees the caller's lease and reads the others' (by ``lease_user_id``) and counts
the open groups (``open_masks > 0``): without these, each is a walk through every group of the
project (about 100,000 in a 4-million-mask city).

Revision ID: 0009_next_group_indexes
Revises: 0008_project_counters
"""

from __future__ import annotations

from alembic import op

revision = "0009_next_group_indexes"
down_revision = "0008_project_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_groups_open", "groups", ["project_id", "open_masks"])
    op.create_index("ix_groups_lease", "groups", ["project_id", "lease_user_id"])


def downgrade() -> None:
    op.drop_index("ix_groups_lease", table_name="groups")
    op.drop_index("ix_groups_open", table_name="groups")
