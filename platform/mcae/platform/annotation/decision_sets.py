"""Batches of recorded decisions applied set-based: a few SQL statements per batch, whatever
its size, on SQLite and PostgreSQL.

A load first calls ``begin``. Each batch's links (decision, mask) go into a temporary table
(``load_links``); from it one ``INSERT ... SELECT`` records each link with its mask's state
before the batch (``write_links``), and ``recompute`` finds, in one statement, the decision in
force on each of the batch's masks (a window over its decisions: a mask correction beats a group
decision, the later wins among one kind, as ``mask_classes.in_force``) and keeps the masks'
new states in a second temporary table (``load_state``, one narrow row a decided mask, upserted
batch by batch), which the next batches read as the masks' state. ``finish`` writes them into
the masks table once, with one ``UPDATE ... FROM``: a mask decided in ten batches is rewritten
once (with its indexes), not ten times. Same rules as ``mask_classes.recompute_bulk``
(``tests/test_annotation_decision_sets.py`` holds them equal), no Python object per mask.
Counters are the caller's: a bulk load recounts the project (``counters.recount``) and refreshes
the changed groups' totals once (``mask_classes.finish_groups``).

Temporary tables live with the transaction (PostgreSQL: ``ON COMMIT DROP``; SQLite: emptied
by ``begin``, gone with a rollback): nothing of them outlives the load. PostgreSQL's rows go in
with ``COPY`` (``copy_rows``, ``new_ids``): a statement with thousands of parameters costs more
to build and parse than to run.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

DDL = {"postgresql": ["CREATE TEMP TABLE IF NOT EXISTS load_links (decision_id bigint, mask_pk bigint) ON COMMIT DROP",
                      "CREATE TEMP TABLE IF NOT EXISTS load_state (pk bigint PRIMARY KEY, class_id integer, "
                      "fine_class varchar(64), decision_id bigint, refine boolean) ON COMMIT DROP"],
       "sqlite": ["CREATE TEMP TABLE IF NOT EXISTS load_links (decision_id INTEGER, mask_pk INTEGER)",
                  "CREATE TEMP TABLE IF NOT EXISTS load_state (pk INTEGER PRIMARY KEY, class_id INTEGER, "
                  "fine_class VARCHAR(64), decision_id INTEGER, refine BOOLEAN)"]}

# a mask's state as the load left it so far: its row of load_state if a batch changed it, else its own
NOW = {c: f"CASE WHEN s.pk IS NULL THEN m.{c} ELSE s.{c} END" for c in ("class_id", "fine_class", "decision_id",
                                                                      "refine")}

LINK_BEFORE = ("INSERT INTO decision_masks (decision_id, mask_pk, before_class, before_fine, before_decision) "
               f"SELECT l.decision_id, l.mask_pk, {NOW['class_id']}, {NOW['fine_class']}, {NOW['decision_id']} "
               "FROM load_links l JOIN masks m ON m.id = l.mask_pk LEFT JOIN load_state s ON s.pk = l.mask_pk")

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

# the batch's masks whose (class, fine class, decision) differ from those in force, with their new
# state; refine: decided masks leave refinement, undecided ones of a small group go (back) to it
CHANGES = """
{insert} load_state (pk, class_id, fine_class, decision_id, refine)
SELECT m.id, f.cls, f.fine, f.did,
       CASE WHEN f.cls IS NOT NULL THEN false
            ELSE ({refine} OR COALESCE(g.size < p.min_group_size, false)) END
FROM masks m
JOIN projects p ON p.id = m.project_id
LEFT JOIN groups g ON g.id = m.group_id
LEFT JOIN load_state s ON s.pk = m.id
LEFT JOIN ({in_force}) f ON f.mask_pk = m.id
WHERE m.id IN (SELECT mask_pk FROM load_links)
  AND ({class_id} {ne} f.cls OR {fine_class} {ne} f.fine OR {decision_id} {ne} f.did)
{upsert}"""
UPSERT = {"postgresql": ("INSERT INTO", "ON CONFLICT (pk) DO UPDATE SET class_id = EXCLUDED.class_id, "
                         "fine_class = EXCLUDED.fine_class, decision_id = EXCLUDED.decision_id, "
                         "refine = EXCLUDED.refine"),
          "sqlite": ("INSERT OR REPLACE INTO", "")}

# the load's end: each mask whose state differs from its row, rewritten once (``mapped``: a first
# import's, whose published map is taken to be the classes it brings in)
APPLY = ("UPDATE masks AS m SET class_id = s.class_id, fine_class = s.fine_class, decision_id = s.decision_id, "
         "refine = s.refine, version = m.version + 1{mapped} FROM load_state AS s WHERE m.id = s.pk "
         "AND (m.class_id {ne} s.class_id OR m.fine_class {ne} s.fine_class OR m.decision_id {ne} s.decision_id "
         "OR m.refine {ne} s.refine) RETURNING group_id")  # (SQLite: no alias there)

# PostgreSQL: every write locks groups before masks, in id order (mask_classes.lock_groups_of)
LOCK_GROUPS = ("SELECT g.id FROM groups g WHERE g.id IN (SELECT m.group_id FROM masks m "
               "WHERE m.id IN (SELECT mask_pk FROM load_links)) ORDER BY g.id FOR UPDATE")


def _dialect(connection: Connection) -> str:
    name = connection.dialect.name
    if name not in DDL:  # pragma: no cover - the service runs on SQLite and PostgreSQL
        raise NotImplementedError(f"decisions are applied set-based on SQLite and PostgreSQL, not {name}")
    return name


def begin(session: Session) -> None:
    """Before a load's first batch: its temporary tables, empty."""
    session.flush()
    connection = session.connection()
    for sql in DDL[_dialect(connection)]:
        connection.exec_driver_sql(sql)
    connection.exec_driver_sql("DELETE FROM load_links")
    connection.exec_driver_sql("DELETE FROM load_state")


