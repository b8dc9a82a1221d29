"""Tile bundles: exact tile counts, MBTiles / PMTiles / zip contents, caps, jobs and their reuse."""

from __future__ import annotations

import io
import json
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from analysis_data import as_documented
from downloads_fixtures import CITY, CORNER, TMS, Downloads  # the `downloads` fixture: tests/conftest.py
from fastapi.testclient import TestClient
from pmtiles.reader import MmapSource, Reader, all_tiles
from shapely.geometry import box, shape

import mcae.tiles.bundles as bundles
from mcae.platform.app import create_app
from mcae.platform.settings import JobSettings, Settings
from mcae.tiles.bundles import plan_tiles
from mcae.tiles.catalog import Layer
from mcae.tiles.render import render_tile
from mcae.tiles.schemas_analysis import BundleEstimateOut
from mcae.tiles.settings import TileSettings

D = 0.002
BBOX = [CORNER.x - D, CORNER.y - D, CORNER.x + D, CORNER.y + D]
BUNDLES = f"/api/cities/{CITY}/layers/mcae/bundles"


def client_for(downloads: Downloads, jobs: Path, **limits: Any) -> TestClient:
    """A client of the app on the downloads catalog with its jobs in ``jobs``; enter it (``with``)
    to run the app's lifespan, which starts the job registry."""
    return TestClient(create_app(Settings(tiles=TileSettings(catalog_path=downloads.catalog, **limits),
                                          jobs=JobSettings(dir=jobs))))


@pytest.fixture
def client(downloads: Downloads, tmp_path: Path) -> Iterator[TestClient]:
    with client_for(downloads, tmp_path / "jobs") as running:
        yield running


def hand_count(bbox: list[float], zooms: list[int]) -> list[tuple[int, int, int]]:
    return [(t.z, t.x, t.y) for t in TMS.tiles(*bbox, zooms=zooms)]


