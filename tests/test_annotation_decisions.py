"""The annotation service's writes on SQLite and PostgreSQL: cluster decisions, conflicts, undo,
corrections, refinement, checked patches, history (each module: a fresh database)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from annotation_fixtures import Service


def decide(svc: Service, group: dict, cls: object, masks: list[int] | None = None, user: str = "alice",
           version: int | None = None, **extra: object):  # type: ignore[no-untyped-def]
    body = {"class": cls, "version": group["version"] if version is None else version, **extra}
    if masks is not None:
        body["masks"] = masks
    return svc.post(svc.group_url(group, "/decisions"), user, json=body)


def test_partial_selection_labels_only_the_selected_masks(service: Service) -> None:
    group = service.take_group(min_size=4)
    masks = service.masks(group)
    chosen = [m["id"] for m in masks[:2]]
    r = decide(service, group, "Tree", chosen, fine_class="Rural forest")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["masks_changed"] == 2 and body["group"]["version"] == group["version"] + 1
    assert body["group"]["decided"] == 2 and body["group"]["open"] == group["size"] - 2
    decision = body["decisions"][0]
    assert (decision["target"], decision["class_name"], decision["author"], decision["masks"]) == \
        ("group", "Tree", "alice", 2)
    after = {m["id"]: m for m in service.masks(group)}
    for mask_id, mask in after.items():
        if mask_id in chosen:
            assert (mask["class_id"], mask["fine_class"], mask["decision_id"], mask["via"]) == \
                (5, "Rural forest", decision["id"], "group")
            assert mask["version"] == masks[0]["version"] + 1
        else:
            assert mask["class_id"] is None and mask["decision_id"] is None
    detail = service.get(service.p(f"/decisions/{decision['id']}")).json()
    assert sorted(m["id"] for m in detail["mask_list"]) == sorted(chosen)
    assert all(m["from_this_decision"] and m["before_class"] is None for m in detail["mask_list"])
    # the engine's summary line counts the decided masks with their label
    assert "'Tree'" in body["group"]["summary"] and body["group"]["summary"].startswith(f"{group['index']}/")


def test_two_annotators_on_one_group_exactly_one_wins(service: Service) -> None:
    group = service.take_group()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: decide(service, group, args[0], user=args[1]),
                                [("Water", "alice"), ("Building", "bob")]))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 201).json()["decisions"][0]
    loser = next(r for r in results if r.status_code == 409).json()
    assert "changed since version" in loser["detail"] and loser["current"]["version"] == group["version"] + 1
    assert loser["last_change"]["user"] == winner["author"]
    masks = service.masks(group)
    assert {m["class_id"] for m in masks} == {winner["class_id"]}  # nothing overwritten
    where = {"entity": "group", "entity_id": f"{group['neighbourhood']}/{group['key']}"}
    history = service.get(service.p("/history"), params=where).json()
    assert [h["user"] for h in history["items"]] == [winner["author"]]
    # the loser reloads and decides again on the current version: both are in the history
    again = decide(service, group, "Road", user="bob" if winner["author"] == "alice" else "alice",
                   version=loser["current"]["version"])
    assert again.status_code == 201, again.text
    assert {m["class_id"] for m in service.masks(group)} == {4}


def test_stale_and_missing_versions(service: Service) -> None:
    group = service.take_group()
    assert decide(service, group, "Tree", version=group["version"] + 5).status_code == 409
    r = service.post(service.group_url(group, "/decisions"), json={"class": "Tree"})
    assert r.status_code == 412 and "version" in r.json()["detail"]
    r = service.post(service.group_url(group, "/decisions"), json={"class": "Tree"},
                     headers={"If-Match": f'"{group["version"]}"'})
    assert r.status_code == 201
    r = service.post(service.group_url(group, "/decisions"), json={"class": "Tree"},
                     headers={"If-Match": f'"{group["version"]}"'})
    assert r.status_code == 409
    assert all(m["class_id"] == 5 for m in service.masks(group))


def test_bad_input_is_a_400_and_changes_nothing(service: Service) -> None:
    group = service.take_group()
    other = service.take_group()
    foreign = service.masks(other)[0]["id"]
    for body in ({"class": "Forest"}, {"class": 12}, {"masks": [foreign]}, {"masks": []},
                 {"masks": [service.masks(group)[0]["id"]] * 2}):
        payload = {"class": "Tree", "version": group["version"], **body}
        r = service.post(service.group_url(group, "/decisions"), json=payload)
        assert 400 <= r.status_code < 500 and r.json()["detail"], (body, r.text)
    r = service.post(service.p("/neighbourhoods/9-9/groups/1-0/decisions"), json={"class": 5, "version": 1})
    assert r.status_code == 404
    fresh = service.get(service.group_url(group)).json()
    assert fresh["version"] == group["version"] and fresh["decided"] == 0


def test_undo_of_a_cluster_decision_restores_every_mask(service: Service) -> None:
    group = service.take_group(min_size=4)
    masks = service.masks(group)
    first = decide(service, group, "Water").json()
    # a correction of one mask beats the group decisions, before and after the undo
    target = masks[0]
    fresh = {m["id"]: m for m in service.masks(group)}
    r = service.post(service.p(f"/patches/{target['patch']}/corrections"), json={
        "rows": [{"mask": target["mask_id"], "class": "Building", "version": fresh[target["id"]]["version"]}]})
    assert r.status_code == 201, r.text
    group_now = service.get(service.group_url(group)).json()
    second = decide(service, group, "Developed", version=group_now["version"]).json()
    after_second = {m["id"]: m["class_id"] for m in service.masks(group)}
    assert after_second[target["id"]] == 8 and all(v == 3 for k, v in after_second.items() if k != target["id"])
    r = service.post(service.p(f"/decisions/{second['decisions'][0]['id']}/undo"))
    assert r.status_code == 200 and r.json()["masks_changed"] == len(masks) - 1
    restored = {m["id"]: m for m in service.masks(group)}
    assert restored[target["id"]]["class_id"] == 8
    for mask in masks[1:]:
        assert restored[mask["id"]]["class_id"] == 6
        assert restored[mask["id"]]["decision_id"] == first["decisions"][0]["id"]
    # undoing twice is a conflict; the undo is in the history; nothing was deleted
    assert service.post(service.p(f"/decisions/{second['decisions'][0]['id']}/undo")).status_code == 409
    undone = service.get(service.p(f"/decisions/{second['decisions'][0]['id']}")).json()
    assert undone["state"] == "undone" and undone["undone_by"] == "alice" and undone["masks"] == len(masks)
    entries = service.get(service.p("/history"), params={"entity": "decision",
                                                         "entity_id": str(second["decisions"][0]["id"])}).json()
    assert [e["action"] for e in entries["items"]] == ["undo", "create"]
    # someone else's decision: annotators may not undo it, reviewers may
    assert service.post(service.p(f"/decisions/{first['decisions'][0]['id']}/undo"), "bob").status_code == 403
    assert service.post(service.p(f"/decisions/{first['decisions'][0]['id']}/undo"), "rita").status_code == 200
    assert {m["id"]: m["class_id"] for m in service.masks(group)} == \
        {m["id"]: (8 if m["id"] == target["id"] else None) for m in masks}


def test_corrections_are_one_transaction(service: Service) -> None:
    patch = service.get(service.p("/patches"), params={"per_page": 1}).json()["items"][0]
    detail = service.get(service.p(f"/patches/{patch['name']}")).json()
    masks = detail["mask_list"][:3]
    rows = [{"mask": m["mask_id"], "class": "Road", "version": m["version"]} for m in masks]
    bad = [*rows[:2], {"mask": 999_999, "class": "Road"}]
    r = service.post(service.p(f"/patches/{patch['name']}/corrections"), json={"rows": bad,
                                                                              "version": detail["version"]})
    assert r.status_code == 400
    stale = [rows[0], {**rows[1], "version": masks[1]["version"] + 7}]
    assert service.post(service.p(f"/patches/{patch['name']}/corrections"), json={"rows": stale}).status_code == 409
    unchanged = service.get(service.p(f"/patches/{patch['name']}")).json()
    assert unchanged["version"] == detail["version"]
    assert [m["class_id"] for m in unchanged["mask_list"][:3]] == [m["class_id"] for m in masks]
    r = service.post(service.p(f"/patches/{patch['name']}/corrections"), json={"rows": rows})
    assert r.status_code == 201 and len(r.json()["decisions"]) == 3
    assert all(d["target"] == "mask" for d in r.json()["decisions"])
    saved = {m["mask_id"]: m for m in service.get(service.p(f"/patches/{patch['name']}")).json()["mask_list"]}
    assert all(saved[m["mask_id"]]["class_id"] == 4 and saved[m["mask_id"]]["via"] == "mask" for m in masks)


def test_checked_flag_refinement_and_mask_at(service: Service) -> None:
    patches = service.get(service.p("/patches")).json()
    assert patches["total"] == 25
    patch = patches["items"][-1]
    r = service.put(service.p(f"/patches/{patch['name']}/checked"), json={"checked": True, "version": patch["version"]})
    assert r.status_code == 400 and "undecided masks" in r.json()["detail"]  # refused, nothing changed
    r = service.put(service.p(f"/patches/{patch['name']}/checked"), json={"checked": True, "version": patch["version"],
                                                                          "override": True})
    assert r.status_code == 200 and r.json()["checked"] and r.json()["checked_by"] == "alice"
    where = {"entity": "patch", "entity_id": patch["name"]}
    entry = service.get(service.p("/history"), params=where).json()["items"][0]
    assert entry["user"] == "alice" and entry["after"]["override"] is True and entry["after"]["undecided"] > 0
    r = service.put(service.p(f"/patches/{patch['name']}/checked"), json={"checked": False,
                                                                          "version": patch["version"]})
    assert r.status_code == 409
    assert service.get(service.p("/patches"), params={"state": "checked"}).json()["total"] == 1
    group = service.take_group()
    r = service.post(service.group_url(group, "/refine"), json={"version": group["version"]})
    assert r.status_code == 200 and r.json()["group"]["refine"] == group["size"]
    assert r.json()["group"]["open"] == 0
    waiting = service.get(service.p("/patches"), params={"state": "refine", "per_page": 100}).json()
    assert waiting["total"] >= 1 and all(p["refine"] > 0 for p in waiting["items"])
    mask = service.masks(group)[0]
    x0, y0, x1, y1 = mask["bbox"]
    for y in range(y0, y1):
        for x in range(x0, x1):
            at = service.get(service.p(f"/patches/{mask['patch']}/mask-at"), params={"x": x, "y": y}).json()
            assert (at["mask"] is not None) == (at["found"] == "mask"), at
            found = at["mask"]
            if found and found["mask_id"] == mask["mask_id"]:
                assert found["id"] == mask["id"] and found["refine"] is True
                return
    raise AssertionError("mask-at never found the mask inside its box")


def test_mask_at_tells_ground_from_a_neighbours_mask(service: Service,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """0 in the patch raster is ground; an id the patch does not own is its neighbour's mask."""
    from mcae.platform.annotation import routes_browse

    patch = service.get(service.p("/patches"), params={"per_page": 1}).json()["items"][0]["name"]
    url = service.p(f"/patches/{patch}/mask-at")
    owned = service.get(service.p(f"/patches/{patch}")).json()["mask_list"][0]["mask_id"]
    for raster_id, expected in ((0, "ground"), (2**30, "neighbour"), (owned, "mask")):
        monkeypatch.setattr(routes_browse, "mask_at", lambda *_args, value=raster_id: value)
        at = service.get(url, params={"x": 1, "y": 1}).json()
        assert at["found"] == expected, at
        assert (at["mask"] or {}).get("mask_id") == (owned if expected == "mask" else None)


