"""nginx in front of ``mcae serve`` with ``docker/nginx.conf``: tiles cached as the app's headers say.

Debian's nginx runs the same file compose mounts into the nginx image (placeholders substituted,
``rel_nginx``), in front of a real ``mcae serve --workers 1`` that cannot import torch (as in the
platform image) on a small seeded catalog. A versioned tile is a HIT the second time, with the
same bytes; a version-less tile is never stored and revalidates by ETag; after the map is rebuilt
(a new version) nothing stale comes from nginx, an old version is 410 and never stored;
authenticated requests and the API are never cached; nginx's own errors are JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import morecantile
import numpy as np
import pytest
from rel_nginx import check_config, free_port, nginx_in_front, render, serve_without_torch, write_config
from tiles_data import CITY, SIZE, UTM, UTM_TRANSFORM, TileWorld, make_tile_world

from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.tiles.catalog import LayerKind
from mcae.tiles.layers import publish_layer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WMQ = morecantile.tms.get("WebMercatorQuad")
IMMUTABLE = "public, max-age=31536000, immutable"
LAYER = f"/cities/{CITY}/layers/mcae"


@dataclass
class Stack:
    world: TileWorld
    app: str  # mcae serve, directly
    proxy: httpx.Client  # through nginx
    work: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("nginx-cache")
    world = make_tile_world(root / "tiles")
    with serve_without_torch(world.store.path, root / "serve.log") as app, \
            nginx_in_front(app.removeprefix("http://"), root / "nginx") as base, \
            httpx.Client(base_url=base, timeout=30) as proxy:
        yield Stack(world, app, proxy, root / "nginx")


def tiles(world: TileWorld, n: int, zoom: int = 18) -> list[morecantile.Tile]:
    """``n`` distinct tiles inside the mcae layer's data half (each test takes its own)."""
    found: list[morecantile.Tile] = []
    for row in range(SIZE // 8, SIZE, SIZE // 16):
        for col in range(SIZE // 2 + SIZE // 16, SIZE, SIZE // 16):
            t = WMQ.tile(*world.lonlat_of("mcae", row, col), zoom)
            if t not in found:
                found.append(t)
    assert len(found) >= n
    return found[:n]


def url(t: morecantile.Tile, version: str | None = None) -> str:
    path = f"{LAYER}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    return path if version is None else f"{path}?v={version}"


def version(proxy: httpx.Client) -> str:
    city = proxy.get(f"/api/cities/{CITY}").json()
    return str(next(layer["version"] for layer in city["layers"] if layer["id"] == "mcae"))


def test_the_compose_file_passes_nginx_t(tmp_path: Path) -> None:
    main = write_config(tmp_path / "conf", "127.0.0.1:9", free_port())
    checked = check_config(main)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    with pytest.raises(ValueError, match="MCAE_OTHER"):  # a placeholder nobody substitutes is caught
        render({"MCAE_UPSTREAM": "a:1", "MCAE_LISTEN": "1", "MCAE_NGINX_CACHE": "/c"}, "x ${MCAE_OTHER};")


def test_a_versioned_tile_comes_from_the_cache_the_second_time(stack: Stack) -> None:
    v = version(stack.proxy)
    direct = httpx.get(stack.app + url(tiles(stack.world, 1)[0], v))
    first = stack.proxy.get(url(tiles(stack.world, 1)[0], v))
    second = stack.proxy.get(url(tiles(stack.world, 1)[0], v))
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.headers["x-cache-status"] == "MISS" and second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content == direct.content
    assert second.headers["cache-control"] == IMMUTABLE and second.headers["etag"] == direct.headers["etag"]
    # a conditional request is answered by nginx from the cached entry
    again = stack.proxy.get(url(tiles(stack.world, 1)[0], v), headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-cache-status"] == "HIT" and again.content == b""
    # what the viewer does: the TileJSON through nginx names nginx, its template leads to the cache
    template = stack.proxy.get(f"{LAYER}/WebMercatorQuad/tilejson.json").json()["tiles"][0]
    assert template.startswith(str(stack.proxy.base_url).rstrip("/") + "/") and template.endswith(f"?v={v}")
    t = tiles(stack.world, 1)[0]
    path = template.replace(str(stack.proxy.base_url).rstrip("/"), "").format(z=t.z, x=t.x, y=t.y)
    hit = stack.proxy.get(path)
    assert hit.headers["x-cache-status"] == "HIT" and hit.content == first.content


def rebuild(world: TileWorld) -> None:
    """A rebuilt map published as the rebuild job does (``publish_layer``): other classes, new version."""
    new = np.where(world.arrays["mcae"] > 0, world.arrays["mcae"] % len(MCAE) + 1, 0).astype(np.uint8)
    write_class_cog(world.root / "mcae.tif", width=SIZE, height=SIZE, transform=UTM_TRANSFORM, crs=UTM,
                    windows=[(PixelWindow(0, 0, SIZE, SIZE), new)], scheme=MCAE)
    publish_layer(world.store, CITY, world.root / "mcae.tif", kind=LayerKind.mcae, layer_id="mcae",
                  title="mcae title", provenance="synthetic")
    world.arrays["mcae"] = new


def test_a_rebuilt_map_is_not_served_stale(stack: Stack) -> None:
    proxy = stack.proxy
    kept, plain_tile, unseen = tiles(stack.world, 4)[1:]
    old = version(proxy)
    old_kept = proxy.get(url(kept, old))
    assert proxy.get(url(kept, old)).headers["x-cache-status"] == "HIT"
    # version-less: not through the cache, revalidated by the app's ETag
    plain = proxy.get(url(plain_tile))
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"
    assert "x-cache-status" not in proxy.get(url(plain_tile)).headers, "a version-less tile went through the cache"
    etag = plain.headers["etag"]
    revalidated = proxy.get(url(plain_tile), headers={"If-None-Match": etag})
    assert revalidated.status_code == 304 and revalidated.content == b""

    rebuild(stack.world)
    new = version(proxy)
    assert new != old
    # the version-less URL: the new map at once (the old ETag no longer matches)
    after = proxy.get(url(plain_tile), headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag and after.content != plain.content
    assert after.content == httpx.get(stack.app + url(plain_tile)).content
    # the new version's URL: new keys, so the new bytes, then cached
    fresh = proxy.get(url(kept, new))
    assert fresh.headers["x-cache-status"] == "MISS" and fresh.content != old_kept.content
    assert proxy.get(url(kept, new)).headers["x-cache-status"] == "HIT"
    assert fresh.content == httpx.get(stack.app + url(kept, new)).content
    # an old version nginx does not hold: 410 from the app, never stored (twice a MISS)
    for _ in range(2):
        gone = proxy.get(url(unseen, old))
        assert gone.status_code == 410 and gone.headers["cache-control"] == "no-store", gone.text
        assert gone.headers["x-cache-status"] == "MISS" and new in gone.json()["detail"]
    # an old version nginx already holds stays what that URL named (immutable, as in a browser's
    # cache): the old map's bytes, not the new ones; clients move on through TileJSON's new URLs
    held = proxy.get(url(kept, old))
    assert held.headers["x-cache-status"] == "HIT" and held.content == old_kept.content


def test_authenticated_requests_and_the_api_are_not_cached(stack: Stack) -> None:
    proxy = stack.proxy
    v = version(proxy)
    t = tiles(stack.world, 6)[5]
    auth = {"Authorization": "Bearer not-a-token"}
    first = proxy.get(url(t, v), headers=auth)
    assert first.status_code == 200 and "x-cache-status" not in first.headers
    assert proxy.get(url(t, v)).headers["x-cache-status"] == "MISS", "an authenticated answer was stored"
    # the API: POSTs with a token reach the app every time; nothing there says it was cached
    body = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [0, 0]]]}
    for _ in range(2):
        r = proxy.post(f"/api/cities/{CITY}/layers/mcae/statistics", json=body, headers=auth)
        assert 200 <= r.status_code < 500 and "x-cache-status" not in r.headers, r.text
        me = proxy.get("/api/me", headers=auth)
        assert me.status_code == 401 and "x-cache-status" not in me.headers


def test_nginx_errors_are_json_and_json_is_gzipped(stack: Stack) -> None:
    big = stack.proxy.post(f"/api/cities/{CITY}/layers/mcae/statistics", content=b"0" * (16 * 1024 * 1024 + 1),
                           headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.headers["content-type"] == "application/json"
    assert big.headers["cache-control"] == "no-store" and "smaller body" in big.json()["detail"]
    # at the app's cap the app itself answers (nginx lets it through)
    at_cap = stack.proxy.post(f"/api/cities/{CITY}/layers/mcae/statistics", content=b" " * (16 * 1024 * 1024),
                              headers={"Content-Type": "application/json"})
    assert 400 <= at_cap.status_code < 500 and at_cap.status_code != 413, at_cap.text
    doc = httpx.get(str(stack.proxy.base_url) + "/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert doc.headers["content-encoding"] == "gzip" and doc.json()["info"]["title"] == "MCAE"


def test_an_app_that_is_down_is_a_json_503(tmp_path: Path) -> None:
    with nginx_in_front(f"127.0.0.1:{free_port()}", tmp_path / "down") as base:
        r = httpx.get(base + "/api/cities")
        assert r.status_code == 503 and r.headers["content-type"] == "application/json"
        assert "not answering" in r.json()["detail"] and "127.0.0.1" not in r.text
