"""The loop back to the map: retrain and rebuild as a job changes the published map, its layer
version and so its tile URLs (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rasterio
from annotation_fixtures import Service


def wait_job(service: Service, job: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = service.get(job["links"]["self"]).json()
        if record["state"] in ("done", "failed"):
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} did not finish: {record}")


def rebuild(service: Service, user: str = "rita") -> dict:
    r = service.post(service.p("/rebuild"), user)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/jobs/{r.json()['id']}" and r.json()["kind"] == "rebuild"
    record = wait_job(service, r.json())
    assert record["state"] == "done", record
    assert record["progress"] == 1.0 and record["message"] == "done"
    return record


def tilejson(service: Service) -> dict:
    r = service.client.get("/cities/test-city/layers/mcae/WebMercatorQuad/tilejson.json")
    assert r.status_code == 200, r.text
    return r.json()


def test_rebuild_changes_the_published_map_and_its_tile_urls(service: Service) -> None:
    assert service.post(service.p("/rebuild"), "vera").status_code == 403
    groups = service.groups()
    for i, group in enumerate(groups[:8]):
        r = service.post(service.group_url(group, "/decisions"), json={"class": ["Tree", "Building"][i % 2],
                                                                       "version": group["version"]})
        assert r.status_code == 201
    project = service.get(service.p()).json()
    r = service.client.patch(service.p(), headers=service.auth("admin"),  # today's behaviour: publish every decision
                             json={"version": project["version"], "city": "test-city", "publish_policy": "any"})
    assert r.status_code == 200
    preview = service.get(service.p("/rebuild/preview")).json()
    assert preview["masks_changed"] > 0 and preview["area_m2"] > 0 and preview["last_build"] is None
    first = rebuild(service)
    assert first["result"]["layer_version"] and first["result"]["trained_on_masks"] > 0
    assert service.get(service.p("/rebuild/preview")).json()["masks_changed"] == 0
    old = tilejson(service)
    old_version = first["result"]["layer_version"]
    assert f"v={old_version}" in old["tiles"][0]
    layer = next(x for x in service.client.get("/api/cities/test-city").json()["layers"] if x["id"] == "mcae")
    assert layer["version"] == old_version
    path = service.client.app.state.store.layer_path(service.client.app.state.store.layer("test-city", "mcae"))
    with rasterio.open(path) as src:
        before = src.read(1)
    # an expert turns every mask of one patch into Water
    patch = service.get(service.p("/patches")).json()["items"][12]
    detail = service.get(service.p(f"/patches/{patch['name']}")).json()
    rows = [{"mask": m["mask_id"], "class": "Water", "version": m["version"]} for m in detail["mask_list"]]
    assert service.post(service.p(f"/patches/{patch['name']}/corrections"), json={"rows": rows}).status_code == 201
    preview = service.get(service.p("/rebuild/preview")).json()
    assert preview["masks_changed"] >= 1 and preview["by_class"].get("Water", 0) >= 1
    assert preview["decisions_since_last_build"] == len(rows)
    second = rebuild(service)
    new_version = second["result"]["layer_version"]
    assert new_version != old_version
    assert f"v={new_version}" in tilejson(service)["tiles"][0]
    store = service.client.app.state.store
    new_path = store.layer_path(store.layer("test-city", "mcae"))
    assert new_path != path  # a new version is a new file: the old one is kept as it was
    with rasterio.open(new_path) as src:
        after = src.read(1)
    assert (after == 6).sum() > (before == 6).sum()
    with rasterio.open(path) as src:
        assert (src.read(1) == before).all()
    # old tile URLs are gone (410 naming the new version); the new ones are immutable
    z, x, y = 18, 0, 0
    bounds = tilejson(service)["bounds"]
    import morecantile

    tile = morecantile.tms.get("WebMercatorQuad").tile((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, z)
    z, x, y = tile.z, tile.x, tile.y
    stale = service.client.get(f"/cities/test-city/layers/mcae/tiles/WebMercatorQuad/{z}/{x}/{y}.png?v={old_version}")
    assert stale.status_code == 410 and new_version in stale.json()["detail"]
    fresh = service.client.get(f"/cities/test-city/layers/mcae/tiles/WebMercatorQuad/{z}/{x}/{y}.png?v={new_version}")
    assert fresh.status_code in (200, 204) and "immutable" in fresh.headers["cache-control"]
    board = service.get(service.p("/dashboard")).json()
    assert len(board["trainings"]) == 2 and board["trainings"][-1]["map_version"] == new_version
    assert np.isfinite(len(board["trainings"][-1]["holdout_accuracy"]))
    # decisions survived both rebuilds (the re-import keeps them)
    assert service.get(service.p()).json()["decided"] >= len(rows)


def test_a_rebuild_without_the_engine_installed_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slim platform image has no torch: the job says where to retrain instead of a 500."""
    import sys

    from mcae.inference.errors import ProjectStateError
    from mcae.platform.annotation.rebuild import run_rebuild

    for name in [n for n in sys.modules if n == "mcae.inference.train" or n.startswith("mcae.inference.classifier")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, as on a server that never had them
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch: ModuleNotFoundError
    with pytest.raises(ProjectStateError, match=r"retraining needs torch.*inference image"):
        run_rebuild(None, None, "p", None, lambda *a: None)  # type: ignore[arg-type]
