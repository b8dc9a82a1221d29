"""Load attacked (issue 14, sections 1 and 5), on SQLite and PostgreSQL: a file cannot record
decisions as another user (review, double labelling, queues), only an admin's restore keeps a
file's authors and says who restored them, fine classes are checked on every path, and any
malformed or oversized input is a 4xx naming its line, with nothing written."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from annotation_fixtures import Service
from sqlalchemy import select, update

from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Decision, Group, History, User


def load(service: Service, user: str, lines: list[dict] | str | bytes,  # type: ignore[no-untyped-def,type-arg]
         mode: str | None = None):
    body = lines.encode() if isinstance(lines, str) else lines if isinstance(lines, bytes) else \
        "".join(json.dumps(x) + "\n" for x in lines).encode()
    return service.post(service.p("/decisions.jsonl"), user, content=body,
                        params={"mode": mode} if mode else {}, headers={"Content-Type": "application/x-ndjson"})


def forged(group: dict, author: str, cls: str = "Tree") -> dict:  # type: ignore[type-arg]
    """A line claiming to be ``author``'s, long ago, from the API, on another model."""
    return {"target": "group", "neighbourhood": group["neighbourhood"], "group": group["key"], "class": cls,
            "author": author, "at": "2001-01-01T00:00:00+00:00", "source": "api", "model_version": "forged"}


def total(service: Service) -> int:
    return int(service.get(service.p("/decisions"), "rita").json()["total"])


@pytest.fixture
def limits(service: Service) -> Iterator:  # type: ignore[type-arg]
    """The app's Load settings, restored after the test changes them."""
    settings = service.client.app.state.settings.load  # type: ignore[attr-defined]
    saved = settings.model_copy()
    yield settings
    for name in type(settings).model_fields:
        setattr(settings, name, getattr(saved, name))


def test_a_forged_line_is_recorded_as_the_callers_and_cannot_pass_review_by_its_real_author(
        service: Service) -> None:
    group = service.take_group()
    r = load(service, "rita", [forged(group, "alice")])
    assert r.status_code == 200, r.text
    assert r.json()["recorded_as"] == "rita" and r.json()["mode"] == "load"
    [made] = service.get(service.group_url(group, "/decisions"), "rita").json()["items"]
    assert (made["author"], made["source"], made["restored_by"]) == ("rita", "load", None)
    assert made["model_version"] != "forged"
    assert dt.datetime.fromisoformat(made["created_at"]) > dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    # rita wrote it, so rita may not accept it: no self-review through a forged author
    r = service.post(service.p(f"/decisions/{made['id']}/review"), "rita", json={"verdict": "accept"})
    assert r.status_code == 403, r.text
    assert service.get(service.p("/dashboard"), "rita").json()["per_annotator"]
    per = {row["user"]: row for row in service.get(service.p("/dashboard"), "rita").json()["per_annotator"]}
    assert "alice" not in per or per["alice"]["decisions"] == 0  # nothing filled alice's dashboard row


def test_a_forged_line_cannot_count_as_the_second_labelling(service: Service) -> None:
    group = service.take_group()
    db = Database(service.url)
    with db.session() as session:
        session.execute(update(Group).where(Group.id == group["id"]).values(double=True))
    db.dispose()
    # bob loads the first labelling as if alice had made it, then tries to add the second himself
    assert load(service, "bob", [forged(group, "alice")]).status_code == 200
    r = service.post(service.group_url(group, "/decisions"), "bob", json={"class": "Tree", "second_pass": True})
    assert r.status_code == 403, r.text
    # alice, the real other annotator, may
    r = service.post(service.group_url(group, "/decisions"), "alice", json={"class": "Tree", "second_pass": True})
    assert r.status_code == 201, r.text
    report = service.get(service.p("/agreement"), "rita").json()
    assert set(report["annotators"]) == {"alice", "bob"}


def test_a_forged_line_cannot_land_in_another_users_queue(service: Service) -> None:
    group = service.take_group()
    assert load(service, "bob", [forged(group, "alice", "Water")]).status_code == 200
    [made] = service.get(service.group_url(group, "/decisions"), "rita").json()["items"]
    r = service.post(service.p(f"/decisions/{made['id']}/review"), "rita", json={"verdict": "reject"})
    assert r.status_code == 200
    assert made["id"] not in [d["id"] for d in service.get(service.p("/queue"), "alice").json()["items"]]
    assert made["id"] in [d["id"] for d in service.get(service.p("/queue"), "bob").json()["items"]]


def test_only_an_admin_restores_a_files_authors_and_the_restore_is_recorded(service: Service) -> None:
    group = service.take_group()
    before = total(service)
    for user in ("alice", "rita"):
        assert load(service, user, [forged(group, "alice")], mode="restore").status_code == 403
    assert total(service) == before
    r = load(service, "admin", [forged(group, "alice")], mode="restore")
    assert r.status_code == 200 and r.json()["mode"] == "restore" and r.json()["recorded_as"] is None
    [made] = service.get(service.group_url(group, "/decisions"), "rita").json()["items"]
    assert (made["author"], made["restored_by"], made["source"]) == ("alice", "admin", "api")
    assert made["created_at"].startswith("2001-01-01")
    db = Database(service.url)
    with db.reader() as session:
        admin = session.scalar(select(User.id).where(User.name == "admin"))
        assert session.scalar(select(Decision.restored_by).where(Decision.id == made["id"])) == admin
        assert session.scalar(select(History.user_id).where(History.action == "restore", History.entity == "project")
                              ) == admin
    db.dispose()
    # a restore names real users and real times, or nothing is written
    bad_user = {**forged(group, "mallory")}
    bad_time = {**forged(group, "alice"), "at": "yesterday"}
    future = {**forged(group, "alice"), "at": "2999-01-01T00:00:00+00:00"}
    long_source = {**forged(group, "alice"), "source": "x" * 40}
    for line, needle in ((bad_user, "mallory"), (bad_time, "ISO 8601"), (future, "future"), (long_source, "source")):
        r = load(service, "admin", [forged(group, "alice"), line], mode="restore")
        assert r.status_code == 400 and r.json()["detail"].startswith("decisions:2:") and needle in r.json()["detail"]
    assert total(service) == before + 1


