"""a labelled city's decisions by author, newest first, and by time

Seen on a 40,960 px city labelled by the simulated expert (901,589 decisions): an annotator's
queue (their own rejected decisions, newest first) and the decisions list filtered by author
read ``ORDER BY id DESC`` through ``ix_decisions_project`` and walked every decision of the
project to find an author with none (225 ms). ``(project_id, author_id, id)`` finds the
author's decisions in order. The rebuild preview counts the decisions made since the last
build: with none since, it walked them all too (155 ms); ``(project_id, created_at)`` finds
them by time. The dashboard read the decisions five times, grouped and sorted (1.5 s): it now
reads them once, grouped in the order of ``ix_decisions_dashboard``, an index-only scan. The
agreement page compares first and second labellings: it read every decision of the double
groups (3-7 s before anyone labelled twice); it now starts from the second labellings,
``(project_id, pass_no, ...)``, and reads their masks' labellings by mask.

Revision ID: 0011_decisions_by_author
Revises: 0010_route_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0011_decisions_by_author"
down_revision = "0010_route_indexes"
branch_labels = None
depends_on = None
DASHBOARD = ["project_id", "author_id", "target", "state", "review", "pass_no", "elapsed_s"]


def upgrade() -> None:
    op.create_index("ix_decisions_project_author", "decisions", ["project_id", "author_id", "id"])
    op.create_index("ix_decisions_project_time", "decisions", ["project_id", "created_at"])
    op.create_index("ix_decisions_dashboard", "decisions", DASHBOARD)
    op.create_index("ix_decisions_pass", "decisions", ["project_id", "pass_no", "target", "state", "review"])


def downgrade() -> None:
    op.drop_index("ix_decisions_pass", table_name="decisions")
    op.drop_index("ix_decisions_dashboard", table_name="decisions")
    op.drop_index("ix_decisions_project_time", table_name="decisions")
    op.drop_index("ix_decisions_project_author", table_name="decisions")
