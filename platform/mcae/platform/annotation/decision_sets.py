"""A batch of recorded decisions applied set-based: a few SQL statements per batch, whatever
its size, on SQLite and PostgreSQL.

The batch's links (decision, mask) go into a temporary table (``load_links``); from it, one
``INSERT ... SELECT`` records each link with its mask's state before the batch, and one
statement per step recomputes the batch's masks: the decision in force on each (a window over
its decisions: a mask correction beats a group decision, the later wins among one kind, as
``mask_classes.in_force``), the masks that change (``load_changes``), their new class, and the
groups they belong to. Same rules as ``mask_classes.recompute_bulk`` (``tests/
test_annotation_decision_sets.py`` holds them equal), without a Python object per mask.
The counters are the caller's: a bulk load recounts the project (``counters.recount``) and
refreshes the changed groups' totals once (``mask_classes.finish_groups``).

Temporary tables live with the transaction (PostgreSQL: ``ON COMMIT DROP``; SQLite: emptied
before each use, gone with a rollback): nothing of them outlives the load.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

LINKS_DDL = {"postgresql": "CREATE TEMP TABLE IF NOT EXISTS load_links (decision_id bigint, mask_pk bigint) "
                           "ON COMMIT DROP",
             "sqlite": "CREATE TEMP TABLE IF NOT EXISTS load_links (decision_id INTEGER, mask_pk INTEGER)"}
CHANGES_DDL = {"postgresql": "CREATE TEMP TABLE IF NOT EXISTS load_changes (pk bigint PRIMARY KEY, class_id integer, "
                             "fine_class varchar(64), decision_id bigint, refine boolean) ON COMMIT DROP",
               "sqlite": "CREATE TEMP TABLE IF NOT EXISTS load_changes (pk INTEGER PRIMARY KEY, class_id INTEGER, "
                         "fine_class VARCHAR(64), decision_id INTEGER, refine BOOLEAN)"}

# the decision in force on each of the batch's masks (absent: none), as mask_classes.in_force ranks them
IN_FORCE = """
SELECT mask_pk, did, cls, fine FROM (
    SELECT dm.mask_pk, d.id AS did, NULLIF(d.class_id, 0) AS cls,
           CASE WHEN d.class_id <> 0 THEN d.fine_class END AS fine,
           ROW_NUMBER() OVER (PARTITION BY dm.mask_pk
                              ORDER BY CASE WHEN d.target = 'mask' THEN 1 ELSE 0 END DESC, d.id DESC) AS rn
    FROM decision_masks dm JOIN decisions d ON d.id = dm.decision_id
    WHERE dm.mask_pk IN (SELECT mask_pk FROM load_links)
      AND d.state = 'active' AND d.review <> 'rejected' AND d.pass_no = 1) ranked
WHERE rn = 1"""

# the masks whose (class, fine class, decision) differ from those in force, with their new state;
# refine: decided masks leave refinement, undecided ones of a small group go (back) to it
CHANGES = """
INSERT INTO load_changes (pk, class_id, fine_class, decision_id, refine)
SELECT m.id, f.cls, f.fine, f.did,
       CASE WHEN f.cls IS NOT NULL THEN false
            ELSE (m.refine OR COALESCE(g.size < p.min_group_size, false)) END
FROM masks m
JOIN projects p ON p.id = m.project_id
LEFT JOIN groups g ON g.id = m.group_id
LEFT JOIN ({in_force}) f ON f.mask_pk = m.id
WHERE m.id IN (SELECT mask_pk FROM load_links)
  AND (m.class_id {ne} f.cls OR m.fine_class {ne} f.fine OR m.decision_id {ne} f.did)"""

LINK_BEFORE = ("INSERT INTO decision_masks (decision_id, mask_pk, before_class, before_fine, before_decision) "
               "SELECT l.decision_id, l.mask_pk, m.class_id, m.fine_class, m.decision_id "
               "FROM load_links l JOIN masks m ON m.id = l.mask_pk")

APPLY = ("UPDATE masks AS m SET class_id = c.class_id, fine_class = c.fine_class, decision_id = c.decision_id, "
         "refine = c.refine, version = m.version + 1 FROM load_changes AS c WHERE m.id = c.pk")

CHANGED_GROUPS = ("SELECT DISTINCT m.group_id FROM load_changes c JOIN masks m ON m.id = c.pk "
                  "WHERE m.group_id IS NOT NULL")

# PostgreSQL: every write locks groups before masks, in id order (mask_classes.lock_groups_of)
LOCK_GROUPS = ("SELECT g.id FROM groups g WHERE g.id IN (SELECT m.group_id FROM masks m "
               "WHERE m.id IN (SELECT mask_pk FROM load_links)) ORDER BY g.id FOR UPDATE")


def _dialect(connection: Connection) -> str:
    name = connection.dialect.name
    if name not in LINKS_DDL:  # pragma: no cover - the service runs on SQLite and PostgreSQL
        raise NotImplementedError(f"decisions are applied set-based on SQLite and PostgreSQL, not {name}")
    return name


def write_links(session: Session, links: np.ndarray) -> int:
    """Record the batch's ``(decision id, mask pk)`` links (an ``n x 2`` array) in
    ``decision_masks``, each with its mask's state before the batch; returns how many.
    They stay in ``load_links`` for ``recompute``."""
    session.flush()
    connection = session.connection()
    dialect = _dialect(connection)
    raw: Any = connection.connection.driver_connection
    links = np.asarray(links, np.int64).reshape(-1, 2)
    connection.exec_driver_sql(LINKS_DDL[dialect])
    connection.exec_driver_sql("DELETE FROM load_links")
    if dialect == "postgresql":
        buffer = io.StringIO()
        np.savetxt(buffer, links, fmt="%d", delimiter=",")
        with raw.cursor() as cursor:
            with cursor.copy("COPY load_links (decision_id, mask_pk) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            cursor.execute("ANALYZE load_links")  # planned as the batch it is
    else:
        raw.executemany("INSERT INTO load_links (decision_id, mask_pk) VALUES (?, ?)", links.tolist())
    written = connection.exec_driver_sql(LINK_BEFORE).rowcount
    if written != len(links):
        raise LookupError(f"{len(links) - written} of the batch's masks are not in the database")
    return int(written)


def recompute(session: Session, lock: bool = True) -> tuple[int, set[int]]:
    """Set the class of each mask of ``load_links`` from the decisions in force on it; bump the
    versions of those that changed. Returns how many changed and their groups (whose versions
    and totals are the caller's: ``finish_groups``). ``lock``: take the groups' locks first
    (PostgreSQL; an import holds all of its project's already)."""
    connection = session.connection()
    dialect = _dialect(connection)
    if lock and dialect == "postgresql":
        connection.exec_driver_sql(LOCK_GROUPS)
    connection.exec_driver_sql(CHANGES_DDL[dialect])
    connection.exec_driver_sql("DELETE FROM load_changes")
    ne = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    changed = connection.exec_driver_sql(CHANGES.format(in_force=IN_FORCE, ne=ne)).rowcount
    if not changed:
        return 0, set()
    if dialect == "postgresql":
        connection.exec_driver_sql("ANALYZE load_changes")
    connection.exec_driver_sql(APPLY)
    groups = {int(g) for (g,) in connection.exec_driver_sql(CHANGED_GROUPS)}
    return int(changed), groups
