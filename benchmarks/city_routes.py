"""Every route the expert tools' pages call, once each, in an order that works on a fresh group.

Used by the query-plan test (``tests/test_query_plans.py``) and the city benchmark's service
leg (``benchmarks.city``). ``svc`` is a ``tests.annotation_fixtures.Service`` (a TestClient
with a token per role: alice and bob annotate, rita reviews).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def route_calls(svc: Any, group: dict[str, Any], masks: list[dict[str, Any]]) -> list[tuple[str, Callable[[], Any]]]:
    """One call of each route the pages make, on ``group`` (fresh, at least 4 masks) of ``svc``."""
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
        ("patches", lambda: ok(svc.get(svc.p("/patches"), params={"per_page": 5}))),  # a page, not the project
        ("patches?state=refine", lambda: ok(svc.get(svc.p("/patches"), params={"state": "refine"}))),
        ("patch", lambda: ok(svc.get(svc.p(f"/patches/{patch}")))),
        ("mask-at", lambda: ok(svc.get(svc.p(f"/patches/{patch}/mask-at"), params={"x": x0, "y": y0}))),
        ("mask", lambda: ok(svc.get(svc.p(f"/patches/{patch}/masks/{mask['mask_id']}")))),
        ("classification", lambda: ok(svc.get(svc.p(f"/patches/{patch}/classification.png")))),
        ("undo", lambda: ok(svc.post(svc.p(f"/decisions/{state['decision']}/undo")))),
    ]
