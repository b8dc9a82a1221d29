"""The query-plan rule (issue 17): every statement the expert tools' pages make the service run
is EXPLAINed (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN`` with sequential scans
off) and none may read all masks of the project: the pages read counters kept by the writes.
"""

from __future__ import annotations

import pytest
from annotation_fixtures import Service

from benchmarks.city_routes import route_calls
from benchmarks.query_plans import Captured, capture, masks_scans


def route_scans(svc: Service) -> tuple[dict[str, list[str]], Captured]:
    engine = svc.client.app.state.database.engine  # type: ignore[attr-defined]
    group = svc.take_group(min_size=4)
    routes = route_calls(svc, group, svc.masks(group))
    with capture(engine) as captured:
        for label, call in routes:
            captured.label = label
            call()
    out: dict[str, list[str]] = {}
    for scan in masks_scans(engine, captured):
        out.setdefault(scan.label, []).append(f"{scan.sql}\n    plan: {scan.plan}")
    return out, captured


def test_no_interactive_query_scans_the_masks_table(service: Service) -> None:
    scans, captured = route_scans(service)
    assert len({label for label, _, _ in captured.statements}) >= 15  # the capture saw the routes' queries
    assert not scans, "full scans of the masks table:\n" + "\n".join(
        f"{k}: {s}" for k, v in scans.items() for s in v)


@pytest.mark.parametrize("plan, scans", [
    ("SCAN masks", True),
    ("SEARCH masks USING INDEX ix_masks_project_patch (project_id=?)", True),
    ("SEARCH masks USING COVERING INDEX sqlite_autoindex_masks_1 (project_id=? AND patch=?)", False),
    ("SEARCH masks USING INDEX ix_masks_group (group_id=?)", False),
    ("SEARCH masks USING INDEX ix_masks_group (group_id=?) LEFT-JOIN", False),
    ("SEARCH masks USING INDEX ix_masks_project_patch (project_id=?) LEFT-JOIN", True),
    ("SEARCH masks USING INTEGER PRIMARY KEY (rowid=?)", False),
    ("SCAN groups", False),
])
def test_the_sqlite_plan_reader_tells_a_scan(plan: str, scans: bool) -> None:
    from benchmarks.query_plans import _sqlite_scans

    assert _sqlite_scans(plan) is scans


def test_the_postgres_plan_reader_tells_a_scan() -> None:
    from benchmarks.query_plans import _pg_scans

    def plan(node: dict[str, object]) -> list[dict[str, object]]:
        return [{"Plan": node}]

    assert _pg_scans(plan({"Node Type": "Seq Scan", "Relation Name": "masks"}))
    assert _pg_scans(plan({"Node Type": "Index Scan", "Relation Name": "masks",
                           "Index Cond": "((project_id)::text = 'demo'::text)"}))
    assert _pg_scans(plan({"Node Type": "Bitmap Heap Scan", "Relation Name": "masks", "Plans": [
        {"Node Type": "Bitmap Index Scan", "Index Cond": "((project_id)::text = 'demo'::text)"}]}))
    assert not _pg_scans(plan({"Node Type": "Index Scan", "Relation Name": "masks",
                               "Index Cond": "(group_id = 5)"}))
    assert not _pg_scans(plan({"Node Type": "Nested Loop", "Plans": [
        {"Node Type": "Seq Scan", "Relation Name": "groups"},
        {"Node Type": "Index Scan", "Relation Name": "masks", "Index Cond": "(id = decision_masks.mask_pk)"}]}))


def test_next_group_walks_the_gain_index_of_a_migrated_sqlite_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """"Next group" reads the larger open groups in the gain index's order and stops at its limit;
    the open-masks index (a range holding nearly every group of a city) then a sort of them all
    was 130 ms at 4 M masks. SQLite plans without statistics, so an empty database plans as a city."""
    from sqlalchemy import text

    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.leases import open_groups_query

    db = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    db.upgrade()
    try:
        with db.engine.connect() as conn:
            def plan(large: bool) -> str:
                sql = open_groups_query("city", None, large).limit(200).compile(
                    db.engine, compile_kwargs={"literal_binds": True})
                return " | ".join(r[-1] for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))

            large = plan(True)
            assert "USING INDEX ix_groups_gain" in large and "TEMP B-TREE FOR ORDER BY" not in large, large
            assert "ix_groups_open" in plan(False)  # the few small ones: their range, then a sort of those
    finally:
        db.dispose()
