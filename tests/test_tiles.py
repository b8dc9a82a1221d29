"""The tile server: tiles, TileJSON, WMTS, OGC tilesets, legends, identify, caching, serving."""

from __future__ import annotations

import io
import os
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import morecantile
import numpy as np
import pytest
from analysis_data import as_documented
from PIL import Image
from tiles_data import CITY, SIZE, TileWorld, live_server, make_tile_world

from mcae.inference.classes import MCAE, SCHEMES, SINOLC1
from mcae.tiles.render import render_tile
from mcae.tiles.schemas_analysis import IdentifyOut

WMQ = morecantile.tms.get("WebMercatorQuad")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> TileWorld:
    return make_tile_world(tmp_path_factory.mktemp("tiles"))


def url(layer: str, rest: str) -> str:
    return f"/cities/{CITY}/layers/{layer}/{rest}"


def data_tiles(world: TileWorld, layer: str, zoom: int) -> list[morecantile.Tile]:
    """Tiles of ``zoom`` over the layer's data half (the right half of the raster)."""
    w, s, e, n = world.store.layer(CITY, layer).bounds
    return list(WMQ.tiles(w + (e - w) * 0.55, s, e, n, zooms=[zoom]))


def tile_path(t: morecantile.Tile) -> str:
    return f"tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"


def rgba(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


# -- categorical tiles ----------------------------------------------------------------------

@pytest.mark.parametrize(("layer", "scheme"), [("mcae", MCAE), ("sinolc1", SINOLC1)])
def test_class_tile_colours_are_palette_colours(world: TileWorld, layer: str, scheme) -> None:
    palette = {c.rgb for c in scheme}
    seen: set[tuple[int, int, int]] = set()
    maxzoom = world.store.layer(CITY, layer).maxzoom
    for zoom, suffix in [(maxzoom, ""), (maxzoom - 1, "@2x"), (maxzoom + 1, ".png")]:
        for t in data_tiles(world, layer, zoom)[:6]:
            r = world.client.get(url(layer, tile_path(t) + suffix))
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "image/png"
            image = Image.open(io.BytesIO(r.content))
            assert image.mode == "P"  # paletted
            assert image.size == ((512, 512) if suffix == "@2x" else (256, 256))
            pixels = rgba(r.content).reshape(-1, 4)
            assert set(np.unique(pixels[:, 3])) <= {0, 255}
            opaque = {tuple(int(v) for v in p) for p in np.unique(pixels[pixels[:, 3] == 255][:, :3], axis=0)}
            assert opaque <= palette, opaque - palette
            seen |= opaque
    assert len(seen) >= 3  # real content, not one flat colour


def test_extensionless_tile_is_png_and_equals_png(world: TileWorld) -> None:
    t = data_tiles(world, "mcae", 18)[0]
    bare = world.client.get(url("mcae", tile_path(t)))
    png = world.client.get(url("mcae", tile_path(t) + ".png"))
    assert bare.headers["content-type"] == "image/png" and bare.content.startswith(PNG_SIGNATURE)
    assert bare.content == png.content


@pytest.mark.parametrize("layer", ["mcae", "sinolc1", "imagery"])
def test_webp_is_lossless(world: TileWorld, layer: str) -> None:
    for t in data_tiles(world, layer, 18)[:3]:
        png = world.client.get(url(layer, tile_path(t) + ".png"))
        webp = world.client.get(url(layer, tile_path(t) + ".webp"))
        assert webp.headers["content-type"] == "image/webp"
        assert webp.content[8:12] == b"WEBP" and b"VP8L" in webp.content[:64]  # the lossless codec
        np.testing.assert_array_equal(rgba(webp.content), rgba(png.content))


def test_render_tile_matches_route(world: TileWorld) -> None:
    layer = world.store.layer(CITY, "mcae")
    t = data_tiles(world, "mcae", 18)[1]
    direct = render_tile(str(world.store.layer_path(layer)), layer, "WebMercatorQuad", t.z, t.x, t.y,
                         tilesize=256, fmt="png")
    assert direct == world.client.get(url("mcae", tile_path(t))).content


def test_imagery_tile_and_worldcrs84(world: TileWorld) -> None:
    t = data_tiles(world, "imagery", 18)[0]
    r = world.client.get(url("imagery", tile_path(t)))
    assert r.status_code == 200 and r.content.startswith(PNG_SIGNATURE)
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    crs84 = morecantile.tms.get("WorldCRS84Quad")
    t84 = crs84.tile((w + e * 3) / 4, (s + n) / 2, 17)
    r = world.client.get(url("mcae", f"tiles/WorldCRS84Quad/{t84.z}/{t84.x}/{t84.y}"))
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).mode == "P"