def finish(client: TestClient, job: dict[str, Any], timeout: float = 30) -> list[dict[str, Any]]:
    """Poll a job until it is done or failed; every answer seen, in order."""
    seen = [job]
    deadline = time.monotonic() + timeout
    while seen[-1]["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(0.005)
        answer = client.get(f"/api/jobs/{job['id']}")
        assert answer.status_code == 200
        seen.append(answer.json())
    assert seen[-1]["state"] == "done", seen[-1]
    return seen


def bundle(client: TestClient, fmt: str, **area: Any) -> tuple[dict[str, Any], bytes]:
    body = {"format": fmt, "minzoom": 12, "maxzoom": 14, **(area or {"bbox": BBOX})}
    started = client.post(BUNDLES, json=body)
    assert started.status_code in (200, 202), started.text
    job = finish(client, started.json())[-1]
    answer = client.get(f"/api/jobs/{job['id']}/download")
    assert answer.status_code == 200
    return job, answer.content


def test_bbox_tile_count_is_morecantiles_count(client: TestClient, downloads: Downloads) -> None:
    expected = hand_count(BBOX, [12, 13, 14])
    assert len(expected) == 12  # 2 x 2 tiles around the corner at each zoom
    plan = plan_tiles(box(*BBOX), True, 12, 14)
    assert plan.count == len(expected)
    assert sorted((t.z, t.x, t.y) for t in plan.tiles()) == sorted(expected)
    answer = client.get(BUNDLES + "/estimate", params={"bbox": ",".join(map(str, BBOX)),
                                                       "minzoom": 12, "maxzoom": 14})
    assert answer.status_code == 200
    body = answer.json()
    assert as_documented(BundleEstimateOut, body) == body  # the OpenAPI schema is what it answers
    assert body["count"] == 12 and body["per_zoom"] == {"12": 4, "13": 4, "14": 4}
    assert body["allowed"] and body["sampled_with_data"] == body["sampled_tiles"] > 0
    assert body["estimated_bytes"] > 12 * 100


def test_district_counts_only_tiles_overlapping_the_polygon(downloads: Downloads) -> None:
    layer = downloads.store.layer(CITY, "mcae")
    triangle = shape(downloads.triangle).intersection(box(*layer.bounds))
    plan = plan_tiles(triangle, False, 12, 18)
    brute = []
    for t in TMS.tiles(*triangle.bounds, zooms=list(range(12, 19))):
        cell = box(*TMS.bounds(t))
        if shapely.intersects(triangle, cell) and not shapely.touches(triangle, cell):
            brute.append((t.z, t.x, t.y))
    in_bbox = len(hand_count(list(triangle.bounds), list(range(12, 19))))
    assert plan.count == len(brute) < in_bbox  # the triangle leaves out corners of its bbox
    assert sorted((t.z, t.x, t.y) for t in plan.tiles()) == sorted(brute)
    assert plan.sample(5) == sorted(plan.sample(5), key=lambda t: (t.z, t.y, t.x))  # spread in order


def served_tile(world: Downloads, layer: Layer, z: int, x: int, y: int) -> bytes | None:
    """The tile as the tile route renders it (from the layer's serving copy)."""
    copy = world.store.serving_copy(layer)
    assert copy is not None, "the layer has its serving copy"
    return render_tile(str(copy), layer, "WebMercatorQuad", z, x, y)


def test_mbtiles_has_metadata_and_tms_rows(client: TestClient, downloads: Downloads,
                                           tmp_path: Path) -> None:
    job, data = bundle(client, "mbtiles")
    assert job["tiles_total"] == job["tiles_written"] == 12 and job["progress"] == 1.0
    path = tmp_path / "out.mbtiles"
    path.write_bytes(data)
    db = sqlite3.connect(path)
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    assert meta["format"] == "png" and meta["minzoom"] == "12" and meta["maxzoom"] == "14"
    assert meta["type"] in ("overlay", "baselayer") and "Testville" in meta["name"]
    bounds = [float(v) for v in meta["bounds"].split(",")]
    assert bounds == pytest.approx(BBOX, abs=1e-6)
    assert json.loads(meta["mcae_legend"])[4]["name"] == "Tree"
    assert db.execute("SELECT COUNT(*) FROM tiles").fetchone()[0] == 12
    layer = downloads.store.layer(CITY, "mcae")
    for z, x, y in hand_count(BBOX, [12, 13, 14]):
        rows = db.execute("SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                          (z, x, (1 << z) - 1 - y)).fetchall()
        assert len(rows) == 1
        assert rows[0][0] == served_tile(downloads, layer, z, x, y)
    assert db.execute("SELECT COUNT(*) FROM tiles WHERE zoom_level=14 AND tile_row=?",
                      (hand_count(BBOX, [14])[0][2],)).fetchone()[0] == 0  # XYZ row is not stored
    db.close()


def test_pmtiles_readable_with_the_right_tiles(client: TestClient, downloads: Downloads,
                                               tmp_path: Path) -> None:
    _, data = bundle(client, "pmtiles")
    path = tmp_path / "out.pmtiles"
    path.write_bytes(data)
    layer = downloads.store.layer(CITY, "mcae")
    with open(path, "rb") as f:
        source = MmapSource(f)
        reader = Reader(source)
        header = reader.header()
        assert header["min_zoom"] == 12 and header["max_zoom"] == 14
        assert header["addressed_tiles_count"] == 12
        assert header["min_lon_e7"] == pytest.approx(BBOX[0] * 1e7, abs=2)
        assert reader.metadata()["minzoom"] == 12
        tiles = {zxy: body for zxy, body in all_tiles(source)}
        assert sorted(tiles) == sorted(hand_count(BBOX, [12, 13, 14]))
        z, x, y = hand_count(BBOX, [14])[0]
        assert reader.get(z, x, y) == served_tile(downloads, layer, z, x, y)


def test_zip_has_z_x_y_names(client: TestClient) -> None:
    _, data = bundle(client, "zip")
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == {f"{z}/{x}/{y}.png" for z, x, y in hand_count(BBOX, [12, 13, 14])} | {"metadata.json"}


def test_district_bundle_holds_the_planned_tiles(client: TestClient, downloads: Downloads) -> None:
    job, data = bundle(client, "zip", district="triangle")
    layer = downloads.store.layer(CITY, "mcae")
    plan = plan_tiles(shape(downloads.triangle).intersection(box(*layer.bounds)), False, 12, 14)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist()) - {"metadata.json"}
    assert names == {f"{t.z}/{t.x}/{t.y}.png" for t in plan.tiles()}
    assert job["district"] == "triangle" and job["tiles_total"] == plan.count


def test_over_the_cap_is_413_with_count_and_cap(downloads: Downloads, tmp_path: Path) -> None:
    with client_for(downloads, tmp_path / "jobs", max_bundle_tiles=10) as client:
        answer = client.post(BUNDLES, json={"format": "mbtiles", "bbox": BBOX, "minzoom": 12, "maxzoom": 14})
        estimate = client.get(BUNDLES + "/estimate", params={"bbox": ",".join(map(str, BBOX)),
                                                             "minzoom": 12, "maxzoom": 14}).json()
    assert answer.status_code == 413
    assert answer.json()["count"] == 12 and answer.json()["cap"] == 10 and "12" in answer.json()["detail"]
    assert estimate["count"] == 12 and estimate["cap"] == 10 and estimate["allowed"] is False
    assert not list((tmp_path / "jobs").glob("*.json"))  # no job was started


def test_identical_request_reuses_the_job(client: TestClient, tmp_path: Path) -> None:
    job, _ = bundle(client, "mbtiles")
    path = tmp_path / "jobs" / f"{job['id']}.mbtiles"
    before = path.stat().st_mtime_ns
    again = client.post(BUNDLES, json={"format": "mbtiles", "bbox": BBOX, "minzoom": 12, "maxzoom": 14})
    assert again.status_code == 200 and again.json()["id"] == job["id"] and again.json()["state"] == "done"
    assert path.stat().st_mtime_ns == before
    other = client.post(BUNDLES, json={"format": "mbtiles", "bbox": BBOX, "minzoom": 12, "maxzoom": 13})
    assert other.json()["id"] != job["id"]
    finish(client, other.json())


def test_finished_jobs_survive_a_restart(downloads: Downloads, client: TestClient,
                                         tmp_path: Path) -> None:
    job, data = bundle(client, "pmtiles")
    with client_for(downloads, tmp_path / "jobs") as restarted:
        assert restarted.get(f"/api/jobs/{job['id']}").json()["state"] == "done"
        assert restarted.get(f"/api/jobs/{job['id']}/download").content == data
    record = json.loads((tmp_path / "jobs" / f"{job['id']}.json").read_text())
    assert record["state"] == "done" and "path" not in json.dumps(record["spec"])


def slow(render: Callable[..., bytes | None]) -> Callable[..., bytes | None]:
    def wrapped(*args: Any, **kwargs: Any) -> bytes | None:
        time.sleep(0.03)
        return render(*args, **kwargs)
    return wrapped


def test_polling_shows_progress_to_done(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundles, "render_tile", slow(render_tile))
    started = client.post(BUNDLES, json={"format": "zip", "bbox": BBOX, "minzoom": 12, "maxzoom": 16})
    assert started.status_code == 202 and started.json()["state"] in ("queued", "running")
    assert started.headers["location"] == f"/api/jobs/{started.json()['id']}"
    early = client.get(f"/api/jobs/{started.json()['id']}/download")
    assert early.status_code == 409
    seen = finish(client, started.json())
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(0 < p < 1 for p in progress) and any(s["state"] == "running" for s in seen)
    assert seen[-1]["tiles_done"] == seen[-1]["tiles_total"] == 20
    assert "download" in seen[-1]["links"]


@pytest.mark.parametrize("url", ["/api/cities/nowhere/layers/mcae/bundles",
                                 f"/api/cities/{CITY}/layers/nothing/bundles"])
def test_unknown_city_or_layer_is_404(client: TestClient, url: str) -> None:
    answer = client.post(url, json={"format": "zip", "bbox": BBOX, "minzoom": 12, "maxzoom": 12})
    assert answer.status_code == 404
    assert client.get(url + "/estimate", params={"bbox": ",".join(map(str, BBOX)), "minzoom": 12,
                                                 "maxzoom": 12}).status_code == 404


def test_unknown_district_is_404_and_a_far_one_400(client: TestClient) -> None:
    body = {"format": "zip", "minzoom": 12, "maxzoom": 12}
    assert client.post(BUNDLES, json={**body, "district": "atlantis"}).status_code == 404
    far = client.post(BUNDLES, json={**body, "district": "far"})
    assert far.status_code == 400 and "does not overlap" in far.json()["detail"]


@pytest.mark.parametrize("change", [
    {"minzoom": 14, "maxzoom": 12}, {"maxzoom": 25}, {"minzoom": -1}, {"bbox": BBOX[:3]},
    {"bbox": [BBOX[2], BBOX[1], BBOX[0], BBOX[3]]}, {"bbox": [0, 0, 200, 1]}, {"format": "tar"},
    {"district": "triangle"}, {"bbox": None}, {"minzoom": "twelve"}, {"extra": 1},
])
def test_malformed_requests_are_4xx(client: TestClient, change: dict[str, Any]) -> None:
    body = {"format": "zip", "bbox": BBOX, "minzoom": 12, "maxzoom": 14, **change}
    answer = client.post(BUNDLES, json=body)
    assert 400 <= answer.status_code < 500 and answer.status_code != 404, answer.text


@pytest.mark.parametrize("params", [{"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"minzoom": 9, "maxzoom": 3},
                                    {"maxzoom": 30}, {"minzoom": -2}])
def test_malformed_estimates_are_4xx(client: TestClient, params: dict[str, Any]) -> None:
    query = {"bbox": ",".join(map(str, BBOX)), "minzoom": 12, "maxzoom": 14, **params}
    assert client.get(BUNDLES + "/estimate", params=query).status_code in (400, 422)


@pytest.mark.parametrize("job_id, statuses", [
    ("../../etc/passwd", (404,)), ("..%2F..%2Fcatalog", (404, 422)), ("0123456789abcdef01234567", (404,)),
    ("not-a-job", (422,)), ("0123456789ABCDEF01234567", (404,)), ("0123456789abcdef0123456.", (422,)),
])
def test_job_ids_are_checked(client: TestClient, job_id: str, statuses: tuple[int, ...]) -> None:
    assert client.get(f"/api/jobs/{job_id}").status_code in statuses
    assert client.get(f"/api/jobs/{job_id}/download").status_code in statuses


def test_a_failed_job_says_why_and_runs_again_when_asked(client: TestClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"format": "pmtiles", "bbox": BBOX, "minzoom": 12, "maxzoom": 12}
    monkeypatch.setattr(bundles, "render_tile", lambda *args, **kwargs: None)  # no data anywhere
    job = client.post(BUNDLES, json=body).json()
    deadline = time.monotonic() + 30
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.005)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["state"] == "failed" and "no tile" in job["error"]
    assert client.get(f"/api/jobs/{job['id']}/download").status_code == 409
    monkeypatch.undo()
    again = client.post(BUNDLES, json=body)
    assert again.status_code == 202 and again.json()["id"] != job["id"]  # a new job (ids are random)
    assert finish(client, again.json())[-1]["tiles_written"] == 4
