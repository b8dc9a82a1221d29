"""WMTS as real clients read it: OWSLib and GDAL's WMTS driver against a running server.

Both append ``SERVICE=WMTS&REQUEST=GetCapabilities`` style parameters to a capabilities
URL (as QGIS does), then fetch tiles through the ResourceURL template.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import morecantile
import numpy as np
import pytest
from owslib.wmts import WebMapTileService
from PIL import Image
from tiles_data import CITY, SIZE, TileWorld, live_server, make_tile_world

from mcae.inference.classes import MCAE

WMQ = morecantile.tms.get("WebMercatorQuad")
CAPS = f"/cities/{CITY}/WebMercatorQuad/WMTSCapabilities.xml"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> TileWorld:
    return make_tile_world(tmp_path_factory.mktemp("wmts"))


@pytest.fixture(scope="module")
def base(world: TileWorld) -> Iterator[str]:
    with live_server(world.store.path) as url:
        yield url


def data_tile(world: TileWorld) -> morecantile.Tile:
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE * 3 // 4)
    return WMQ.tile(lon, lat, 18)


def rgba(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def test_capabilities_accept_ogc_key_value_parameters(base: str) -> None:
    for query in ["SERVICE=WMTS&REQUEST=GetCapabilities", "service=wmts&request=GetCapabilities&version=1.0.0",
                  "Service=WMTS"]:
        r = httpx.get(f"{base}{CAPS}?{query}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml"), (query, r.text)
    for query in ["SERVICE=WMS", "REQUEST=GetTile", "VERSION=2.0.0", "LAYER=x"]:
        r = httpx.get(f"{base}{CAPS}?{query}")
        assert r.status_code == 400 and "detail" in r.json(), query


def test_owslib_reads_capabilities_and_fetches_tiles(world: TileWorld, base: str) -> None:
    wmts = WebMapTileService(base + CAPS)
    assert {f"{CITY}.mcae", f"{CITY}.sinolc1", f"{CITY}.imagery"} <= set(wmts.contents)
    assert "WebMercatorQuad" in wmts.tilematrixsets
    layer = wmts.contents[f"{CITY}.mcae"]
    assert layer.formats == ["image/png"]
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    assert layer.boundingBoxWGS84 == pytest.approx((w, s, e, n), abs=1e-6)
    t = data_tile(world)
    got = wmts.gettile(layer=f"{CITY}.mcae", tilematrixset="WebMercatorQuad", tilematrix=str(t.z),
                       row=t.y, column=t.x, format="image/png").read()
    direct = httpx.get(f"{base}/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png")
    assert got == direct.content and len(got) > 100
    limits = layer.tilematrixsetlinks["WebMercatorQuad"].tilematrixlimits
    assert str(t.z) in limits
    zl = limits[str(t.z)]
    assert zl.mintilerow <= t.y <= zl.maxtilerow and zl.mintilecol <= t.x <= zl.maxtilecol


GDAL_READ = """
import json, sys
import numpy as np
import rasterio
from rasterio.windows import from_bounds
url, bounds = sys.argv[1], json.loads(sys.argv[2])
with rasterio.open(url) as src:
    window = from_bounds(*bounds, transform=src.transform)
    data = src.read(window=window, out_shape=(src.count, 256, 256))
    print(json.dumps({"crs": src.crs.to_epsg(), "res": src.res[0], "count": src.count,
                      "window": [window.col_off, window.row_off], "pixels": data.tolist()}))
"""


def test_gdal_wmts_driver_reads_the_same_pixels(world: TileWorld, base: str) -> None:
    t = data_tile(world)
    bounds = list(WMQ.xy_bounds(t))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPL_", "GDAL_HTTP"))}  # a plain GDAL client
    url = f"WMTS:{base}{CAPS},layer={CITY}.mcae"
    done = subprocess.run([sys.executable, "-c", GDAL_READ, url, json.dumps(bounds)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["crs"] == 3857 and found["res"] == pytest.approx(WMQ.matrix(18).cellSize)
    assert found["window"] == pytest.approx([round(v) for v in found["window"]], abs=1e-6)  # grid-aligned
    pixels = np.moveaxis(np.array(found["pixels"], np.uint8), 0, -1)
    tile = rgba(httpx.get(f"{base}/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png").content)
    assert found["count"] == 4
    assert (pixels == tile).all()
    colours = {tuple(c) for c in pixels[pixels[..., 3] > 0][:, :3].tolist()}
    assert colours and colours <= {c.rgb for c in MCAE}


QGIS_PYTHON = "/usr/bin/python3"


def qgis_available() -> bool:
    try:
        done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.skipif(not qgis_available(), reason="QGIS (Debian's python3-qgis) is not installed")
def test_qgis_adds_every_layer_by_wmts_and_draws_palette_colours(world: TileWorld, base: str) -> None:
    """Headless QGIS: every layer of the city loads from the capabilities URL, in EPSG:3857, over
    the layer's extent, and draws only its legend's colours."""
    layers = ["mcae", "sinolc1", "imagery"]
    script = str(Path(__file__).with_name("qgis_wmts.py"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPL_", "GDAL_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([QGIS_PYTHON, script, base + CAPS, *[f"{CITY}.{la}" for la in layers]], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])["layers"]
    for layer_id in layers:
        entry = found[f"{CITY}.{layer_id}"]
        assert entry["valid"] and entry["crs"] == "EPSG:3857", entry
        w, s, e, n = world.store.layer(CITY, layer_id).bounds
        x0, y0, x1, y1 = entry["extent"]
        lon0, lat0 = morecantile.tms.get("WebMercatorQuad").lnglat(x0, y0)
        lon1, lat1 = morecantile.tms.get("WebMercatorQuad").lnglat(x1, y1)
        assert (lon0, lat0, lon1, lat1) == pytest.approx((w, s, e, n), abs=1e-4)
        assert sum(entry["colours"].values()) > 1000, entry  # it drew the layer
        if layer_id != "imagery":
            legend = httpx.get(f"{base}/api/cities/{CITY}/layers/{layer_id}/legend").json()["classes"]
            palette = {",".join(str(v) for v in c["rgb"]) for c in legend}
            assert set(entry["colours"]) <= palette, set(entry["colours"]) - palette
