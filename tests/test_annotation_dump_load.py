"""One source of truth: Dump and Load, the project's decisions file imported once, re-import after
retraining without losing a decision, and the engine reading its decisions from the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotation_fixtures import Service, copy_project, group_decisions_file, make_settings, seed_database
from fastapi.testclient import TestClient

from mcae.inference.compute import executor
from mcae.inference.dataset import export_dataset
from mcae.inference.decisions import mask_labels, read_decisions
from mcae.inference.errors import ProjectStateError
from mcae.inference.project import Project as EngineProject
from mcae.inference.train import train
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import engine_decisions, import_project


def label_some(service: Service, n: int = 4) -> list[dict]:
    made = []
    for i in range(n):
        group = service.take_group()
        masks = service.masks(group)
        body = {"class": ["Tree", "Water", "Building", "Road"][i % 4], "version": group["version"],
                "masks": [m["id"] for m in masks[: max(1, len(masks) - 1)]]}
        r = service.post(service.group_url(group, "/decisions"), json=body)
        assert r.status_code == 201, r.text
        made.append(r.json()["decisions"][0])
    patch = service.get(service.p("/patches")).json()["items"][3]
    mask = service.get(service.p(f"/patches/{patch['name']}")).json()["mask_list"][0]
    r = service.post(service.p(f"/patches/{patch['name']}/corrections"), "bob", json={
        "rows": [{"mask": mask["mask_id"], "class": "Others", "fine_class": "Pier", "version": mask["version"]}]})
    assert r.status_code == 201
    return made


def test_dump_then_load_round_trips_exactly(service: Service, template_project: Path, tmp_path: Path) -> None:
    label_some(service)
    dump = service.get(service.p("/decisions.jsonl")).text
    lines = [json.loads(line) for line in dump.splitlines()]
    assert len(lines) >= 5 and {line["target"] for line in lines} == {"group", "mask"}
    assert all(line["author"] and line["at"] for line in lines)
    # into a fresh database holding the same project
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    root = copy_project(template_project, tmp_path / "copy")
    tokens = seed_database(url, root)
    with TestClient(__import__("mcae.platform.app", fromlist=["create_app"]).create_app(
            make_settings(tmp_path, url))) as client:
        auth = {"Authorization": f"Bearer {tokens['admin']}"}  # a restore keeps authors and times: admins'
        r = client.post("/api/projects/demo/decisions.jsonl?mode=restore", content=dump.encode(),
                        headers={**auth, "Content-Type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        summary = r.json()
        assert summary["added"] == len(lines) and summary["mask_decisions"] == 1 and summary["mode"] == "restore"
        again = client.get("/api/projects/demo/decisions.jsonl", headers=auth).text
    strip = [{k: v for k, v in json.loads(line).items() if k != "id"} for line in again.splitlines()]
    assert strip == [{k: v for k, v in line.items() if k != "id"} for line in lines]


def test_load_is_all_or_nothing(service: Service) -> None:
    before = service.get(service.p("/decisions")).json()["total"]
    group = service.groups()[0]
    good = json.dumps({"target": "group", "neighbourhood": group["neighbourhood"], "group": group["key"],
                       "class": "Tree"})
    for text, needle in ((good + "\n{not json}\n", ":2"), (good + '\n{"target": "mask", "patch": "0-0", '
                                                           '"mask": 99999, "class": 5}\n', "99999"),
                         (good + '\n{"target": "group", "neighbourhood": "1-1", "group": "77-7", "class": 5}\n',
                          "77-7"), ('{"target": "mask", "patch": "0-0", "class": "Teapot", "mask": 1}', ":1")):
        r = service.post(service.p("/decisions.jsonl"), content=text.encode())
        assert r.status_code == 400 and needle in r.json()["detail"], r.text
    assert service.get(service.p("/decisions")).json()["total"] == before


def test_decisions_file_is_imported_once_then_the_database_owns_them(template_project: Path, db_url: str,
                                                                      tmp_path: Path) -> None:
    root = copy_project(template_project, tmp_path / "city")
    recorded = group_decisions_file(root, n=3)
    db = Database(db_url)
    db.upgrade()
    with db.session() as session:
        summary = import_project(session, root, "filed")
    assert summary["decisions_imported"] == 3
    project = EngineProject.open(root)
    with pytest.raises(ProjectStateError, match="annotation database"):
        read_decisions(project)
    with db.reader() as session:
        held = engine_decisions(session, "filed")
    assert [(d.target, d.neighbourhood, d.group, sorted(map(tuple, d.masks or []))) for d in held] == \
        [(d.target, d.neighbourhood, d.group, sorted(map(tuple, d.masks or []))) for d in recorded]
    assert all(d.author == "engine" and d.source == "file" for d in held)
    with db.session() as session:  # a second import leaves the decisions alone
        assert import_project(session, root, "filed")["decisions_imported"] == 0
    with db.reader() as session:
        assert len(engine_decisions(session, "filed")) == 3
    db.dispose()


def test_retraining_and_reimport_keep_every_decision(service: Service, tmp_path: Path) -> None:
    label_some(service, n=4)
    db = Database(service.url)
    with db.reader() as session:
        decisions = engine_decisions(session, service.project)
    before = {(m["patch"], m["mask_id"]): (m["class_id"], m["decision_id"]) for g in service.groups()
              for m in service.masks(g)}
    project = EngineProject.open(service.root)
    with executor("synchronous", None, True) as run:
        report = train(project, run, decisions=decisions, holdout=False)  # the engine, fed by the database
    assert report.n_masks == len(mask_labels(decisions))
    with db.session() as session:
        summary = import_project(session, service.root, service.project)
    db.dispose()
    assert summary["model_version"] and summary["updated_masks"] == summary["masks"]
    groups = service.groups()
    assert any(g["pred_class"] != 0 for g in groups)  # groups now carry the predicted class
    after = {(m["patch"], m["mask_id"]): (m["class_id"], m["decision_id"]) for g in groups
             for m in service.masks(g)}
    assert after == before
    dump = [json.loads(line) for line in service.get(service.p("/decisions.jsonl")).text.splitlines()]
    assert [d["id"] for d in dump] == [d.id for d in decisions]
    assert service.get(service.p()).json()["model_version"] == summary["model_version"]


def test_export_dataset_dense_from_checked_patches_only(service: Service, tmp_path: Path) -> None:
    label_some(service, n=2)
    patch = service.get(service.p("/patches")).json()["items"][0]
    service.put(service.p(f"/patches/{patch['name']}/checked"), json={"checked": True, "version": patch["version"]})
    db = Database(service.url)
    with db.reader() as session:
        decisions = engine_decisions(session, service.project)
    db.dispose()
    project = EngineProject.open(service.root)
    if not project.has_model():
        with executor("synchronous", None, True) as run:
            train(project, run, decisions=decisions, holdout=False)
    manifest = export_dataset(project, tmp_path / "dataset", quiet=True, decisions=decisions,
                              dense_patches={patch["name"]})
    dense = [item for item in manifest["items"] if "label_dense" in item]
    assert [item["id"] for item in dense] == [patch["name"]] and manifest["dense_patches"] == [patch["name"]]
    assert all("label_sparse" in item for item in manifest["items"])
    assert sum(item["labelled_fraction_sparse"] > 0 for item in manifest["items"]) >= 1


def test_engine_decisions_naming_an_unknown_mask_are_refused_whole(service: Service) -> None:
    """``mcae label`` into the database: a decision whose mask the database lacks (a folder
    re-segmented since) is refused with its number, and none of the batch is written."""
    from mcae.inference.decisions import Decision as EngineDecision
    from mcae.inference.errors import InputError
    from mcae.platform.annotation.dump_load import load_engine_decisions
    from mcae.platform.annotation.importer import system_user

    db = Database(service.url)
    with db.reader() as session:
        before = len(engine_decisions(session, service.project))
    group = service.get(service.p("/neighbourhoods")).json()["items"][0]["name"]
    first = service.get(service.p(f"/neighbourhoods/{group}/groups")).json()[0]
    good = EngineDecision.model_validate({"target": "group", "neighbourhood": group, "group": first["key"],
                                          "class": 5, "masks": [[m["patch"], m["mask_id"]] for m in service.get(
                                              service.group_url(first, "/masks"), params={"per_page": 48}
                                          ).json()["items"]]})
    patch = good.masks[0][0]  # type: ignore[index]
    bad = EngineDecision.model_validate({"target": "mask", "patch": patch, "mask": 99_999, "class": 5})
    with pytest.raises(InputError, match=f"decision 2: no mask 99999 in patch {patch}"), db.session() as session:
        load_engine_decisions(session, service.project, [good, bad], system_user(session).id, source="simulated")
    with db.reader() as session:
        assert len(engine_decisions(session, service.project)) == before
    db.dispose()
