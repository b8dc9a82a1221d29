"""Versioned tile URLs: ``?v=<current version>`` is immutable, an old version is 410 naming the
current one, a URL without a version is revalidated (no-cache + ETag -> 304); TileJSON, WMTS
and OGC tilesets write the current version into their templates and change after a rebuild."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import morecantile
import numpy as np
import pytest
from PIL import Image
from tiles_data import CITY, SIZE, UTM, UTM_TRANSFORM, TileWorld, make_tile_world

from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.tiles.catalog import LayerKind
from mcae.tiles.layers import publish_layer

WMQ = morecantile.tms.get("WebMercatorQuad")
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
IMMUTABLE = "public, max-age=31536000, immutable"
LAYER = f"/cities/{CITY}/layers/mcae"


@pytest.fixture
def world(tmp_path: Path) -> TileWorld:
    return make_tile_world(tmp_path / "tiles")


def data_tile(world: TileWorld, zoom: int = 18) -> morecantile.Tile:
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE * 3 // 4)  # inside the data half
    return WMQ.tile(lon, lat, zoom)


def tile_url(t: morecantile.Tile, version: str | None = None, suffix: str = ".png") -> str:
    path = f"{LAYER}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}{suffix}"
    return path if version is None else f"{path}?v={version}"


def catalog_version(world: TileWorld) -> str:
    city = world.client.get(f"/api/cities/{CITY}").json()
    return next(layer["version"] for layer in city["layers"] if layer["id"] == "mcae")


def rgba(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def rewrite_mcae(world: TileWorld) -> np.ndarray:
    """Rewrite the MCAE map file in place with other classes (as a rebuilt map would be)."""
    old = world.arrays["mcae"]
    new = np.where(old > 0, old % len(MCAE) + 1, 0).astype(np.uint8)  # every class id shifted by one
    write_class_cog(world.root / "mcae.tif", width=SIZE, height=SIZE, transform=UTM_TRANSFORM, crs=UTM,
                    windows=[(PixelWindow(0, 0, SIZE, SIZE), new)], scheme=MCAE)
    world.arrays["mcae"] = new
    return new


def resolve(world: TileWorld, template: str, t: morecantile.Tile, keys: tuple[str, str, str]) -> bytes:
    path = template.replace("http://testserver", "")
    for key, value in zip(keys, (t.z, t.x, t.y), strict=True):
        path = path.replace(key, str(value))
    r = world.client.get(path)
    assert r.status_code == 200, (path, r.text)
    assert r.headers["cache-control"] == IMMUTABLE, "templates name the version: immutable tiles"
    return r.content


def wmts_templates(world: TileWorld, path: str) -> dict[str, str]:
    root = ET.fromstring(world.client.get(path).content)
    out = {}
    for layer in root.findall(f"{WMTS}Contents/{WMTS}Layer"):
        resource = layer.find(f"{WMTS}ResourceURL")
        assert resource is not None
        out[layer.findtext(f"{OWS}Identifier") or ""] = resource.get("template") or ""
    return out


def test_versioned_tiles_are_immutable_and_versionless_revalidate(world: TileWorld) -> None:
    version = catalog_version(world)
    t = data_tile(world)
    versioned = world.client.get(tile_url(t, version))
    assert versioned.status_code == 200 and versioned.headers["content-type"] == "image/png"
    assert versioned.headers["cache-control"] == IMMUTABLE
    etag = versioned.headers["etag"]
    assert etag.startswith(f'"{version}-')
    again = world.client.get(tile_url(t, version), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == IMMUTABLE and again.headers["etag"] == etag

    plain = world.client.get(tile_url(t))
    assert plain.status_code == 200 and plain.content == versioned.content
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"] == etag
    revalidation = world.client.get(tile_url(t), headers={"If-None-Match": etag})
    assert revalidation.status_code == 304 and revalidation.headers["cache-control"] == "no-cache"

    # every tile route takes v: @2x, extension-less, @2x with a format, webp
    for suffix in ("", "@2x", "@2x.webp", ".webp"):
        r = world.client.get(tile_url(t, version, suffix))
        assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE, suffix
        assert world.client.get(tile_url(t, "0ld", suffix)).status_code == 410, suffix

    # 204 (no data inside the matrix) follows the same rules
    empty = world.client.get(f"{LAYER}/tiles/WebMercatorQuad/3/0/0?v={version}")
    assert empty.status_code == 204 and empty.headers["cache-control"] == IMMUTABLE and empty.headers["etag"]
    empty = world.client.get(f"{LAYER}/tiles/WebMercatorQuad/3/0/0")
    assert empty.status_code == 204 and empty.headers["cache-control"] == "no-cache"
    gone = world.client.get(f"{LAYER}/tiles/WebMercatorQuad/3/0/0?v=0ld")
    assert gone.status_code == 410 and gone.headers["cache-control"] == "no-store"

    # a malformed version is a clean 4xx, never cached; unknown parameters are still refused
    for bad in ("?v=" + "x" * 65, "?v=a/b", "?v=", f"?v={version}&w=1"):
        r = world.client.get(tile_url(t) + bad)
        assert 400 <= r.status_code < 500 and r.headers["cache-control"] == "no-store", bad


def test_documents_revalidate(world: TileWorld) -> None:
    for path in [f"{LAYER}/WebMercatorQuad/tilejson.json", f"{LAYER}/WebMercatorQuad/WMTSCapabilities.xml",
                 f"/cities/{CITY}/WebMercatorQuad/WMTSCapabilities.xml", f"{LAYER}/tiles",
                 f"{LAYER}/tiles/WebMercatorQuad", f"/api/cities/{CITY}"]:
        first = world.client.get(path)
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache", path
        etag = first.headers["etag"]
        again = world.client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, path
        assert world.client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_rebuilt_layer_gets_new_urls(world: TileWorld) -> None:
    old = catalog_version(world)
    t = data_tile(world)
    tilejson = world.client.get(f"{LAYER}/WebMercatorQuad/tilejson.json")
    doc = tilejson.json()
    assert doc["layer_version"] == old and doc["tiles"][0].endswith(f".png?v={old}")
    old_bytes = resolve(world, doc["tiles"][0], t, ("{z}", "{x}", "{y}"))
    old_tile = world.client.get(tile_url(t, old))
    wmts = wmts_templates(world, f"{LAYER}/WebMercatorQuad/WMTSCapabilities.xml")
    assert wmts[f"{CITY}.mcae"].endswith(f"/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png?v={old}")
    tileset = world.client.get(f"{LAYER}/tiles/WebMercatorQuad").json()
    item = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    assert item.endswith(f"?v={old}")

    new_data = rewrite_mcae(world)
    new = catalog_version(world)
    assert new != old, "a rewritten file is a new version in the catalog"

    # the old URL: 410 naming the new version, never cached, never the new bytes (not even a 304)
    for headers in ({}, {"If-None-Match": old_tile.headers["etag"]}, {"If-None-Match": "*"}):
        gone = world.client.get(tile_url(t, old), headers=headers)
        assert gone.status_code == 410, gone.text
        assert gone.headers["cache-control"] == "no-store" and gone.headers["content-type"] == "application/json"
        body = gone.json()
        assert new in body["detail"] and "rebuilt" in body["detail"] and body["version"] == new
    # the new URL: the new bytes, immutable
    fresh = world.client.get(tile_url(t, new))
    assert fresh.status_code == 200 and fresh.headers["cache-control"] == IMMUTABLE
    assert fresh.content != old_bytes and fresh.headers["etag"] != old_tile.headers["etag"]
    palette = {c.id: (*c.rgb, 255) for c in MCAE}
    colours = {tuple(int(v) for v in p) for p in rgba(fresh.content).reshape(-1, 4) if p[3]}
    wanted = {palette[int(c)] for c in np.unique(new_data) if c}
    assert colours and colours <= wanted
    assert (rgba(fresh.content) != rgba(old_bytes)).any(axis=-1).mean() > 0.5
    # the version-less URL: new ETag, so a revalidation gets the new tile
    plain = world.client.get(tile_url(t), headers={"If-None-Match": old_tile.headers["etag"]})
    assert plain.status_code == 200 and plain.content == fresh.content

    # documents: the new version in every template, and a new ETag
    after = world.client.get(f"{LAYER}/WebMercatorQuad/tilejson.json",
                             headers={"If-None-Match": tilejson.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != tilejson.headers["etag"]
    assert after.json()["layer_version"] == new and after.json()["tiles"][0].endswith(f".png?v={new}")
    assert resolve(world, after.json()["tiles"][0], t, ("{z}", "{x}", "{y}")) == fresh.content
    for path in [f"{LAYER}/WebMercatorQuad/WMTSCapabilities.xml",
                 f"/cities/{CITY}/WebMercatorQuad/WMTSCapabilities.xml"]:
        template = wmts_templates(world, path)[f"{CITY}.mcae"]
        assert template.endswith(f"?v={new}") and old not in template, path
        keys = ("{TileMatrix}", "{TileCol}", "{TileRow}")
        assert resolve(world, template, t, keys) == fresh.content
    tileset = world.client.get(f"{LAYER}/tiles/WebMercatorQuad").json()
    item = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    assert item.endswith(f"?v={new}")
    # other layers keep their versions and URLs
    sinolc1 = world.client.get(f"/cities/{CITY}/layers/sinolc1/WebMercatorQuad/tilejson.json").json()
    assert world.client.get(sinolc1["tiles"][0].replace("http://testserver", "")
                            .format(z=18, x=t.x, y=t.y)).status_code in (200, 204)

    # publishing it again (a new serving copy) is one more version; the same pixels
    publish_layer(world.store, CITY, world.root / "mcae.tif", kind=LayerKind.mcae, layer_id="mcae",
                  title="mcae title", provenance="synthetic")
    third = catalog_version(world)
    assert third not in (old, new)
    assert world.client.get(tile_url(t, new)).status_code == 410
    served = world.client.get(tile_url(t, third))
    assert served.status_code == 200 and served.headers["cache-control"] == IMMUTABLE
    # (the serving copy is on the web-mercator grid: a few edge pixels of blocks may differ)
    assert (rgba(served.content) != rgba(fresh.content)).any(axis=-1).mean() < 0.001
    assert {tuple(int(v) for v in p) for p in rgba(served.content).reshape(-1, 4) if p[3]} <= wanted
