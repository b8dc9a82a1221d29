"""The query-plan rule (issue 17): every statement the expert tools' pages make the service run
is EXPLAINed (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN`` with sequential scans
off) and none may read all masks of the project, except the known ones listed in
``STILL_SCANNING`` (each a route whose fix needs counters kept by the write path; the list may
only shrink: a listed route that no longer scans fails too, so the list stays true).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from annotation_fixtures import Service

from benchmarks.query_plans import Captured, capture, masks_scans

# route label -> why it still reads every mask of the project (counters not yet kept by the write path)
STILL_SCANNING: dict[str, str] = {
    "projects": "masks and decided counted per project per request (project counters)",
    "project": "masks and decided counted per request (project counters)",
    "neighbourhoods": "masks, decided and groups counted per neighbourhood per request (neighbourhood counters)",
    "patches": "masks, decided and refine counted per patch over the project (patch counters)",
    "patches?state=refine": "as patches",
    "dashboard": "masks, decided and decided-by counted per request (project counters)",
    "rebuild/preview": "every mask's current class compared with the mapped one (a changed-mask counter)",
    "next-group": "open masks counted per group over the project (an open count per group)",
    "next-group/second": "as next-group",
}


def _routes(svc: Service) -> list[tuple[str, Callable[[], object]]]:
    group = svc.take_group(min_size=4)
    masks = svc.masks(group)
    hood, patch, mask = group["neighbourhood"], masks[0]["patch"], masks[0]
    x0, y0, _, _ = mask["bbox"]
    state: dict[str, object] = {}

    def decide() -> object:
        r = svc.post(svc.group_url(group, "/decisions"), json={"class": "Tree", "version": group["version"]})
        assert r.status_code == 201, r.text
        state["decision"] = r.json()["decisions"][0]["id"]
        return r

    def correct() -> object:
        fresh = svc.get(svc.p(f"/patches/{patch}/masks/{mask['mask_id']}")).json()
        r = svc.post(svc.p(f"/patches/{patch}/corrections"), json={
            "rows": [{"mask": mask["mask_id"], "class": "Building", "version": fresh["version"]}]})
        assert r.status_code == 201, r.text
        return r

    def ok(response: object) -> object:
        assert getattr(response, "status_code", 0) < 400, getattr(response, "text", "")
        return response

    g = svc.group_url(group)
    return [
        ("projects", lambda: ok(svc.get("/api/projects"))),
        ("project", lambda: ok(svc.get(svc.p()))),
        ("neighbourhoods", lambda: ok(svc.get(svc.p("/neighbourhoods")))),
        ("groups", lambda: ok(svc.get(svc.p(f"/neighbourhoods/{hood}/groups")))),
        ("group", lambda: ok(svc.get(g))),
        ("group/masks", lambda: ok(svc.get(g + "/masks", params={"per_page": 48}))),
        ("group/masks?sort=-area", lambda: ok(svc.get(g + "/masks", params={"per_page": 48, "sort": "-area"}))),
        ("group/decisions", lambda: ok(svc.get(g + "/decisions"))),
        ("thumbnail", lambda: ok(svc.get(svc.p(f"/patches/{patch}/masks/{mask['mask_id']}/thumbnail.png")))),
        ("next-group", lambda: ok(svc.post(svc.p("/next-group"), "bob"))),
        ("decide", decide),
        ("correct", correct),
        ("decisions", lambda: ok(svc.get(svc.p("/decisions")))),
        ("history", lambda: ok(svc.get(svc.p("/history")))),
        ("review", lambda: ok(svc.post(svc.p(f"/decisions/{state['decision']}/review"), "rita",
                                       json={"verdict": "reject", "comment": "no"}))),
        ("queue", lambda: ok(svc.get(svc.p("/queue")))),
        ("next-group/second", lambda: ok(svc.post(svc.p("/next-group"), "alice"))),
        ("agreement", lambda: ok(svc.get(svc.p("/agreement"), "rita"))),
        ("dashboard", lambda: ok(svc.get(svc.p("/dashboard")))),
        ("rebuild/preview", lambda: ok(svc.get(svc.p("/rebuild/preview")))),
        ("patches", lambda: ok(svc.get(svc.p("/patches")))),
        ("patches?state=refine", lambda: ok(svc.get(svc.p("/patches"), params={"state": "refine"}))),
        ("patch", lambda: ok(svc.get(svc.p(f"/patches/{patch}")))),
        ("mask-at", lambda: ok(svc.get(svc.p(f"/patches/{patch}/mask-at"), params={"x": x0, "y": y0}))),
        ("mask", lambda: ok(svc.get(svc.p(f"/patches/{patch}/masks/{mask['mask_id']}")))),
        ("classification", lambda: ok(svc.get(svc.p(f"/patches/{patch}/classification.png")))),
        ("undo", lambda: ok(svc.post(svc.p(f"/decisions/{state['decision']}/undo")))),
    ]


def route_scans(svc: Service) -> tuple[dict[str, list[str]], Captured]:
    engine = svc.client.app.state.database.engine  # type: ignore[attr-defined]
    routes = _routes(svc)
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
    unexpected = {k: v for k, v in scans.items() if k not in STILL_SCANNING}
    assert not unexpected, "full scans of the masks table:\n" + "\n".join(
        f"{k}: {s}" for k, v in unexpected.items() for s in v)
    fixed = sorted(set(STILL_SCANNING) - set(scans))
    assert not fixed, f"these routes no longer scan: take them off STILL_SCANNING: {fixed}"


@pytest.mark.parametrize("plan, scans", [
    ("SCAN masks", True),
    ("SEARCH masks USING INDEX ix_masks_project_patch (project_id=?)", True),
    ("SEARCH masks USING COVERING INDEX sqlite_autoindex_masks_1 (project_id=? AND patch=?)", False),
    ("SEARCH masks USING INDEX ix_masks_group (group_id=?)", False),
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
