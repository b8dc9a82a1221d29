"""map accuracy assessment: samples, points and labels

Revision ID: 0002_assessment
Revises: 0001
Create Date: 2026-12-07 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_assessment"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("layer", sa.String(length=64), nullable=False),
        sa.Column("map_version", sa.String(length=64), nullable=False),
        sa.Column("design", sa.JSON(), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("response", sa.String(length=16), nullable=False),
        sa.Column("second_share", sa.Float(), nullable=False),
        sa.Column("independent", sa.Boolean(), nullable=False),
        sa.Column("dependent_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points_total", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_assessment_samples_layer", "assessment_samples", ["city", "layer", "map_version"])
    op.create_table(
        "assessment_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.Integer(), nullable=False),
        sa.Column("map_class", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("col", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("unit_m", sa.Float(), nullable=False),
        sa.Column("second", sa.Boolean(), nullable=False),
        sa.Column("used_for_training", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["sample_id"], ["assessment_samples.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sample_id", "seq"),
    )
    op.create_index("ix_assessment_points_sample", "assessment_points", ["sample_id", "seq"])
    op.create_table(
        "assessment_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("pass_no", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("cant_tell", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["point_id"], ["assessment_points.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["undone_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_assessment_labels_point", "assessment_labels", ["point_id", "pass_no", "state"])


def downgrade() -> None:
    op.drop_index("ix_assessment_labels_point", table_name="assessment_labels")
    op.drop_table("assessment_labels")
    op.drop_index("ix_assessment_points_sample", table_name="assessment_points")
    op.drop_table("assessment_points")
    op.drop_index("ix_assessment_samples_layer", table_name="assessment_samples")
    op.drop_table("assessment_samples")