# -- status conventions ----------------------------------------------------------------------

def test_no_data_inside_matrix_is_204(world: TileWorld) -> None:
    far = world.client.get(url("mcae", "tiles/WebMercatorQuad/3/0/0"))
    assert far.status_code == 204 and far.content == b""
    assert far.headers["cache-control"] == "no-cache" and far.headers["etag"]  # no ?v=: revalidated
    # a tile over the raster's no-data half (left half is 0 = no data)
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE // 4)
    t = WMQ.tile(lon, lat, 21)
    w, _, e, _ = WMQ.bounds(t)
    west = world.store.layer(CITY, "mcae").bounds[0]
    lon_mid, _ = world.lonlat_of("mcae", SIZE // 2, SIZE // 2 - 4)
    assert west < w and e < lon_mid
    assert world.client.get(url("mcae", tile_path(t))).status_code == 204


@pytest.mark.parametrize("path", ["3/8/0", "3/0/8", "3/-1/0", "25/0/0", "-1/0/0", "99999999999/0/0",
                                  "3/99999999999999999999/0"])
def test_outside_matrix_is_404(world: TileWorld, path: str) -> None:
    r = world.client.get(url("mcae", f"tiles/WebMercatorQuad/{path}"))
    assert r.status_code == 404
    assert r.headers["cache-control"] == "no-store" and "detail" in r.json()


def test_etag_and_304(world: TileWorld) -> None:
    t = data_tiles(world, "mcae", 18)[2]
    path = url("mcae", tile_path(t))
    first = world.client.get(path)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"  # no ?v=: revalidated (versioned: test_tile_versions)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = world.client.get(path, headers={"If-None-Match": header})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert world.client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
    others = {world.client.get(path + suffix).headers["etag"] for suffix in (".webp", "@2x", "?tilesize=512")}
    assert etag not in others and len(others) == 2  # @2x and tilesize=512 are the same tile
    # a new file version -> a new ETag
    file = world.root / "mcae.tif"
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert world.client.get(path).headers["etag"] != etag
    finally:
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert world.client.get(path).headers["etag"] == etag


def test_errors_are_not_cached(world: TileWorld) -> None:
    for path in [url("nope", "tiles/WebMercatorQuad/3/0/0"), url("mcae", "tiles/WebMercatorQuad/3/0/0.jpg"),
                 url("mcae", "tiles/WebMercatorQuad/3/0/0?url=x")]:
        r = world.client.get(path)
        assert 400 <= r.status_code < 500 and r.headers["cache-control"] == "no-store"


def test_datasets_are_reused(world: TileWorld) -> None:
    tiles = data_tiles(world, "mcae", 19)
    world.client.get(url("mcae", tile_path(tiles[0]) + "?tilesize=512"))
    pool = world.client.app.state.readers  # type: ignore[attr-defined]
    opened = pool.opened
    for t in tiles[1:15]:
        assert world.client.get(url("mcae", tile_path(t) + "?tilesize=512")).status_code == 200
    assert pool.opened == opened


# -- TileJSON, WMTS, OGC tilesets, info --------------------------------------------------------

def resolve(world: TileWorld, template: str, t: morecantile.Tile, keys: tuple[str, str, str]) -> bytes:
    path = template.replace("http://testserver", "")
    path = path.replace(keys[0], str(t.z)).replace(keys[1], str(t.x)).replace(keys[2], str(t.y))
    r = world.client.get(path)
    assert r.status_code == 200, (path, r.text)
    return r.content


def test_tilejson_template_resolves(world: TileWorld) -> None:
    doc = world.client.get(url("mcae", "WebMercatorQuad/tilejson.json")).json()
    assert doc["tilejson"] == "3.0.0" and doc["minzoom"] <= doc["maxzoom"]
    assert len(doc["bounds"]) == 4 and "/cities/test-city/layers/mcae/" in doc["tiles"][0]
    t = data_tiles(world, "mcae", doc["maxzoom"])[0]
    assert Image.open(io.BytesIO(resolve(world, doc["tiles"][0], t, ("{z}", "{x}", "{y}")))).size == (256, 256)
    doc = world.client.get(url("mcae", "WebMercatorQuad/tilejson.json?tilesize=512&tile_format=webp")).json()
    assert doc["tiles"][0].endswith(f"@2x.webp?v={doc['layer_version']}")
    assert Image.open(io.BytesIO(resolve(world, doc["tiles"][0], t, ("{z}", "{x}", "{y}")))).size == (512, 512)


def test_wmts_capabilities(world: TileWorld) -> None:
    r = world.client.get(url("mcae", "WebMercatorQuad/WMTSCapabilities.xml"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    layers = root.findall(f"{WMTS}Contents/{WMTS}Layer")
    assert [la.findtext(f"{OWS}Identifier") for la in layers] == [f"{CITY}.mcae"]
    resource = layers[0].find(f"{WMTS}ResourceURL")
    assert resource is not None and resource.get("resourceType") == "tile"
    matrix_set = root.find(f"{WMTS}Contents/{WMTS}TileMatrixSet")
    assert matrix_set is not None and matrix_set.findtext(f"{OWS}SupportedCRS") == "urn:ogc:def:crs:EPSG::3857"
    zooms = [int(m.findtext(f"{OWS}Identifier") or -1) for m in matrix_set.findall(f"{WMTS}TileMatrix")]
    assert zooms and max(zooms) == world.store.layer(CITY, "mcae").maxzoom
    t = data_tiles(world, "mcae", max(zooms))[0]
    resolve(world, resource.get("template") or "", t, ("{TileMatrix}", "{TileCol}", "{TileRow}"))
    city = ET.fromstring(world.client.get(f"/cities/{CITY}/WebMercatorQuad/WMTSCapabilities.xml").content)
    ids = {la.findtext(f"{OWS}Identifier") for la in city.findall(f"{WMTS}Contents/{WMTS}Layer")}
    assert ids == {f"{CITY}.mcae", f"{CITY}.sinolc1", f"{CITY}.imagery"}


def test_ogc_tilesets_and_info(world: TileWorld) -> None:
    listing = world.client.get(url("mcae", "tiles")).json()
    assert {ts["crs"] for ts in listing["tilesets"]} >= {"http://www.opengis.net/def/crs/EPSG/0/3857"}
    tileset = world.client.get(url("mcae", "tiles/WebMercatorQuad")).json()
    assert tileset["tileMatrixSetLimits"]
    template = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    resolve(world, template, data_tiles(world, "mcae", 18)[0], ("{z}", "{x}", "{y}"))
    info = world.client.get(url("mcae", "info"))
    assert info.status_code == 200 and info.json()["dtype"] == "uint8"
    assert str(world.root) not in info.text and "mcae.tif" not in info.text  # no paths leak
    assert world.client.get("/tileMatrixSets").status_code == 200


def test_named_colormaps(world: TileWorld) -> None:
    names = {c["id"] for c in world.client.get("/colorMaps").json()["colormaps"]}
    assert {"mcae", "sinolc1"} <= names
    cmap = world.client.get("/colorMaps/mcae").json()
    assert cmap["8"] == [222, 31, 7, 255] and cmap["0"][3] == 0


# -- legends and identify -------------------------------------------------------------------

def test_legends(world: TileWorld) -> None:
    mcae = world.client.get("/api/legends/mcae").json()
    assert mcae["id"] == "mcae" and len(mcae["classes"]) == 9
    assert mcae["classes"][0] == {"id": 1, "name": "Bareland", "color": "#800000", "rgb": [128, 0, 0]}
    assert mcae["classes"][7] == {"id": 8, "name": "Building", "color": "#DE1F07", "rgb": [222, 31, 7]}
    sinolc = world.client.get("/api/legends/sinolc1").json()
    assert [c["name"] for c in sinolc["classes"]][:2] == ["Traffic route", "Tree cover"]
    assert len(sinolc["classes"]) == 11 and sinolc["classes"][8]["rgb"] == [0, 100, 200]
    assert {s["id"] for s in world.client.get("/api/legends").json()} == set(SCHEMES)  # one registry
    layer = world.client.get(f"/api/cities/{CITY}/layers/sinolc1/legend").json()
    assert layer["layer"] == "sinolc1" and layer["classes"] == sinolc["classes"]
    assert world.client.get(f"/api/cities/{CITY}/layers/imagery/legend").status_code == 404
    assert world.client.get("/api/legends/nope").status_code == 404


def test_identify_reads_the_raster(world: TileWorld) -> None:
    row, col = 300, 400  # in the data half; a 32 px block, so its centre is unambiguous
    row, col = row - row % 32 + 16, col - col % 32 + 16
    lon, lat = world.lonlat_of("mcae", row, col)
    r = world.client.get(f"/api/cities/{CITY}/identify", params={"lon": lon, "lat": lat})
    assert r.status_code == 200
    assert as_documented(IdentifyOut, r.json()) == r.json()  # the OpenAPI schema is what it answers
    found = {entry["layer"]: entry for entry in r.json()["layers"]}
    expected = int(world.arrays["mcae"][row, col])
    assert found["mcae"]["value"] == expected
    assert found["mcae"]["class"] == MCAE.get(expected).name and found["mcae"]["color"] == MCAE.get(expected).hex
    assert found["imagery"]["rgb"] == [int(v) for v in world.arrays["imagery"][:, row, col]]
    sinolc = found["sinolc1"]
    assert sinolc["value"] is None or sinolc["class"] == SINOLC1.get(sinolc["value"]).name
    nodata = world.client.get(f"/api/cities/{CITY}/identify",
                              params=dict(zip(("lon", "lat"), world.lonlat_of("mcae", 100, 40), strict=True)))
    entry = next(e for e in nodata.json()["layers"] if e["layer"] == "mcae")
    assert entry["value"] is None and entry["class"] is None
    outside = world.client.get(f"/api/cities/{CITY}/identify", params={"lon": 10.0, "lat": 10.0}).json()
    assert all(e.get("value") is None and e.get("rgb") is None for e in outside["layers"])


def test_openapi_documents_the_tile_statuses(world: TileWorld) -> None:
    spec = world.client.get("/openapi.json").json()
    tile = spec["paths"]["/cities/{city}/layers/{layer}/tiles/{tileMatrixSetId}/{z}/{x}/{y}"]["get"]
    assert {"200", "204", "304"} <= set(tile["responses"]) and "204 No Content" in tile["description"]
    assert not [p for p in spec["paths"] if any(k in p for k in ("preview", "bbox", "feature", "statistics",
                                                                  "point", "map.html")) and p.startswith("/cities/")]


# -- caches ------------------------------------------------------------------------------------

def test_reader_pool_bounds_and_file_changes(world: TileWorld, tmp_path: Path) -> None:
    from mcae.tiles.readers import ReaderPool

    pool = ReaderPool(1)
    a, b = str(world.root / "mcae.tif"), str(world.root / "sinolc1.tif")
    for path in (a, a, b, a):
        with pool.reader(path, WMQ) as src:
            assert src.dataset is not None and not src.dataset.closed
    assert pool.opened == 3 and len(pool) == 1  # a reused once; the pool keeps one
    copy = tmp_path / "copy.tif"
    copy.write_bytes(Path(a).read_bytes())
    with pool.reader(str(copy), WMQ):
        pass
    copy.write_bytes(Path(b).read_bytes())  # replaced in place: a new reader, the stale one closed
    with pool.reader(str(copy), WMQ) as src:
        assert src.crs.to_epsg() == 4326
    pool.clear()
    assert len(pool) == 0


def test_tile_cache_and_etags() -> None:
    from mcae.tiles.http_cache import ByteCache, etag_matches
    from mcae.tiles.render import tile_etag

    cache = ByteCache(1000)
    for i in range(20):
        cache.put(str(i), bytes(100))
    assert len(cache) < 10 and cache.get("19") == (True, bytes(100)) and cache.get("0") == (False, None)
    cache.put("none", None)
    assert cache.get("none") == (True, None)
    tag = tile_etag("v1", "city", "layer", 18, 1, 2, 256, "png")
    assert tag != tile_etag("v2", "city", "layer", 18, 1, 2, 256, "png")
    assert tag != tile_etag("v1", "city", "layer", 18, 1, 2, 256, "webp")
    assert etag_matches(f"W/{tag}", tag) and not etag_matches(None, tag) and not etag_matches('"x"', tag)


# -- serving -----------------------------------------------------------------------------------

def test_serve_sockets_get_tcp_nodelay() -> None:
    from mcae.platform.cli.serve import listening_socket

    sock = listening_socket("127.0.0.1", 0, reuse_port=True)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only then (uvicorn #3149)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    finally:
        sock.close()


@pytest.mark.slow
def test_serve_two_workers_keep_alive_latency(world: TileWorld) -> None:
    import time

    import httpx

    with live_server(world.store.path, workers=2) as base:
        t = data_tiles(world, "mcae", 18)[0]
        with httpx.Client(base_url=base) as client:
            client.get(url("mcae", tile_path(t)))
            times = []
            for _ in range(30):
                start = time.perf_counter()
                assert client.get(url("mcae", tile_path(t))).status_code == 200
                times.append(time.perf_counter() - start)
        assert sorted(times)[len(times) // 2] < 0.02  # ~1 ms; ~44 ms with Nagle + delayed ACK


def test_catalog_is_parsed_once_per_file_version(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mcae.tiles.catalog import CatalogStore, City

    store = CatalogStore(tmp_path / "catalog.json")
    store.put_city(City(id="a", name="A"))
    first = store.snapshot()
    assert store.snapshot() is first  # unchanged file: no re-parse
    store.put_city(City(id="b", name="B"))
    assert set(store.snapshot().cities) == {"a", "b"}  # a change is seen at once
