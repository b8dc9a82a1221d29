"""The query-plan rule: nothing on the interactive path scans all masks of a project.

``capture(engine)`` records every statement an engine runs (SQLAlchemy's
``before_cursor_execute``) while the expert tools' routes are called; ``masks_scans``
asks the database how it would run each (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL
``EXPLAIN (FORMAT JSON)`` with sequential scans switched off, so a tiny test table still
shows whether an index *could* serve the query) and returns the statements that read the
``masks`` table whole: a sequential scan, or an index search bounded only by the project
(every mask of a one-project database).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

# columns that only say "this project" (and "still imported"): a search on them alone is a whole-project scan
PROJECT_ONLY = {"project_id", "present"}
MASKS = re.compile(r"\bmasks(_\d+)?\b")


@dataclass
class Captured:
    """The statements run while ``label`` was being served."""

    statements: list[tuple[str, str, Any]] = field(default_factory=list)  # (label, sql, parameters)
    label: str = ""


@contextlib.contextmanager
def capture(engine: Engine) -> Iterator[Captured]:
    found = Captured()

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head in ("SELECT", "UPDATE", "DELETE", "WITH") and MASKS.search(statement) and not executemany:
            found.statements.append((found.label, statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", listen)


@dataclass(frozen=True)
class Scan:
    label: str
    sql: str
    plan: str


def masks_scans(engine: Engine, captured: Captured) -> list[Scan]:
    """The captured statements whose plan reads all masks of the project."""
    out, seen = [], set()
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        postgres = engine.dialect.name == "postgresql"
        if postgres:  # statistics, so a tiny table's plan picks the index a city's would
            with raw.cursor() as cur:
                cur.execute("ANALYZE")
        for label, sql, params in captured.statements:
            if (label, sql) in seen:
                continue
            seen.add((label, sql))
            if postgres:
                plan = _pg_plan(raw, sql, params)
                bad = _pg_scans(plan)
                text = json.dumps(plan)
            else:
                rows = raw.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
                text = "\n".join(str(r[-1]) for r in rows)
                bad = _sqlite_scans(text)
            if bad:
                out.append(Scan(label, " ".join(sql.split()), text))
        if postgres:
            raw.rollback()
    return out


def _sqlite_scans(plan: str) -> bool:
    for line in plan.splitlines():
        if not MASKS.search(line.split(" USING ")[0]):
            continue
        if line.startswith("SCAN"):
            return True
        cond = re.search(r"\((.*)\)(?:\s+LEFT-JOIN)?\s*$", line)  # (the inner side of an outer join says so)
        columns = {c.split("=")[0].split(">")[0].split("<")[0].strip() for c in cond.group(1).split(" AND ")} \
            if cond else set()
        if line.startswith("SEARCH") and columns <= PROJECT_ONLY:
            return True
    return False


def _pg_plan(raw: Any, sql: str, params: Any) -> Any:
    with raw.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return cur.fetchone()[0]


def _pg_scans(plan: Any) -> bool:
    def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("Plans", []):
            yield from walk(child)

    for top in plan:
        for node in walk(top["Plan"]):
            if node.get("Relation Name") != "masks" or "Scan" not in node["Node Type"]:
                continue  # (a ModifyTable names the table it writes; its child scan finds the rows)
            if node["Node Type"] == "Seq Scan":
                return True
            conds = [node.get("Index Cond", "")]
            conds += [c.get("Index Cond", "") for c in node.get("Plans", []) if c["Node Type"] == "Bitmap Index Scan"]
            columns = set(re.findall(r"(\w+)\)?(?:::[\w ]+?)?\s(?:=|<>|<=|>=|<|>|IS)\s", " ".join(conds)))
            if columns <= PROJECT_ONLY:
                return True
    return False