def test_fine_classes_are_checked_on_every_path(service: Service) -> None:
    project = service.get(service.p(), "admin").json()
    r = service.client.patch(service.p(), headers=service.auth("admin"), json={
        "version": project["version"], "fine_classes": {"Others": ["Pier"]}})
    assert r.status_code == 200, r.text
    group = service.take_group()
    before = total(service)
    line = {"target": "group", "neighbourhood": group["neighbourhood"], "group": group["key"], "class": "Others"}
    r = load(service, "alice", [{**line, "fine_class": "Pier"}, {**line, "fine_class": "Teapot"}])
    assert r.status_code == 400 and r.json()["detail"].startswith("decisions:2:") and "Teapot" in r.json()["detail"]
    assert total(service) == before
    r = service.post(service.group_url(group, "/decisions"), json={"class": "Others", "fine_class": "Teapot",
                                                                   "version": group["version"]})
    assert r.status_code == 400 and "Teapot" in r.json()["detail"]
    mask = service.masks(group)[0]
    patch = service.get(service.p(f"/patches/{mask['patch']}/masks/{mask['mask_id']}")).json()
    r = service.post(service.p(f"/patches/{mask['patch']}/corrections"), json={"rows": [
        {"mask": mask["mask_id"], "class": "Others", "fine_class": "Teapot", "version": patch["version"]}]})
    assert r.status_code == 400 and "Teapot" in r.json()["detail"]
    assert load(service, "alice", [{**line, "fine_class": "Pier"}]).status_code == 200
    assert total(service) == before + 1


def test_any_malformed_input_is_a_400_naming_its_line(service: Service) -> None:
    group = service.groups()[0]
    good = json.dumps({"target": "group", "neighbourhood": group["neighbourhood"], "group": group["key"],
                       "class": "Tree"}) + "\n"
    before = total(service)
    cases = [
        ("[" * 100_000 + "]" * 100_000, "2", "nested"),  # RecursionError in json, a 500 before
        ('{"target": "mask", "patch": "0-0", "mask": 1, "class": {"a": ' * 3000 + "1" + "}" * 3000 + "}", "2", ""),
        ('"just a string"', "2", "object"),
        ('{"target": "group", "neighbourhood": "1-1", "group": "1-0", "class": 5, "masks": [["0-0", "x"]]}', "2", ""),
        ('{"target": "mask", "patch": "' + "p" * 40 + '", "mask": 1, "class": 5}', "2", "patch"),
        ('{"target": "mask", "patch": "0-0", "mask": 1e999, "class": 5}', "2", ""),
        ('{"target": "teapot", "class": 5}', "2", "target"),
    ]
    for text, line, needle in cases:
        r = load(service, "alice", good + text + "\n")
        assert r.status_code == 400, (text[:40], r.status_code, r.text[:200])
        detail = r.json()["detail"]
        assert detail.startswith(f"decisions:{line}:") and needle in detail and len(detail) < 600, detail
    r = load(service, "alice", good.encode() + b'{"target": "mask", "class": "\xff"}\n')
    assert r.status_code == 400 and r.json()["detail"].startswith("decisions:2:")
    assert total(service) == before


def test_load_caps_lines_and_bytes_and_writes_in_batches(service: Service, limits) -> None:  # type: ignore[no-untyped-def]
    groups = [g for g in service.groups() if g["size"] >= 1][:5]
    lines = [{"target": "group", "neighbourhood": g["neighbourhood"], "group": g["key"], "class": "Rangeland"}
             for g in groups]
    before = total(service)
    limits.max_lines = 4
    r = load(service, "alice", lines)
    assert r.status_code == 413 and "load.max_lines" in r.json()["detail"], r.text
    limits.max_lines, limits.max_line_bytes = 1000, 100
    r = load(service, "alice", [*lines[:1], {**lines[1], "fine_class": "x" * 200}])
    assert r.status_code == 400 and r.json()["detail"].startswith("decisions:2:") and "max_line_bytes" in r.text
    limits.max_line_bytes, limits.max_bytes = 10_000, 200
    r = load(service, "alice", lines)
    assert r.status_code == 413 and "load.max_bytes" in r.json()["detail"]
    limits.max_bytes, limits.max_mask_labels = 1_000_000, sum(g["size"] for g in groups) - 1
    r = load(service, "alice", lines)
    assert r.status_code == 413 and "load.max_mask_labels" in r.json()["detail"]
    limits.max_mask_labels = 1_000_000
    assert total(service) == before
    limits.max_bytes, limits.batch_lines = 1_000_000, 2  # three write batches, one transaction
    r = load(service, "alice", lines)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 5 and r.json()["write_s"] is not None
    assert total(service) == before + 5
    assert all(m["class_id"] == 2 for m in service.masks(groups[-1]))  # Rangeland: applied
