"""Clipped GeoTIFFs: exact window, palette and class names, no data outside the polygon, caps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from downloads_fixtures import CITY, CORNER, STEP, Downloads, downloads  # noqa: F401
from fastapi.testclient import TestClient
from rasterio.features import geometry_mask
from rasterio.io import MemoryFile
from rasterio.warp import transform_geom
from rasterio.windows import Window
from shapely.geometry import mapping, shape

from mcae.platform.app import create_app
from mcae.platform.settings import JobSettings, Settings
from mcae.tiles.settings import TileSettings

LAYER = f"/api/cities/{CITY}/layers"


@pytest.fixture
def client(downloads: Downloads, tmp_path: Path) -> Iterator[TestClient]:  # noqa: F811
    with client_for(downloads, tmp_path / "jobs") as running:
        yield running


def client_for(downloads: Downloads, jobs: Path, **limits: Any) -> TestClient:  # noqa: F811
    """A client of the app on the downloads catalog, jobs (and clip scratch files) in ``jobs``;
    enter it (``with``) to run the app's lifespan."""
    return TestClient(create_app(Settings(tiles=TileSettings(catalog_path=downloads.catalog, **limits),
                                          jobs=JobSettings(dir=jobs))))


def geotiff(content: bytes) -> dict[str, Any]:
    with MemoryFile(content) as mem, mem.open() as src:
        return {"data": src.read(), "profile": src.profile, "tags": src.tags(), "transform": src.transform,
                "colormap": src.colormap(1) if src.count == 1 else None, "mask": src.dataset_mask(),
                "crs": src.crs}


def test_bbox_clip_has_the_exact_window_and_the_palette(client: TestClient, downloads: Downloads,  # noqa: F811
                                                        tmp_path: Path) -> None:
    west, north = downloads.wgs_origin
    col0, row0, cols, rows = 100, 60, 150, 90  # a bbox on pixel edges of the EPSG:4326 layer
    bbox = [west + col0 * STEP, north - (row0 + rows) * STEP, west + (col0 + cols) * STEP, north - row0 * STEP]
    answer = client.get(f"{LAYER}/wgs/clip", params={"bbox": ",".join(repr(v) for v in bbox)})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/tiff"
    assert "wgs-clip.tif" in answer.headers["content-disposition"]
    out = geotiff(answer.content)
    assert out["data"].shape == (1, rows, cols)
    assert out["transform"].c == pytest.approx(bbox[0]) and out["transform"].f == pytest.approx(bbox[3])
    with rasterio.open(downloads.wgs) as src:
        expected = src.read(1, window=Window(col0, row0, cols, rows))
    assert np.array_equal(out["data"][0], expected)
    assert out["colormap"][5][:3] == (0x22, 0x61, 0x26) and out["colormap"][0][3] == 0
    assert out["tags"]["CLASS_5"] == "Tree" and out["tags"]["CLASS_SCHEME"] == "mcae"
    assert out["tags"]["MCAE_LAYER"] == "wgs" and out["profile"]["nodata"] == 0
    assert not list((tmp_path / "jobs" / "clips").glob("*.tif"))  # the scratch file is gone


def _inside(downloads: Downloads, out: dict[str, Any], polygon: dict[str, Any]) -> np.ndarray:  # noqa: F811
    """Pixels whose centre is inside ``polygon`` (edges densified: straight in lon/lat)."""
    dense = mapping(shape(polygon).segmentize(1e-5))
    return geometry_mask([transform_geom("EPSG:4326", out["crs"], dense)], out_shape=out["data"].shape[1:],
                         transform=out["transform"], invert=True)


def test_district_clip_is_nodata_outside_the_polygon(client: TestClient, downloads: Downloads) -> None:  # noqa: F811
    answer = client.get(f"{LAYER}/mcae/clip", params={"district": "triangle"})
    assert answer.status_code == 200
    out = geotiff(answer.content)
    data = out["data"][0]
    assert out["crs"].to_epsg() == 32650 and 300 < data.shape[0] < 600 and 300 < data.shape[1] < 600
    inside = _inside(downloads, out, downloads.triangle)
    assert (data[~inside] == 0).all() and (data[inside] > 0).all()
    assert data[0, 0] == 0 and data[-8, data.shape[1] // 2] > 0  # top corner outside, base inside
    with rasterio.open(downloads.utm) as src:
        window = rasterio.windows.from_bounds(*rasterio.transform.array_bounds(*data.shape, out["transform"]),
                                              transform=src.transform)
        source = src.read(1, window=window.round_offsets().round_lengths())
    assert np.array_equal(data[inside], source[inside])
    assert out["colormap"][8][:3] == (0xDE, 0x1F, 0x07)


def test_posted_polygon_matches_the_district(client: TestClient, downloads: Downloads) -> None:  # noqa: F811
    by_district = client.get(f"{LAYER}/mcae/clip", params={"district": "triangle"})
    feature = {"type": "Feature", "properties": {}, "geometry": downloads.triangle}
    posted = client.post(f"{LAYER}/mcae/clip", json=feature)
    assert posted.status_code == 200
    assert np.array_equal(geotiff(posted.content)["data"], geotiff(by_district.content)["data"])


def test_imagery_clip_masks_outside_the_polygon(client: TestClient, downloads: Downloads) -> None:  # noqa: F811
    answer = client.post(f"{LAYER}/imagery/clip", json=downloads.triangle)
    assert answer.status_code == 200
    out = geotiff(answer.content)
    assert out["data"].shape[0] == 3 and out["colormap"] is None
    inside = _inside(downloads, out, downloads.triangle)
    assert (out["mask"][~inside] == 0).all() and (out["mask"][inside] == 255).all()


def test_clip_over_the_cap_is_413(downloads: Downloads, tmp_path: Path) -> None:  # noqa: F811
    with client_for(downloads, tmp_path / "jobs", max_image_pixels=1000) as client:
        answer = client.get(f"{LAYER}/mcae/clip", params={"district": "triangle"})
    assert answer.status_code == 413
    body = answer.json()
    assert body["cap"] == 1000 and body["count"] > 1000 and "pixels" in body["detail"]
    assert not (tmp_path / "jobs").exists()  # refused before anything was written


@pytest.mark.parametrize("url, params, status", [
    (f"{LAYER}/nothing/clip", {"district": "triangle"}, 404),
    ("/api/cities/nowhere/layers/mcae/clip", {"district": "triangle"}, 404),
    (f"{LAYER}/mcae/clip", {"district": "atlantis"}, 404),
    (f"{LAYER}/mcae/clip", {"district": "far"}, 400),
    (f"{LAYER}/mcae/clip", {"bbox": "1,2,3"}, 400),
    (f"{LAYER}/mcae/clip", {"bbox": f"{CORNER.x},0,{CORNER.x - 1},1"}, 400),
    (f"{LAYER}/mcae/clip", {}, 400),
    (f"{LAYER}/mcae/clip", {"bbox": "10,10,11,11", "district": "triangle"}, 400),
])
def test_bad_clip_requests(client: TestClient, url: str, params: dict[str, str], status: int) -> None:
    assert client.get(url, params=params).status_code == status


@pytest.mark.parametrize("body", [{"type": "Point", "coordinates": [1, 2]}, {"type": "Polygon"},
                                  {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 1], [1, 0], [0, 0]]]}])
def test_bad_clip_polygons_are_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post(f"{LAYER}/mcae/clip", json=body).status_code == 400
