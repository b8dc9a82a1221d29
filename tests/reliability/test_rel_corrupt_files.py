"""A published map or its serving copy damaged on disk: tiles fall back to the source or answer a
4xx JSON message naming no server path; no route answers 500.

``tests/test_serving.py`` covers a truncated copy (tiles from the source) and a truncated source
(404 for CRS84 tiles and statistics). Here every kind of damage (emptied, cut, noise written over
its tiles, deleted) hits the copy, the source or both, and every route that reads the layer is
asked: tiles of both matrix sets, statistics, identify, the bundle estimate and a bundle job, a
clip, the legend, TileJSON-like metadata and WMTS capabilities.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import morecantile
import numpy as np
import pytest
from tiles_data import CITY, SIZE, TileWorld, make_tile_world

from mcae.tiles.render import render_tile


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _noise(path: Path) -> None:
    """Noise over the last two thirds (the tiles), header kept: the file opens, its tiles do not decode."""
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start:] = np.random.default_rng(0).integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _delete(path: Path) -> None:
    path.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {"empty": _empty, "cut": _cut, "noise": _noise, "deleted": _delete}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> TileWorld:
    return make_tile_world(tmp_path_factory.mktemp("corrupt_pristine"))


def _world(pristine: TileWorld, tmp_path: Path) -> TileWorld:
    """A copy of the pristine world (catalog paths are relative to it)."""
    import shutil

    shutil.copytree(pristine.root, tmp_path / "w")
    return make_world_at(tmp_path / "w", pristine)


def make_world_at(root: Path, pristine: TileWorld) -> TileWorld:
    from fastapi.testclient import TestClient

    from mcae.platform.app import create_app
    from mcae.platform.settings import JobSettings, Settings
    from mcae.tiles.catalog import CatalogStore
    from mcae.tiles.settings import TileSettings

    store = CatalogStore(root / "catalog.json")
    client = TestClient(create_app(Settings(tiles=TileSettings(catalog_path=store.path),
                                            jobs=JobSettings(dir=root / "jobs"))))
    return TileWorld(root, store, client, pristine.arrays, pristine.transforms)


def _urls(world: TileWorld) -> dict[str, str]:
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE // 2)
    merc = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 18)
    geo = morecantile.tms.get("WorldCRS84Quad").tile(lon, lat, 17)
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    bbox = f"{w + (e - w) * 0.3},{s + (n - s) * 0.3},{e - (e - w) * 0.3},{n - (n - s) * 0.3}"
    layer = f"/api/cities/{CITY}/layers/mcae"
    return {
        "tile": f"/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/{merc.z}/{merc.x}/{merc.y}.png",
        "tile_crs84": f"/cities/{CITY}/layers/mcae/tiles/WorldCRS84Quad/{geo.z}/{geo.x}/{geo.y}.png",
        "statistics": f"{layer}/statistics?bbox={bbox}",
        "identify": f"/api/cities/{CITY}/identify?lon={lon}&lat={lat}",
        "estimate": f"{layer}/bundles/estimate?bbox={bbox}&minzoom=14&maxzoom=16&format=zip",
        "clip": f"{layer}/clip?bbox={bbox}",
        "legend": f"{layer}/legend",
        "city": f"/api/cities/{CITY}",
        "wmts": f"/cities/{CITY}/WebMercatorQuad/WMTSCapabilities.xml",
    }


def _sweep(world: TileWorld) -> dict[str, int]:
    """Every route once: never a 500; a 4xx is JSON with a message that names no server path."""
    world.client.app.state.readers.clear()  # type: ignore[attr-defined]
    statuses = {}
    for name, url in _urls(world).items():
        r = world.client.get(url)
        statuses[name] = r.status_code
        assert r.status_code < 500, (name, r.status_code, r.text[:300])
        if r.status_code >= 400:
            detail = r.json()["detail"]
            assert isinstance(detail, str) and detail, (name, r.text)
        assert str(world.root) not in r.text and "/tmp/" not in r.text, (name, r.text[:300])
    return statuses


def _bundle(world: TileWorld) -> dict[str, object]:
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    body = {"format": "zip", "bbox": [w, s, e, n], "minzoom": 14, "maxzoom": 15}
    r = world.client.post(f"/api/cities/{CITY}/layers/mcae/bundles", json=body)
    assert r.status_code in (200, 202) or 400 <= r.status_code < 500, r.text
    if r.status_code >= 400:
        return {"state": "refused", "error": r.json()["detail"]}
    job = r.json()
    deadline = time.monotonic() + 60
    while job["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
        job = world.client.get(f"/api/jobs/{job['id']}").json()
    return job


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_serving_copy_falls_back_to_the_source(pristine: TileWorld, tmp_path: Path,
                                                         damage: str) -> None:
    world = _world(pristine, tmp_path)
    with world.client:
        layer = world.store.layer(CITY, "mcae")
        copy = world.store.serving_copy(layer)
        assert copy is not None
        DAMAGE[damage](copy)
        statuses = _sweep(world)
        assert set(statuses.values()) == {200}, statuses  # the source answers everything
        lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE // 2)
        t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 18)
        r = world.client.get(_urls(world)["tile"])
        assert r.content == render_tile(str(world.store.layer_path(layer)), layer, "WebMercatorQuad", t.z, t.x, t.y)
        job = _bundle(world)
        assert job["state"] == "done", job


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("where", ["source", "both"])
def test_a_damaged_map_is_a_clean_4xx(pristine: TileWorld, tmp_path: Path, damage: str, where: str) -> None:
    world = _world(pristine, tmp_path)
    with world.client:
        layer = world.store.layer(CITY, "mcae")
        targets = [world.store.layer_path(layer)]
        if where == "both":
            copy = world.store.serving_copy(layer)
            assert copy is not None
            targets.append(copy)
        for path in targets:
            DAMAGE[damage](path)
        statuses = _sweep(world)
        assert statuses["tile_crs84"] == 404 and statuses["statistics"] in (404, 409), statuses
        if where == "both":
            assert statuses["tile"] == 404, statuses
        assert statuses["identify"] == 200  # the city's other layers still answer
        job = _bundle(world)
        if where == "both":
            assert job["state"] in ("failed", "refused"), job
        if job["state"] != "done":
            error = str(job["error"])
            assert error != "internal error" and str(world.root) not in error, job
