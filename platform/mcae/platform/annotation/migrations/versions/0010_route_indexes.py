"""expert tools at city size on PostgreSQL: open-group counters and the author index

"Next group" said how many groups are still open by counting the groups with open masks (a
walk through about 100,000 index entries, or a scan of the groups table, in a 4-million-mask
city, on every click): the projects and neighbourhoods now keep ``open_groups``, moved by
every write in its transaction (``mask_classes.refresh_totals``) and recounted by the bulk
writes (``counters.recount``). Filled here once from the groups.

A save's "seconds the action took" reads the author's last decision (``max(created_at)`` by
author): ``ix_decisions_author`` makes that one index probe instead of a scan of the
decisions.

Revision ID: 0010_route_indexes
Revises: 0009_next_group_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_route_indexes"
down_revision = "0009_next_group_indexes"
branch_labels = None
depends_on = None

_OPEN = "groups.open_masks > 0"


def upgrade() -> None:
    for table in ("projects", "neighbourhoods"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("open_groups", sa.Integer(), nullable=False, server_default="0"))
    op.execute(sa.text(f"UPDATE projects SET open_groups = (SELECT COUNT(*) FROM groups "
                       f"WHERE groups.project_id = projects.id AND {_OPEN})"))
    op.execute(sa.text(f"UPDATE neighbourhoods SET open_groups = (SELECT COUNT(*) FROM groups "
                       f"WHERE groups.project_id = neighbourhoods.project_id "
                       f"AND groups.neighbourhood = neighbourhoods.name AND {_OPEN})"))
    op.create_index("ix_decisions_author", "decisions", ["author_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_decisions_author", table_name="decisions")
    for table in ("neighbourhoods", "projects"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("open_groups")
