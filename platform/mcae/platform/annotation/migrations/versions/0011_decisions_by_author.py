"""a labelled city's decisions by author, newest first

Seen on a 40,960 px city labelled by the simulated expert (901,589 decisions): an annotator's
queue (their own rejected decisions, newest first) and the decisions list filtered by author
read ``ORDER BY id DESC`` through ``ix_decisions_project`` and walked every decision of the
project to find an author with none (225 ms). ``(project_id, author_id, id)`` finds the
author's decisions in order.

Revision ID: 0011_decisions_by_author
Revises: 0010_route_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0011_decisions_by_author"
down_revision = "0010_route_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decisions_project_author", "decisions", ["project_id", "author_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_project_author", table_name="decisions")
