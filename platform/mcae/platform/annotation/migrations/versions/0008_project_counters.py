"""counters per project, neighbourhood and patch (and per group: masks, decided, refine), tallies
per author and per changed class, a neighbourhoods table with bounds, and the project's
``min_group_size`` (groups of fewer masks go to refinement)

The interactive pages read these instead of counting masks; every write keeps them in its own
transaction (``annotation/counters.py``). Filled here once from the masks. Neighbourhood bounds
are filled by the next import (they need the project folder).

Revision ID: 0008_project_counters
Revises: 0006_expert_web
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0008_project_counters"
down_revision = "0006_expert_web"
branch_labels = None
depends_on = None

_PROJECT = (("masks", sa.Integer), ("decided", sa.Integer), ("refine", sa.Integer), ("decided_area", sa.BigInteger),
            ("changed", sa.Integer), ("changed_area", sa.BigInteger), ("patches", sa.Integer),
            ("checked_patches", sa.Integer))
_PATCH = (("masks", sa.Integer), ("decided", sa.Integer), ("refine", sa.Integer), ("area", sa.BigInteger),
          ("decided_area", sa.BigInteger))
_GROUP = ("masks", "decided", "refine")

LIVE = "masks.present"
DECIDED = "masks.class_id IS NOT NULL"
REFINE = "masks.class_id IS NULL AND masks.refine"
CHANGED = "(masks.mapped_class IS NULL OR masks.mapped_class <> COALESCE(masks.class_id, masks.pred_class))"


def _counts(where: str, area: bool = True) -> dict[str, str]:
    def count(extra: str) -> str:
        return f"(SELECT COUNT(*) FROM masks WHERE {where} AND {LIVE}{' AND ' + extra if extra else ''})"

    def total(extra: str) -> str:
        return (f"COALESCE((SELECT SUM(masks.area) FROM masks WHERE {where} AND {LIVE}"
                f"{' AND ' + extra if extra else ''}), 0)")

    out = {"masks": count(""), "decided": count(DECIDED), "refine": count(REFINE)}
    if area:
        out.update(area=total(""), decided_area=total(DECIDED))
    return out


def _fill(table: str, values: dict[str, str]) -> None:
    op.execute(sa.text(f"UPDATE {table} SET " + ", ".join(f"{k} = {v}" for k, v in values.items())))


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("min_group_size", sa.Integer(), nullable=False, server_default="3"))
        for name, kind in _PROJECT:
            batch.add_column(sa.Column(name, kind(), nullable=False, server_default="0"))
    with op.batch_alter_table("patches") as batch:
        for name, kind in _PATCH:
            batch.add_column(sa.Column(name, kind(), nullable=False, server_default="0"))
    with op.batch_alter_table("groups") as batch:
        for name in _GROUP:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("mix", sa.JSON(), nullable=True))
    op.create_table(
        "neighbourhoods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("patches", sa.JSON(), nullable=False),
        sa.Column("bounds", sa.JSON(), nullable=True),
        sa.Column("groups", sa.Integer(), nullable=False),
        sa.Column("masks", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("refine", sa.Integer(), nullable=False),
        sa.Column("area", sa.BigInteger(), nullable=False),
        sa.Column("decided_area", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_index("ix_neighbourhoods_seq", "neighbourhoods", ["project_id", "seq"])
    op.create_table(
        "tallies",
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("key", sa.Integer(), primary_key=True),
        sa.Column("masks", sa.Integer(), nullable=False),
        sa.Column("area", sa.BigInteger(), nullable=False),
    )
    # groups of fewer than 3 masks (the default min_group_size) go to refinement: their undecided masks
    op.execute(sa.text("UPDATE masks SET refine = :yes, version = version + 1 WHERE class_id IS NULL AND present "
                       "AND NOT refine AND group_id IN (SELECT id FROM groups WHERE size < 3)")
               .bindparams(yes=True))
    # the groups' counters (open ones too: the sends above closed masks)
    group = "masks.group_id = groups.id"
    open_ = f"{group} AND {LIVE} AND masks.class_id IS NULL AND NOT masks.refine"
    _fill("groups", {**_counts(group, area=False),
                     "open_area": f"COALESCE((SELECT SUM(area) FROM masks WHERE {open_}), 0)",
                     "open_masks": f"(SELECT COUNT(*) FROM masks WHERE {open_})",
                     "gain": f"COALESCE((SELECT SUM(area * (1 - COALESCE(pred_score, 0))) FROM masks "
                             f"WHERE {open_}), 0)"})
    _fill("patches", _counts("masks.project_id = patches.project_id AND masks.patch = patches.name"))
    project = "masks.project_id = projects.id"
    _fill("projects", {k: v for k, v in _counts(project).items() if k != "area"} | {
        "changed": f"(SELECT COUNT(*) FROM masks WHERE {project} AND {LIVE} AND {CHANGED})",
        "changed_area": f"COALESCE((SELECT SUM(masks.area) FROM masks WHERE {project} AND {LIVE} AND {CHANGED}), 0)",
        "patches": "(SELECT COUNT(*) FROM patches WHERE patches.project_id = projects.id)",
        "checked_patches": "(SELECT COUNT(*) FROM patches WHERE patches.project_id = projects.id AND patches.checked)"})
    _neighbourhoods()
    _mixes()
    op.execute(sa.text(
        "INSERT INTO tallies (project_id, kind, key, masks, area) "
        "SELECT masks.project_id, 'author-' || decisions.target, decisions.author_id, COUNT(*), SUM(masks.area) "
        f"FROM masks JOIN decisions ON decisions.id = masks.decision_id WHERE {LIVE} AND {DECIDED} "
        "GROUP BY masks.project_id, decisions.target, decisions.author_id"))
    op.execute(sa.text(
        "INSERT INTO tallies (project_id, kind, key, masks, area) "
        "SELECT masks.project_id, 'changed', COALESCE(masks.class_id, masks.pred_class), COUNT(*), SUM(masks.area) "
        f"FROM masks WHERE {LIVE} AND {CHANGED} "
        "GROUP BY masks.project_id, COALESCE(masks.class_id, masks.pred_class)"))


def _mixes(classes: int = 9) -> None:
    """Each group's class-mix weights: 1 per decided mask on its class, the probabilities of the
    others (streamed in group order; one group in memory at a time)."""
    conn = op.get_bind()
    masks = sa.table("masks", sa.column("group_id"), sa.column("class_id"), sa.column("proba", sa.JSON()),
                     sa.column("present"))
    groups = sa.table("groups", sa.column("id"), sa.column("mix", sa.JSON()))
    rows = conn.execute(sa.select(masks.c.group_id, masks.c.class_id, masks.c.proba)
                        .where(masks.c.group_id.is_not(None), masks.c.present.is_(True)).order_by(masks.c.group_id)
                        .execution_options(yield_per=20_000))  # this statement only, streamed
    done: list[dict[str, object]] = []
    current, weights = None, [0.0] * classes
    for group_id, cls, proba in rows:
        if group_id != current:
            if current is not None:
                done.append({"gid": current, "m": [round(w, 6) for w in weights]})
            current, weights = group_id, [0.0] * classes
        if cls:
            weights[cls - 1] += 1.0
        elif proba:
            for i, p in enumerate(proba[:classes]):
                if p is not None and p == p:  # NaN is no weight
                    weights[i] += float(p)
    if current is not None:
        done.append({"gid": current, "m": [round(w, 6) for w in weights]})
    for start in range(0, len(done), 5000):
        conn.execute(groups.update().where(groups.c.id == sa.bindparam("gid")).values(mix=sa.bindparam("m")),
                     done[start:start + 5000])


def _neighbourhoods() -> None:
    """One row per neighbourhood of each project (its patches in row, column order), then its counters."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT project_id, neighbourhood, name FROM patches ORDER BY project_id, row, col"))
    members: dict[tuple[str, str], list[str]] = {}
    for project_id, hood, name in rows:
        members.setdefault((project_id, hood), []).append(name)

    def order(key: tuple[str, str]) -> tuple[str, tuple[int, ...]]:
        return key[0], tuple(int(p) for p in re.findall(r"\d+", key[1]))

    table = sa.table("neighbourhoods", sa.column("project_id"), sa.column("name"), sa.column("seq"),
                     sa.column("patches", sa.JSON()), sa.column("groups"), sa.column("masks"),
                     sa.column("decided"), sa.column("refine"), sa.column("area"), sa.column("decided_area"))
    values = [{"project_id": p, "name": h, "seq": seq, "patches": members[(p, h)], "groups": 0, "masks": 0,
               "decided": 0, "refine": 0, "area": 0, "decided_area": 0}
              for seq, (p, h) in enumerate(sorted(members, key=order))]
    if values:
        op.bulk_insert(table, values)
    hood = "masks.project_id = neighbourhoods.project_id AND masks.neighbourhood = neighbourhoods.name"
    _fill("neighbourhoods", {**_counts(hood), "groups": (
        "(SELECT COUNT(*) FROM groups WHERE groups.project_id = neighbourhoods.project_id "
        "AND groups.neighbourhood = neighbourhoods.name AND groups.masks > 0)")})


def downgrade() -> None:
    op.drop_table("tallies")
    op.drop_index("ix_neighbourhoods_seq", table_name="neighbourhoods")
    op.drop_table("neighbourhoods")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("mix")
        for name in _GROUP:
            batch.drop_column(name)
    with op.batch_alter_table("patches") as batch:
        for name, _ in _PATCH:
            batch.drop_column(name)
    with op.batch_alter_table("projects") as batch:
        for name, _ in reversed(_PROJECT):
            batch.drop_column(name)
        batch.drop_column("min_group_size")
