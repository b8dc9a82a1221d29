"""Issue 18's server rules for the expert tools: areas beside counts (counters kept by every
write), "Next group" by map gain, the checked-patch rule, sends to refinement taken back, a
rejection shown on the group, and sends counted among the dashboard's actions."""

from __future__ import annotations

import pytest
from annotation_fixtures import Service


def decide(svc: Service, group: dict, cls: object, masks: list[int] | None = None,  # type: ignore[type-arg]
           user: str = "alice"):  # type: ignore[no-untyped-def]
    body = {"class": cls, "version": group["version"], **({"masks": masks} if masks is not None else {})}
    return svc.post(svc.group_url(group, "/decisions"), user, json=body)


def test_groups_carry_their_area_and_the_counters_follow_each_write(service: Service) -> None:
    project = service.get(service.p()).json()
    assert project["gsd"] and project["area_ha"] > 0
    groups = service.groups()
    assert abs(sum(g["area_ha"] for g in groups) - project["area_ha"]) < 1e-3 * len(groups)
    assert abs(sum(g["share"] for g in groups) - 1.0) < 1e-3 * len(groups)
    group = service.take_group(min_size=4)
    masks = service.masks(group)
    m2 = sum(m["area_m2"] for m in masks)
    assert group["area_ha"] == pytest.approx(m2 / 10_000, abs=1e-3)
    chosen = masks[:2]
    r = decide(service, group, "Tree", [m["id"] for m in chosen])
    after = r.json()["group"]
    assert after["decided_ha"] == pytest.approx(sum(m["area_m2"] for m in chosen) / 10_000, abs=1e-3)
    assert after["open_ha"] == pytest.approx(after["area_ha"] - after["decided_ha"], abs=1e-3)
    assert service.get(service.p()).json()["decided_ha"] >= after["decided_ha"]
    hoods = service.get(service.p("/neighbourhoods")).json()["items"]
    assert sum(h["decided_ha"] for h in hoods) == pytest.approx(service.get(service.p()).json()["decided_ha"], abs=1e-3)
    board = service.get(service.p("/dashboard")).json()
    assert board["area_ha"] == pytest.approx(project["area_ha"], abs=1e-3) and board["decided_ha"] > 0


