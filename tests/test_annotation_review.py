"""Leases, review, double labelling and the dashboard (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from annotation_fixtures import Service
from sqlalchemy import update

from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Group, Project


def test_next_group_leases_keep_two_annotators_apart(service: Service) -> None:
    a = service.post(service.p("/next-group"), "alice").json()
    b = service.post(service.p("/next-group"), "bob").json()
    assert a["group"] and b["group"]
    assert (a["group"]["neighbourhood"], a["group"]["key"]) != (b["group"]["neighbourhood"], b["group"]["key"])
    assert a["group"]["lease"]["user"] == "alice" and b["group"]["lease"]["user"] == "bob"
    assert dt.datetime.fromisoformat(a["lease_until"]) > dt.datetime.now(dt.timezone.utc)
    # a lease expires by itself: bob can then be sent alice's group
    db = Database(service.url)
    with db.session() as session:
        session.execute(update(Group).where(Group.id == a["group"]["id"]).values(
            lease_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.dispose()
    again = service.post(service.p("/next-group"), "bob").json()
    assert again["group"]["id"] == a["group"]["id"]
    assert service.client.delete(service.p("/lease"), headers=service.auth("bob")).json() == {"released": 1}
    assert service.get(service.group_url(again["group"])).json()["lease"] is None


def test_seconds_per_bulk_action_is_measured_from_the_lease(service: Service) -> None:
    leased = service.post(service.p("/next-group"), "bob").json()["group"]
    service.used.add((leased["neighbourhood"], leased["key"]))
    r = service.post(service.group_url(leased, "/decisions"), "bob", json={"class": "Water",
                                                                           "version": leased["version"]})
    assert r.status_code == 201
    elapsed = r.json()["decisions"][0]["elapsed_s"]
    assert elapsed is not None and 0 <= elapsed < 60
    assert service.get(service.p("/dashboard")).json()["seconds_per_bulk_action"] is not None


def test_a_rejected_decision_goes_back_to_its_author(service: Service) -> None:
    group = service.take_group()
    made = service.post(service.group_url(group, "/decisions"), "bob", json={"class": "Bareland",
                                                                             "version": group["version"]})
    decision = made.json()["decisions"][0]
    listed = service.get(service.p("/decisions"), "rita", params={"exclude_author": "rita", "author": "bob",
                                                                 "class": 1}).json()
    assert decision["id"] in [d["id"] for d in listed["items"]]
    assert service.post(service.p(f"/decisions/{decision['id']}/review"), "bob",
                        json={"verdict": "reject"}).status_code == 403  # annotators do not review
    r = service.post(service.p(f"/decisions/{decision['id']}/review"), "rita",
                     json={"verdict": "reject", "comment": "these are bare soil fields, not bareland"})
    assert r.status_code == 200 and r.json()["review"] == "rejected" and r.json()["reviewer"] == "rita"
    assert all(m["class_id"] is None for m in service.masks(group))  # it no longer counts
    queue = service.get(service.p("/queue"), "bob").json()
    assert [d["id"] for d in queue["items"]] == [decision["id"]]
    assert queue["items"][0]["review_comment"].startswith("these are")
    assert service.get(service.p("/queue"), "alice").json()["items"] == []
    nxt = service.post(service.p("/next-group"), "bob").json()
    assert (nxt["group"]["neighbourhood"], nxt["group"]["key"]) == (group["neighbourhood"], group["key"])
    service.client.delete(service.p("/lease"), headers=service.auth("bob"))
    # accepting it after all brings its labels back
    r = service.post(service.p(f"/decisions/{decision['id']}/review"), "rita", json={"verdict": "accept"})
    assert r.json()["review"] == "accepted"
    assert {m["class_id"] for m in service.masks(group)} == {1}


def test_double_labelled_groups_and_agreement(service: Service) -> None:
    db = Database(service.url)
    with db.session() as session:  # make two fresh groups double (5 % of 16 groups may be none)
        fresh = [g for g in service.groups() if g["decided"] == 0 and (g["neighbourhood"], g["key"]) not in
                 service.used][:2]
        for g in fresh:
            session.execute(update(Group).where(Group.id == g["id"]).values(double=True))
        session.execute(update(Project).where(Project.id == service.project).values(double_share=0.5))
    db.dispose()
    assert len(fresh) == 2
    service.used.update((g["neighbourhood"], g["key"]) for g in fresh)
    first, second = fresh
    for g, cls in ((first, "Tree"), (second, "Water")):
        assert service.post(service.group_url(g, "/decisions"), "alice",
                            json={"class": cls, "version": g["version"]}).status_code == 201
    # the author of the first labelling may not do the second
    r = service.post(service.group_url(first, "/decisions"), "alice", json={"class": "Tree", "second_pass": True})
    assert r.status_code == 403
    # bob labels both again: agrees on the first, disagrees on part of the second
    masks2 = service.masks(second)
    assert service.post(service.group_url(first, "/decisions"), "bob",
                        json={"class": "Tree", "second_pass": True}).status_code == 201
    assert service.post(service.group_url(second, "/decisions"), "bob", json={
        "class": "Building", "second_pass": True, "masks": [masks2[0]["id"]]}).status_code == 201
    assert service.post(service.group_url(second, "/decisions"), "bob", json={
        "class": "Water", "second_pass": True, "masks": [m["id"] for m in masks2[1:]]}).status_code == 201
    # second labellings never change the masks
    assert {m["class_id"] for m in service.masks(second)} == {6}
    assert service.get(service.p("/agreement"), "alice").status_code == 403
    report = service.get(service.p("/agreement"), "rita").json()
    n = first["size"] + second["size"]
    assert report["compared_masks"] == n and report["agreeing"] == n - 1
    assert report["annotators"] == ["alice", "bob"]
    assert 0 < report["kappa"] < 1
    [disagreement] = report["disagreements"]
    assert disagreement["mask"] == masks2[0]["id"]
    assert disagreement["first"]["class_name"] == "Water" and disagreement["second"]["class_name"] == "Building"
    assert disagreement["settled"] is None
    # a reviewer settles it by correcting the mask: still one disagreement (of the two
    # annotators), now settled; the reviewer is not counted as a third annotator
    mask = service.get(service.p(f"/patches/{masks2[0]['patch']}/masks/{masks2[0]['mask_id']}"), "rita").json()
    r = service.post(service.p(f"/patches/{mask['patch']}/corrections"), "rita",
                     json={"rows": [{"mask": mask["mask_id"], "class": "Building", "version": mask["version"]}]})
    assert r.status_code == 201
    after = service.get(service.p("/agreement"), "rita").json()
    assert (after["kappa"], after["agreeing"], after["annotators"]) == (report["kappa"], n - 1, ["alice", "bob"])
    assert after["disagreements"][0]["settled"]["by"] == "rita"
    assert after["disagreements"][0]["settled"]["class_name"] == "Building"
    assert (disagreement["first"]["author"], disagreement["second"]["author"]) == ("alice", "bob")


def test_dashboard_counts(service: Service) -> None:
    board = service.get(service.p("/dashboard"), "vera").json()
    decisions = service.get(service.p("/decisions"), params={"state": "active", "second_pass": False,
                                                             "per_page": 500}).json()
    assert board["actions"] == decisions["total"] > 0
    project = service.get(service.p()).json()
    assert board["decided"] == project["decided"] == board["decided_by_group"] + board["decided_by_mask"]
    assert board["masks_per_action"] == round(board["decided"] / board["actions"], 3)
    per = {row["user"]: row for row in board["per_annotator"]}
    assert per["bob"]["second_pass"] == 3 and per["bob"]["accepted"] == 1
    assert sum(row["masks"] for row in per.values()) == board["decided"]
    assert board["patches"] == 25 and board["trainings"] == []
