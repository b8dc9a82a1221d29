"""The public map changes only through reviewed work (issue 14, section 2), on SQLite and
PostgreSQL: the publish policy, who may publish, annotators' unpublished previews, one rebuild
per project, a project's own MCAE layer only, and every published version kept and rolled back
to as a new version (API, admins only, and `mcae catalog rollback`)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from annotation_fixtures import Service
from sqlalchemy import update
from test_pipeline import mcae

from mcae.platform.annotation import rebuild
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import engine_decisions
from mcae.platform.annotation.models import Project
from mcae.tiles.catalog import LayerKind
from mcae.tiles.layers import ensure_city, layer_from_file
from mcae.tiles.versions import publish_version


def wait_job(service: Service, job: dict, user: str, timeout: float = 120.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = service.get(f"/api/jobs/{job['id']}", user).json()
        if record["state"] in ("done", "failed"):
            return record  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} did not finish")


def set_project(service: Service, **values: object) -> None:
    """Straight into the database (what an edit would refuse, or to set up a test)."""
    db = Database(service.url)
    with db.session() as session:
        session.execute(update(Project).where(Project.id == service.project).values(**values))
    db.dispose()


def decide(service: Service, user: str, cls: str = "Tree") -> int:
    group = service.take_group(min_size=1)
    r = service.post(service.group_url(group, "/decisions"), user, json={"class": cls, "version": group["version"]})
    assert r.status_code == 201, r.text
    return int(r.json()["decisions"][0]["id"])


def test_the_reviewed_policy_publishes_only_accepted_work_and_reviewers(service: Service,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert service.get(service.p()).json()["publish_policy"] == "reviewed"  # the default
    pending, accepted, by_reviewer = decide(service, "alice"), decide(service, "bob"), decide(service, "rita")
    assert service.post(service.p(f"/decisions/{accepted}/review"), "rita", json={"verdict": "accept"}).status_code \
        == 200
    db = Database(service.url)
    with db.reader() as session:
        assert {d.id for d in engine_decisions(session, service.project, reviewed_only=True)} >= {accepted,
                                                                                                   by_reviewer}
        assert pending not in {d.id for d in engine_decisions(session, service.project, reviewed_only=True)}
        assert pending in {d.id for d in engine_decisions(session, service.project)}
    db.dispose()
    # and a publishing rebuild trains on exactly those: stop it at the training, see what it got
    seen: list[set[int]] = []

    class Stop(Exception):
        pass

    def fake_train(project, run, decisions):  # type: ignore[no-untyped-def]
        seen.append({d.id for d in decisions})
        raise Stop

    monkeypatch.setattr("mcae.inference.train.train", fake_train)
    state = service.client.app.state  # type: ignore[attr-defined]
    for policy, wanted in (("reviewed", False), ("any", True)):
        set_project(service, publish_policy=policy)
        with pytest.raises(Stop):
            rebuild.run_rebuild(state.database, state.store, service.project, None, lambda *a, **k: None)
        assert (pending in seen[-1]) is wanted and {accepted, by_reviewer} <= seen[-1]
    set_project(service, publish_policy="reviewed")
    # the policy is an admin's edit
    project = service.get(service.p(), "admin").json()
    r = service.client.patch(service.p(), headers=service.auth("admin"),
                             json={"version": project["version"], "publish_policy": "sometimes"})
    assert r.status_code == 422


def test_publishing_needs_a_reviewer_and_an_annotator_gets_an_unpublished_preview(service: Service) -> None:
    from mcae.inference.compute import executor
    from mcae.inference.project import Project as EngineProject
    from mcae.inference.train import train

    store = service.client.app.state.store  # type: ignore[attr-defined]
    set_project(service, city="pub-city", layer="mcae")
    decide(service, "alice", "Building")
    decide(service, "alice", "Water")
    db = Database(service.url)
    with db.reader() as session, executor("synchronous", None, True) as run:  # a preview maps with the model
        train(EngineProject.open(service.root), run, decisions=engine_decisions(session, service.project))
    db.dispose()
    before = store.load().model_dump_json()
    r = service.post(service.p("/rebuild"), "alice", params={"publish": "true"})
    assert r.status_code == 403 and "reviewer" in r.json()["detail"]
    r = service.post(service.p("/rebuild"), "alice")  # an annotator's rebuild is a preview
    assert r.status_code == 202, r.text
    record = wait_job(service, r.json(), "alice")
    assert record["state"] == "done" and record["kind"] == "rebuild-preview", record.get("error")
    assert record["result"]["published"] is False
    download = service.get(f"/api/jobs/{record['id']}/download", "alice")
    assert download.status_code == 200 and download.content[:4] in (b"II*\x00", b"MM\x00*")
    assert store.load().model_dump_json() == before  # the catalog did not change


def test_one_rebuild_per_project_at_a_time(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    release, started = threading.Event(), threading.Event()

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(60)
        kwargs["out"].write_bytes(b"II*\x00")  # the preview's file
        return {"published": False}

    monkeypatch.setattr(rebuild, "run_rebuild", slow)
    decide(service, "alice")  # a state no job has built yet
    first = service.post(service.p("/rebuild"), "alice", params={"publish": "false"})
    assert first.status_code == 202
    assert started.wait(60)
    decide(service, "alice")  # a write: today's rebuild key changes, and still no second rebuild
    for user, params in (("rita", {}), ("alice", {"publish": "false"})):
        r = service.post(service.p("/rebuild"), user, params=params)
        assert r.status_code == 409 and r.json()["job"] == first.json()["id"], r.text
    release.set()
    assert wait_job(service, first.json(), "alice")["state"] == "done"
    again = service.post(service.p("/rebuild"), "alice", params={"publish": "false"})
    assert again.status_code == 202 and again.json()["id"] != first.json()["id"]
    assert wait_job(service, again.json(), "alice")["state"] == "done"


def test_a_project_publishes_only_to_its_own_mcae_layer(service: Service) -> None:
    store = service.client.app.state.store  # type: ignore[attr-defined]
    ensure_city(store, "own-city")
    store.put_layer("own-city", layer_from_file(store, service.root.parent / "scene.tif", kind=LayerKind.imagery,
                                                layer_id="imagery", serving=False))
    db = Database(service.url)
    with db.session() as session:  # another project that publishes own-city/mcae
        session.add(Project(id="other", name="Other", root=str(service.root), city="own-city", layer="mcae",
                            fine_classes={}, grid={}))
    db.dispose()
    for target, needle in (("imagery", "imagery layer"), ("mcae", "project other's")):
        project = service.get(service.p(), "admin").json()
        r = service.client.patch(service.p(), headers=service.auth("admin"),
                                 json={"version": project["version"], "city": "own-city", "layer": target})
        assert r.status_code == 400 and needle in r.json()["detail"], r.text
        assert service.get(service.p(), "admin").json()["version"] == project["version"]  # nothing saved
        set_project(service, city="own-city", layer=target)  # as if the edit had got through
        r = service.post(service.p("/rebuild"), "rita")
        assert r.status_code == 400 and needle in r.json()["detail"], r.text
    assert store.layer("own-city", "imagery").kind == LayerKind.imagery
    set_project(service, city=None, layer="mcae")


def _tile_url(store, city: str, layer: str, version: str) -> str:  # type: ignore[no-untyped-def]
    west, south, east, north = store.layer(city, layer).bounds
    tile = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, 16)
    return f"/cities/{city}/layers/{layer}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png?v={version}"


def test_every_version_is_kept_and_a_rollback_is_a_new_version(service: Service, tmp_path: Path) -> None:
    store = service.client.app.state.store  # type: ignore[attr-defined]
    truth = service.root.parent / "truth.tif"
    with rasterio.open(truth) as src:
        profile, first_pixels = src.profile, src.read(1)
    changed = tmp_path / "changed.tif"
    with rasterio.open(changed, "w", **profile) as dst:
        dst.write(np.full_like(first_pixels, 6), 1)
    made = []
    for number, source in enumerate((truth, changed), start=1):
        staged = tmp_path / f"staged-{number}.tif"
        shutil.copyfile(source, staged)
        made.append(publish_version(store, "roll-city", "mcae", staged, by="rita", note="rebuild"))
    assert [v.number for v in made] == [1, 2]
    listing = service.get("/api/cities/roll-city/layers/mcae/versions", "vera").json()
    assert [v["number"] for v in listing["versions"]] == [2, 1] and listing["versions"][0]["current"]
    assert listing["current"] == made[1].version
    for user in ("alice", "rita"):
        r = service.post("/api/cities/roll-city/layers/mcae/rollback", user, json={"version": "1"})
        assert r.status_code == 403
    r = service.post("/api/cities/roll-city/layers/mcae/rollback", "admin", json={"version": "1"})
    assert r.status_code == 201, r.text
    now = r.json()
    assert now["versions"][0]["number"] == 3 and now["versions"][0]["note"] == "rollback to version 1"
    assert now["versions"][0]["by"] == "admin" and now["current"] not in (made[0].version, made[1].version)
    with rasterio.open(store.layer_path(store.layer("roll-city", "mcae"))) as src:
        assert (src.read(1) == first_pixels).all()
    for old in made:  # old tile URLs: 410 naming the current version; the old files are still there
        r = service.client.get(_tile_url(store, "roll-city", "mcae", old.version or ""))
        assert r.status_code == 410 and now["current"] in r.json()["detail"], r.text
        assert store.resolve(old.path).is_file()
    assert service.post("/api/cities/roll-city/layers/mcae/rollback", "admin",
                        json={"version": "9"}).status_code == 404
    assert service.post("/api/cities/roll-city/layers/nothing/rollback", "admin",
                        json={"version": "1"}).status_code == 404
    assert service.get("/api/cities/roll-city/layers/nothing/versions", "vera").json()["versions"] == []
    assert service.post("/api/cities/roll-city/layers/mcae/rollback", "admin",
                        json={"version": "3"}).status_code == 400  # the current one
    # the same from the command line, by the layer version of number 2
    code, out = mcae("catalog", "rollback", "roll-city", "mcae", made[1].version or "", "--catalog", store.path)
    assert code == 0 and "version 4" in out, out
    with rasterio.open(store.layer_path(store.layer("roll-city", "mcae"))) as src:
        assert (src.read(1) == 6).all()
    code, out = mcae("catalog", "versions", "roll-city", "mcae", "--catalog", store.path)
    assert code == 0 and "rollback to" in out and "(cli)" in out, out