def test_groups_sort_and_filter_by_area(service: Service) -> None:
    hood = service.get(service.p("/neighbourhoods")).json()["items"][0]["name"]
    url = service.p(f"/neighbourhoods/{hood}/groups")
    by_area = service.get(url, params={"sort": "-area"}).json()
    assert [g["area_ha"] for g in by_area] == sorted((g["area_ha"] for g in by_area), reverse=True)
    by_gain = service.get(url, params={"sort": "-gain"}).json()
    assert [g["gain_ha"] for g in by_gain] == sorted((g["gain_ha"] for g in by_gain), reverse=True)
    cut = by_area[len(by_area) // 2]["area_ha"]
    big = service.get(url, params={"min_area_ha": cut}).json()
    assert big and all(g["area_ha"] >= cut for g in big) and len(big) < len(by_area) + 1
    assert service.get(url, params={"sort": "nonsense"}).status_code == 422


def test_next_group_hands_out_the_largest_map_gain_first(service: Service) -> None:
    out = service.post(service.p("/next-group"), "bob").json()["group"]
    others = [g for g in service.groups() if g["open"] > 2 and g["id"] != out["id"]]
    assert out["open"] > 2 and all(out["gain_ha"] >= g["gain_ha"] - 1e-9 for g in others)
    service.client.delete(service.p("/lease"), headers=service.auth("bob"))


def test_a_send_to_refinement_is_undone_once(service: Service) -> None:
    group = service.take_group()
    r = service.post(service.group_url(group, "/refine"), json={"version": group["version"]})
    assert r.status_code == 200 and r.json()["group"]["open"] == 0 and r.json()["group"]["open_ha"] == 0
    send = r.json()["refinement"]
    board = service.get(service.p("/dashboard")).json()
    assert board["refine_sends"] >= 1 and board["actions"] >= board["refine_sends"]
    assert service.post(service.p(f"/refinements/{send}/undo"), "bob").status_code == 403  # not bob's
    r = service.post(service.p(f"/refinements/{send}/undo"))
    assert r.status_code == 200, r.text
    assert r.json()["masks_changed"] == group["size"] and r.json()["group"]["refine"] == 0
    assert r.json()["group"]["open"] == group["size"]
    assert service.post(service.p(f"/refinements/{send}/undo")).status_code == 409
    assert service.post(service.p("/refinements/999999/undo")).status_code == 404
    assert service.get(service.p("/dashboard")).json()["refine_sends"] == board["refine_sends"] - 1


def test_a_rejection_reaches_its_author_on_the_group(service: Service) -> None:
    group = service.take_group()
    decision = decide(service, group, "Building").json()["decisions"][0]
    r = service.post(service.p(f"/decisions/{decision['id']}/review"), "rita",
                     json={"verdict": "reject", "comment": "a ploughed field, not roofs"})
    assert r.status_code == 200
    shown = service.get(service.group_url(group)).json()
    assert shown["rejections"][0]["comment"] == "a ploughed field, not roofs"
    assert (shown["rejections"][0]["reviewer"], shown["rejections"][0]["author"]) == ("rita", "alice")
    taken = service.post(service.p("/next-group")).json()["group"]
    assert taken["id"] == group["id"] and taken["rejections"][0]["decision"] == decision["id"]
    service.client.delete(service.p("/lease"), headers=service.auth("alice"))


def test_the_large_thumbnail_is_bigger_and_sharper(service: Service) -> None:
    mask = service.masks(service.groups()[0])[0]
    small = service.get(mask["thumbnail"])
    large = service.get(mask["thumbnail"], params={"large": "true"})
    assert small.status_code == large.status_code == 200
    assert large.headers["etag"] != small.headers["etag"]
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(large.content)).size[0] >= 256 > 192 == Image.open(BytesIO(small.content)).size[0]


def test_the_area_counters_match_the_masks_after_every_write(service: Service) -> None:
    """Last of the module: after its decisions, reviews, sends and undos (and a re-import), each
    group's counters equal what its masks say."""
    from sqlalchemy import select

    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.importer import import_project
    from mcae.platform.annotation.models import Group, Mask, Project

    def check(db: Database) -> None:
        with db.session() as session:
            for group in session.scalars(select(Group).where(Group.project_id == "demo")):
                masks = session.execute(select(Mask.area, Mask.class_id, Mask.refine, Mask.pred_score).where(
                    Mask.group_id == group.id, Mask.present.is_(True))).all()
                opened = [m for m in masks if m.class_id is None and not m.refine]
                assert group.area == sum(m.area for m in masks)
                assert group.decided_area == sum(m.area for m in masks if m.class_id is not None)
                assert (group.open_area, group.open_masks) == (sum(m.area for m in opened), len(opened))
                assert group.gain == pytest.approx(sum(m.area * (1 - (m.pred_score or 0)) for m in opened), abs=0.01)
            project = session.get(Project, "demo")
            assert project is not None and project.area == sum(
                session.scalars(select(Group.area).where(Group.project_id == "demo")))

    db = Database(service.url)
    try:
        check(db)
        with db.session() as session:
            import_project(session, service.root, "demo")
        check(db)
    finally:
        db.dispose()


def test_a_city_groups_share_is_not_rounded_away() -> None:
    from mcae.platform.annotation.areas import share

    assert share(1, 3) == 0.3333 and share(0, 5) == 0.0 and share(5, 0) == 0.0
    assert share(28_830, 4_659_000_000) == 6.188e-06  # a 1.7 ha group of a 40,960 px city (0.6 m pixels)