def write_links(session: Session, links: np.ndarray) -> int:
    """Record the batch's ``(decision id, mask pk)`` links (an ``n x 2`` array) in
    ``decision_masks``, each with its mask's state before the batch; returns how many.
    They stay in ``load_links`` for ``recompute``."""
    session.flush()
    connection = session.connection()
    dialect = _dialect(connection)
    links = np.asarray(links, np.int64).reshape(-1, 2)
    connection.exec_driver_sql("DELETE FROM load_links")
    if dialect == "postgresql":
        buffer = io.StringIO()
        np.savetxt(buffer, links, fmt="%d", delimiter=",")
        raw: Any = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy("COPY load_links (decision_id, mask_pk) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            cursor.execute("ANALYZE load_links")  # planned as the batch it is
    else:
        connection.connection.driver_connection.executemany(  # type: ignore[union-attr]
            "INSERT INTO load_links (decision_id, mask_pk) VALUES (?, ?)", links.tolist())
    written = connection.exec_driver_sql(LINK_BEFORE).rowcount
    if written != len(links):
        raise LookupError(f"{len(links) - written} of the batch's masks are not in the database")
    return int(written)


def recompute(session: Session, lock: bool = True, analyze: bool = False) -> int:
    """The state of each mask of ``load_links`` from the decisions in force on it, kept in
    ``load_state`` where it changed; returns how many changed. ``lock``: take the groups' locks
    first (PostgreSQL; an import holds all of its project's already). ``analyze``: refresh
    ``load_state``'s statistics after (PostgreSQL; as the table doubles)."""
    connection = session.connection()
    dialect = _dialect(connection)
    if lock and dialect == "postgresql":
        connection.exec_driver_sql(LOCK_GROUPS)
    ne = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    insert, upsert = UPSERT[dialect]
    sql = CHANGES.format(insert=insert, upsert=upsert, in_force=IN_FORCE, ne=ne, **NOW)
    changed = int(connection.exec_driver_sql(sql).rowcount)
    if analyze and dialect == "postgresql":
        connection.exec_driver_sql("ANALYZE load_state")
    return changed


def finish(session: Session, mapped: bool = False) -> tuple[int, set[int]]:
    """Write the load's mask states into the masks table, bumping the versions of the masks that
    changed; returns how many and their groups (whose versions and totals are the caller's:
    ``finish_groups``). ``mapped``: set the masks' published class to the class they now have
    (their predicted class if undecided), as a first import takes its classes as published."""
    connection = session.connection()
    dialect = _dialect(connection)
    ne = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    sql = APPLY.format(ne=ne, mapped=", mapped_class = COALESCE(s.class_id, m.pred_class)" if mapped else "")
    changed, groups = 0, set()
    for (group,) in connection.exec_driver_sql(sql):
        changed += 1
        if group is not None:
            groups.add(int(group))
    end(session)
    return changed, groups


def end(session: Session) -> None:
    """Empty the load's temporary tables (SQLite keeps them with its connection)."""
    connection = session.connection()
    connection.exec_driver_sql("DELETE FROM load_links")
    connection.exec_driver_sql("DELETE FROM load_state")


def new_ids(session: Session, table: str, n: int) -> list[int]:
    """PostgreSQL: ``n`` fresh primary keys of ``table`` from its sequence, ascending."""
    rows = session.connection().exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {int(n)})")
    return sorted(int(i) for (i,) in rows)


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: ``rows`` into ``table`` with ``COPY`` (dicts and lists as JSON text)."""
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
