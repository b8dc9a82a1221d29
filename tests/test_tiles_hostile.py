"""Hostile requests to the tile server: always a 4xx with a JSON message, never a 500 or a
traceback, and never a file outside the catalog opened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rasterio
from fastapi.testclient import TestClient
from httpx import Response
from tiles_data import CITY, TileWorld, make_tile_world

from mcae.tiles.serving import SERVING_DIR
from mcae.tiles.stac import STAC_PREFIX

TILE = "tiles/WebMercatorQuad/18/217566/106391"
LAYER_ROUTES = [TILE, TILE + ".png", TILE + ".webp", TILE + "@2x", TILE + "@2x.webp",
                "WebMercatorQuad/tilejson.json", "WebMercatorQuad/WMTSCapabilities.xml", "tiles",
                "tiles/WebMercatorQuad", "info", "info.geojson"]
ALL_ROUTES = ([f"/cities/{CITY}/layers/mcae/{r}" for r in LAYER_ROUTES]
              + [f"/cities/{CITY}/WebMercatorQuad/WMTSCapabilities.xml", "/api/legends", "/api/legends/mcae",
                 f"/api/cities/{CITY}/layers/mcae/legend", f"/api/cities/{CITY}/identify?lon=118.78&lat=32.07",
                 "/tileMatrixSets", "/tileMatrixSets/WebMercatorQuad", "/colorMaps", "/colorMaps/mcae"])
# (a literal ".." segment is resolved by the client before sending, as browsers do)
TRAVERSALS = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..%2f", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2Fetc%2Fpasswd",
              "..%5C..%5Cwindows", "C:%5Cwindows", "demo%00city", "a" * 300, "DEMO-CITY", "%252e%252e",
              "file:%2F%2F%2Fetc%2Fpasswd", "~root", "mcae.tif", "catalog.json"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TileWorld]:
    found = make_tile_world(tmp_path_factory.mktemp("hostile"))
    with found.client:  # the app's lifespan: the job registry the bundle routes use
        yield found


@pytest.fixture
def opened(world: TileWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path handed to rasterio (hence GDAL) while the test runs."""
    paths: list[str] = []
    real_open, real_reader = rasterio.open, rasterio.DatasetReader

    def spy_open(fp, *args, **kwargs):  # type: ignore[no-untyped-def]
        paths.append(str(fp))
        return real_open(fp, *args, **kwargs)

    def spy_reader(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        paths.append(str(getattr(path, "path", path)))  # rasterio passes a parsed path object
        return real_reader(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy_open)
    monkeypatch.setattr(rasterio, "DatasetReader", spy_reader)
    pool = world.client.app.state.readers  # type: ignore[attr-defined]
    pool.clear()  # so that every request below really opens its files
    yield paths
    pool.clear()


def assert_clean_4xx(r: Response, *statuses: int) -> None:
    assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
    if statuses:
        assert r.status_code in statuses, (r.request.url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert "detail" in body
    text = r.text
    assert "Traceback" not in text and 'File "' not in text and "/etc/passwd\\n" not in text


def catalog_files(world: TileWorld) -> set[str]:
    """Every file of the city's layers: their own files and their serving copies."""
    layers = world.store.city(CITY).layers.values()
    return ({str(world.store.layer_path(la)) for la in layers}
            | {str(world.store.serving_copy(la)) for la in layers if world.store.serving_copy(la)})


def test_traversal_in_ids(world: TileWorld, opened: list[str]) -> None:
    for bad in TRAVERSALS:
        for template in ([f"/cities/{bad}/layers/mcae/{r}" for r in LAYER_ROUTES]
                         + [f"/cities/{CITY}/layers/{bad}/{r}" for r in LAYER_ROUTES]
                         + [f"/api/cities/{bad}/identify?lon=118.78&lat=32.07", f"/api/legends/{bad}",
                            f"/api/cities/{CITY}/layers/{bad}/legend",
                            f"/cities/{bad}/WebMercatorQuad/WMTSCapabilities.xml"]):
            assert_clean_4xx(world.client.get(template))
    assert opened == []  # no id resolved to a file: GDAL never ran


def test_absolute_paths_in_ids(world: TileWorld, opened: list[str]) -> None:
    for bad in ["/etc/passwd", "//etc/passwd", "/" + str(world.root / "mcae.tif")]:
        for path in [f"/cities{bad}/layers/mcae/{TILE}", f"/cities/{CITY}/layers{bad}/{TILE}",
                     f"/api/cities{bad}/identify?lon=1&lat=1"]:
            assert_clean_4xx(world.client.get(path))
    assert opened == []


@pytest.mark.parametrize("value", ["/etc/passwd", "file:///etc/passwd", "http://127.0.0.1:9/x.tif",
                                   "/vsicurl/http://127.0.0.1:9/x.tif"])
def test_url_parameter_refused_everywhere(world: TileWorld, opened: list[str], value: str) -> None:
    for route in ALL_ROUTES:
        sep = "&" if "?" in route else "?"
        r = world.client.get(f"{route}{sep}url={value}")
        assert_clean_4xx(r, 400)
        assert "url" in r.json()["detail"]
    assert opened == []


def test_expressions_and_band_math_refused(world: TileWorld) -> None:
    base = f"/cities/{CITY}/layers/mcae/"
    for query in ["expression=b1*1000", "expression=b1%2Fb2;b2", "bidx=1&bidx=2", "algorithm=hillshade",
                  'colormap={"1":"#ff0000"}', "colormap_name=viridis", "rescale=0,1", "nodata=5",
                  "resampling=cubic", "reproject=bilinear", "unscale=true", "color_formula=gamma",
                  "return_mask=false", "buffer=100", "padding=10", "assets=a"]:
        for route in [TILE, TILE + ".webp", "WebMercatorQuad/tilejson.json", "info", "tiles/WebMercatorQuad"]:
            assert_clean_4xx(world.client.get(f"{base}{route}?{query}"), 400)


@pytest.mark.parametrize("tile", ["25/0/0", "-1/0/0", "18/262144/0", "18/0/262144", "18/-1/0",
                                  "99999999999999999999/0/0", "0/0/" + "9" * 5000])
def test_zxy_out_of_range(world: TileWorld, tile: str) -> None:
    r = world.client.get(f"/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/{tile}")
    assert_clean_4xx(r, 404, 422)


@pytest.mark.parametrize("tile", ["a/0/0", "1.5/0/0", "1e3/0/0", "0/0/0x1", "0/0/ 1"])
def test_zxy_not_integers(world: TileWorld, tile: str) -> None:
    assert_clean_4xx(world.client.get(f"/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/{tile}"), 404, 422)


def test_tile_sizes(world: TileWorld) -> None:
    base = f"/cities/{CITY}/layers/mcae/"
    for query in ["tilesize=-256", "tilesize=0", "tilesize=255", "tilesize=1024", "tilesize=100000000",
                  "tilesize=abc", "tilesize=256.5", "tilesize=1e9"]:
        for route in [TILE, TILE + ".png", "WebMercatorQuad/tilejson.json", "WebMercatorQuad/WMTSCapabilities.xml"]:
            assert_clean_4xx(world.client.get(f"{base}{route}?{query}"), 422)
    for suffix in ["@3x", "@0x", "@-1x", "@2x.jpg", "@1000x.png", ".jpg", ".jpeg", ".tif", ".npy", ".png.png"]:
        assert_clean_4xx(world.client.get(f"{base}{TILE}{suffix}"), 404, 422)
    assert_clean_4xx(world.client.get(f"{base}{TILE}@2x?tilesize=256"), 400)
    assert_clean_4xx(world.client.get("/colorMaps/mcae?f=png&width=1000000&height=5"), 400)
    assert_clean_4xx(world.client.get("/colorMaps/mcae?f=png&height=-5"), 400)


def test_zoom_and_crs_parameters_bounded(world: TileWorld) -> None:
    base = f"/cities/{CITY}/layers/mcae/"
    for route in ["tiles/WebMercatorQuad?minzoom=0&maxzoom=1000000", "tiles?crs=/etc/passwd",
                  "info.geojson?crs=/etc/passwd", "info.geojson?crs=%2Bproj%3Dlonlat%20%2Binit%3D%2Fetc%2Fpasswd",
                  "WebMercatorQuad/tilejson.json?minzoom=-5"]:
        assert_clean_4xx(world.client.get(base + route), 400)
    assert world.client.get(base + "info.geojson?crs=EPSG:4326").status_code == 200


def test_unknown_ids(world: TileWorld, opened: list[str]) -> None:
    for path in [f"/cities/nope/layers/mcae/{TILE}", f"/cities/{CITY}/layers/nope/{TILE}",
                 f"/cities/{CITY}/layers/nope/WebMercatorQuad/tilejson.json", f"/cities/{CITY}/layers/nope/info",
                 f"/cities/{CITY}/layers/nope/tiles", "/api/cities/nope/identify?lon=1&lat=1",
                 f"/api/cities/{CITY}/layers/nope/legend", "/api/legends/nope",
                 f"/cities/{CITY}/layers/mcae/tiles/NoSuchTMS/0/0/0", "/tileMatrixSets/NoSuchTMS",
                 "/colorMaps/nope"]:
        assert_clean_4xx(world.client.get(path), 404, 422)
    assert opened == []


@pytest.mark.parametrize("query", ["lon=abc&lat=1", "lon=200&lat=1", "lon=1&lat=-91", "lon=nan&lat=1",
                                   "lon=inf&lat=1", "lon=1e309&lat=1", "lat=1", "lon=1", "",
                                   "lon=1&lat=1&lat=abc", "lon=%00&lat=1", "lon=1,2&lat=3"])
def test_malformed_lonlat(world: TileWorld, query: str) -> None:
    assert_clean_4xx(world.client.get(f"/api/cities/{CITY}/identify?{query}"), 422)


def test_hostile_catalog_entries_refused(world: TileWorld) -> None:
    """Catalog entries pointing at a VRT, /etc/passwd, a missing file or a URL: 4xx, not 500."""
    for layer in ["vrt", "passwd", "missing", "remote", "url"]:
        for route in [TILE, "WebMercatorQuad/tilejson.json", "info", "tiles/WebMercatorQuad",
                      "WebMercatorQuad/WMTSCapabilities.xml"]:
            assert_clean_4xx(world.client.get(f"/cities/evil-city/layers/{layer}/{route}"), 404)
    r = world.client.get("/api/cities/evil-city/identify?lon=118.78&lat=32.07")
    assert r.status_code == 200 and all(e["value"] is None for e in r.json()["layers"])


def test_only_catalog_files_are_opened(world: TileWorld, opened: list[str]) -> None:
    """A full round of legitimate and hostile requests opens nothing but the city's COGs."""
    client: TestClient = world.client
    for route in ALL_ROUTES:
        client.get(route)
        client.get(route + ("&" if "?" in route else "?") + "url=/etc/passwd")
    for bad in TRAVERSALS[:6]:
        client.get(f"/cities/{CITY}/layers/{bad}/{TILE}")
    assert opened, "the spy saw nothing: it is not wired where the server opens files"
    assert set(opened) <= catalog_files(world), set(opened) - catalog_files(world)
    assert all(Path(p).parent in (world.root, world.root / SERVING_DIR) for p in opened)


def test_catalog_and_stac_survive_broken_entries(world: TileWorld) -> None:
    """A layer whose file is missing, a VRT or /etc/passwd: listed as unavailable, left out
    of STAC, never a 500."""
    r = world.client.get("/api/cities/evil-city")
    assert r.status_code == 200
    layers = {entry["id"]: entry for entry in r.json()["layers"]}
    assert layers["missing"]["available"] is False and layers["missing"]["version"] is None
    assert world.client.get("/api/cities").status_code == 200
    collection = world.client.get(f"{STAC_PREFIX}/evil-city/collection.json")
    assert collection.status_code == 200
    assert not [link for link in collection.json()["links"] if link["rel"] == "item"]
    assert world.client.get(f"{STAC_PREFIX}/catalog.json").status_code == 200
    for layer in ["vrt", "passwd", "missing", "remote", "url"]:
        assert_clean_4xx(world.client.get(f"{STAC_PREFIX}/evil-city/{layer}/{layer}.json"), 404)
    good = world.client.get(f"{STAC_PREFIX}/{CITY}/mcae/mcae.json")
    assert good.status_code == 200 and good.json()["id"] == "mcae"


EVIL_LAYERS = ["vrt", "passwd", "missing", "remote", "url"]


def test_every_layer_route_survives_broken_layer_files(world: TileWorld) -> None:
    """Every GET and POST route with a layer in its path, on catalog entries whose files are
    missing, a VRT, /etc/passwd or remote: a 4xx with a message that names no server path."""
    spec = world.client.get("/openapi.json").json()
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    bbox = f"{w + (e - w) * 0.6},{s + (n - s) * 0.4},{w + (e - w) * 0.7},{s + (n - s) * 0.5}"
    lon, lat = (w + e) / 2, (s + n) / 2
    polygon = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 5e-4, lat], [lon + 5e-4, lat + 5e-4],
                                                   [lon, lat]]]}
    query = {"bbox": bbox, "minzoom": "14", "maxzoom": "15"}
    fill = {"city": "evil-city", "tileMatrixSetId": "WebMercatorQuad", "z": "18", "x": "217566", "y": "106391",
            "scale": "1", "format": "png"}
    seen = refused = 0
    for route, operations in spec["paths"].items():
        if "{layer}" not in route and "{item}" not in route:  # a STAC item id starts with its layer's
            continue
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            params = {k: v for k, v in query.items() if k in names}
            for layer in EVIL_LAYERS:
                values = {**fill, "layer": layer, "item": layer, "item_file": f"{layer}.json",
                          "version": "0123456789ab", "name": f"{CITY}-{layer}.tif"}
                path = route.format(**values)
                if method == "get":
                    r = world.client.get(path, params=params)
                else:
                    body = polygon if path.endswith(("/clip", "/statistics")) else \
                        {"bbox": [float(v) for v in bbox.split(",")], "minzoom": 14, "maxzoom": 15}
                    r = world.client.post(path, params=params, json=body)
                assert r.status_code < 500, (path, r.status_code, r.text)
                assert str(world.root) not in r.text and "/etc/passwd" not in r.text, (path, r.text)
                if r.status_code >= 400:  # routes that never read the file (legend) may answer 200
                    assert_clean_4xx(r)
                    refused += 1
                seen += 1
    assert seen >= 80 and refused >= seen - 10, (seen, refused)