def test_history_records_every_change(service: Service) -> None:
    before = service.get(service.p("/history"), params={"per_page": 1}).json()["total"]
    group = service.take_group()
    decision = decide(service, group, "Agriculture").json()["decisions"][0]
    service.post(service.p(f"/decisions/{decision['id']}/review"), "rita", json={"verdict": "accept"})
    service.post(service.p(f"/decisions/{decision['id']}/undo"))
    entries = service.get(service.p("/history"), params={"per_page": 10}).json()
    assert entries["total"] == before + 5  # decide and undo (each: group + decision), review
    actions = [(e["action"], e["entity"], e["user"]) for e in entries["items"][:5]]
    assert actions == [("undo", "group", "alice"), ("undo", "decision", "alice"), ("review", "decision", "rita"),
                       ("create", "decision", "alice"), ("decide", "group", "alice")]
    review = entries["items"][2]
    assert review["before"]["review"] == "pending" and review["after"]["review"] == "accepted"


def test_fine_classes_edited_by_an_admin_are_enforced(service: Service) -> None:
    project = service.get(service.p()).json()
    body = {"version": project["version"], "fine_classes": {"Tree": ["Rural forest", "Street trees"]}}
    assert service.client.patch(service.p(), json=body, headers=service.auth("rita")).status_code == 403
    r = service.client.patch(service.p(), json=body, headers=service.auth("admin"))
    assert r.status_code == 200 and r.json()["fine_classes"]["Tree"] == ["Rural forest", "Street trees"]
    assert service.client.patch(service.p(), json=body, headers=service.auth("admin")).status_code == 409
    group = service.take_group()
    assert decide(service, group, "Tree", fine_class="Palm").status_code == 400
    assert decide(service, group, "Tree", fine_class="Street trees").status_code == 201
