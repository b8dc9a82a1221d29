"""Serving copies: web-optimized COGs the WebMercatorQuad tiles are read from."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from rio_cogeo.cogeo import cog_validate
from tiles_data import CITY, SIZE, UTM, UTM_TRANSFORM, TileWorld, make_tile_world
from typer.testing import CliRunner

from mcae.inference import cog
from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.platform.cli import get_app
from mcae.tiles import serving
from mcae.tiles.catalog import stat_token
from mcae.tiles.render import render_tile
from mcae.tiles.serving import SERVING_DIR, SOURCE_TAG, with_serving_copy

WMQ = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture
def world(tmp_path: Path) -> TileWorld:
    return make_tile_world(tmp_path / "world")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path the reader pool opens while the test runs."""
    paths: list[str] = []
    real = rasterio.open

    def spy(fp, *args, **kwargs):  # type: ignore[no-untyped-def]
        paths.append(str(fp))
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy)
    yield paths  # each test's world is a new app, with a reader pool of its own


def mcae_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(get_app(), [str(a) for a in args])
    return result.exit_code, result.output


def data_tile(world: TileWorld, zoom: int = 18) -> morecantile.Tile:
    """A tile well inside the mcae layer's data half (its right half)."""
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE * 3 // 4)
    return WMQ.tile(lon, lat, zoom)


def tile_url(layer: str, t: morecantile.Tile, tms: str = "WebMercatorQuad") -> str:
    return f"/cities/{CITY}/layers/{layer}/tiles/{tms}/{t.z}/{t.x}/{t.y}.png"


def ids_of(content: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(content))
    assert image.mode == "P"
    return np.asarray(image)


def only_water(content: bytes) -> bool:
    """Water (6) wherever the tile has data, and data on most of it."""
    ids = ids_of(content)
    return set(np.unique(ids)) - {0} == {6} and (ids == 6).mean() > 0.5


def test_copy_is_a_valid_grid_aligned_paletted_cog(world: TileWorld) -> None:
    layer = world.store.layer(CITY, "mcae")
    copy = world.store.serving_copy(layer)
    assert copy is not None and copy.parent == world.root / SERVING_DIR
    assert cog_validate(str(copy), quiet=True)[0]
    source = world.store.layer_path(layer)
    with rasterio.open(copy) as src, rasterio.open(source) as native:
        assert src.crs.to_epsg() == 3857 and src.nodata == 0 and src.count == 1
        assert src.tags()[SOURCE_TAG] == stat_token(source.stat()) == layer.serving_source
        assert src.colormap(1)[5][:3] == MCAE.get(5).rgb  # the palette travels with it
        assert src.overviews(1), "no overviews"
        # pixels sit on the WebMercatorQuad grid: the copy's resolution is a zoom's, its
        # origin a whole number of tiles from the matrix origin
        zoom = WMQ.zoom_for_res(src.res[0])
        matrix = WMQ.matrix(zoom)
        assert src.res[0] == pytest.approx(matrix.cellSize, rel=1e-9)
        span = matrix.cellSize * matrix.tileWidth
        for offset in ((src.transform.c - matrix.pointOfOrigin[0]) / span,
                       (matrix.pointOfOrigin[1] - src.transform.f) / span):
            assert offset == pytest.approx(round(offset), abs=1e-6)
        assert set(np.unique(src.read(1))) <= set(np.unique(native.read(1)))


def test_copy_of_imagery_has_alpha_outside_the_scene(world: TileWorld) -> None:
    layer = world.store.layer(CITY, "imagery")
    copy = world.store.serving_copy(layer)
    assert copy is not None
    with rasterio.open(copy) as src:
        assert src.count == 4 and src.colorinterp[3].name == "alpha"
        alpha = src.read(4)
        assert alpha.min() == 0 and alpha.max() == 255  # the warp's margin is transparent, not black
    # a tile across the scene's edge: transparent where the scene ends, as from the source
    lon, lat = world.lonlat_of("imagery", SIZE // 2, 0)
    t = WMQ.tile(lon, lat, 18)
    r = world.client.get(tile_url("imagery", t))
    assert r.status_code == 200
    alpha_tile = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3]
    source_tile = render_tile(str(world.store.layer_path(layer)), layer, "WebMercatorQuad", t.z, t.x, t.y)
    assert source_tile is not None
    alpha_source = np.asarray(Image.open(io.BytesIO(source_tile)).convert("RGBA"))[..., 3]
    assert 0 < (alpha_tile == 0).sum() < alpha_tile.size
    assert abs(float((alpha_tile == 0).mean()) - float((alpha_source == 0).mean())) < 0.02


def test_webmercator_tiles_read_the_copy_and_crs84_tiles_the_source(world: TileWorld, opened: list[str]) -> None:
    layer = world.store.layer(CITY, "mcae")
    copy, source = world.store.serving_copy(layer), world.store.layer_path(layer)
    t = data_tile(world)
    r = world.client.get(tile_url("mcae", t))
    assert r.status_code == 200
    assert str(copy) in opened and str(source) not in opened
    served = ids_of(r.content)
    assert r.content == render_tile(str(copy), layer, "WebMercatorQuad", t.z, t.x, t.y)
    # the same classes as the source's own tile, up to nearest-neighbour shifts at block edges
    native = render_tile(str(source), layer, "WebMercatorQuad", t.z, t.x, t.y)
    assert native is not None
    assert (served == ids_of(native)).mean() > 0.9
    assert set(np.unique(served)) <= {c.id for c in MCAE} | {0}
    opened.clear()
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE * 3 // 4)
    g = morecantile.tms.get("WorldCRS84Quad").tile(lon, lat, 17)
    assert world.client.get(tile_url("mcae", g, "WorldCRS84Quad")).status_code == 200
    assert str(source) in opened and str(copy) not in opened


def test_a_rewritten_source_is_served_from_itself_until_optimized(world: TileWorld, opened: list[str]) -> None:
    layer = world.store.layer(CITY, "mcae")
    source, copy = world.store.layer_path(layer), world.store.serving_copy(layer)
    t = data_tile(world)
    before = world.client.get(tile_url("mcae", t))
    water = np.full((SIZE, SIZE), 6, np.uint8)
    water[:, : SIZE // 2] = 0
    write_class_cog(source, width=SIZE, height=SIZE, transform=UTM_TRANSFORM, crs=UTM,
                    windows=[(PixelWindow(0, 0, SIZE, SIZE), water)], scheme=MCAE)
    assert world.store.serving_copy(layer) is None  # stale: never served
    opened.clear()
    stale = world.client.get(tile_url("mcae", t))
    assert stale.status_code == 200 and stale.headers["etag"] != before.headers["etag"]
    assert only_water(stale.content)  # the new map, read from the source
    assert str(source) in opened and str(copy) not in opened

    code, out = mcae_cli("catalog", "list", "--catalog", world.store.path)
    assert code == 0 and "stale" in out and "mcae catalog optimize" in out
    code, out = mcae_cli("catalog", "optimize", CITY, "--catalog", world.store.path)
    assert code == 0 and "1 serving copies written" in out, out
    fresh = world.store.layer(CITY, "mcae")
    assert world.store.serving_copy(fresh) == copy
    opened.clear()
    again = world.client.get(tile_url("mcae", t))
    assert only_water(again.content)
    assert str(copy) in opened and str(source) not in opened
    assert again.headers["etag"] not in (before.headers["etag"], stale.headers["etag"])


def test_optimize_reports_layers_it_cannot_copy(world: TileWorld) -> None:
    code, out = mcae_cli("catalog", "optimize", "--catalog", world.store.path)
    assert code == 1 and "evil-city/missing: no serving copy" in out and "failed" in out
    assert "Traceback" not in out


def test_remove_deletes_unused_copies_only(world: TileWorld) -> None:
    store = world.store
    imagery_copy = store.serving_copy(store.layer(CITY, "imagery"))
    mcae_copy = store.serving_copy(store.layer(CITY, "mcae"))
    assert imagery_copy and mcae_copy
    # a second layer on the same file shares its copy
    store.put_layer(CITY, store.layer(CITY, "mcae").model_copy(update={"id": "mcae-again"}))
    code, out = mcae_cli("catalog", "remove", CITY, "mcae", "--catalog", store.path)
    assert code == 0, out
    assert mcae_copy.is_file()  # still used by mcae-again
    code, out = mcae_cli("catalog", "remove", CITY, "imagery", "--catalog", store.path)
    assert code == 0 and "1 serving copies" in out
    assert not imagery_copy.exists() and mcae_copy.is_file()


def test_replacing_a_layer_drops_its_old_copy(world: TileWorld, tmp_path: Path) -> None:
    old = world.store.serving_copy(world.store.layer(CITY, "mcae"))
    assert old is not None
    moved = world.root / "mcae-v2.tif"
    moved.write_bytes(world.store.layer_path(world.store.layer(CITY, "mcae")).read_bytes())
    code, out = mcae_cli("catalog", "add", CITY, moved, "--kind", "mcae", "--layer", "mcae",
                         "--catalog", world.store.path)
    assert code == 0, out
    new = world.store.serving_copy(world.store.layer(CITY, "mcae"))
    assert new is not None and new != old and not old.exists()


def test_no_copy_on_request_and_paths_stay_private(world: TileWorld, tmp_path: Path) -> None:
    code, out = mcae_cli("catalog", "add", CITY, world.root / "sinolc1.tif", "--kind", "sinolc1",
                         "--layer", "plain", "--no-serving-copy", "--catalog", world.store.path)
    assert code == 0, out
    plain = world.store.layer(CITY, "plain")
    assert plain.serving_path is None and world.store.serving_copy(plain) is None
    assert world.store.layer_ref(CITY, "plain").tile_path("WebMercatorQuad") == str(world.store.layer_path(plain))
    body = world.client.get(f"/api/cities/{CITY}").json()
    for entry in body["layers"]:
        assert not {"path", "serving_path", "serving_source"} & set(entry)


def test_a_failed_copy_leaves_nothing(world: TileWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = world.store.layer(CITY, "mcae")
    copy = world.store.serving_copy(layer)
    assert copy is not None
    copy.unlink()
    before = sorted(p.name for p in copy.parent.iterdir())

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        Path(args[1]).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cog, "cog_translate", broken)
    with pytest.raises(OSError, match="disk full"):
        with_serving_copy(world.store, layer)
    assert sorted(p.name for p in copy.parent.iterdir()) == before
    assert world.store.layer_ref(CITY, "mcae").tile_path("WebMercatorQuad") == str(world.store.layer_path(layer))


def test_block_size_falls_back_when_the_validator_sees_a_striped_level(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "map.tif"
    data = np.kron(np.arange(1, 10, dtype=np.uint8).reshape(3, 3), np.ones((100, 100), np.uint8))
    write_class_cog(source, width=300, height=300, transform=Affine(0.6, 0, 668000.0, 0, -0.6, 3550000.0),
                    crs=UTM, windows=[(PixelWindow(0, 0, 300, 300), data)], scheme=MCAE)
    real = cog.cog_validate
    calls: list[int] = []

    def validator(path, **kwargs):  # type: ignore[no-untyped-def]
        with rasterio.open(path) as src:
            calls.append(src.block_shapes[0][0])
        if len(calls) == 1:
            return False, ["Overview of index 0 is not tiled"], []
        return real(path, **kwargs)

    monkeypatch.setattr(cog, "cog_validate", validator)
    out = serving.write_serving_copy(source, tmp_path / "copy.tif", categorical=True)
    assert calls == [512, 256]
    with rasterio.open(out) as src:
        assert src.block_shapes[0] == (256, 256)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.tif", "map.qml", "map.tif", "map.tif.aux.xml"]

    def always_bad(path, **kwargs):  # type: ignore[no-untyped-def]
        return False, ["The file is greater than 512xH or 512xW, but is not tiled"], []

    monkeypatch.setattr(cog, "cog_validate", always_bad)
    with pytest.raises(serving.COGValidationError):
        serving.write_serving_copy(source, tmp_path / "other.tif", categorical=True)
    assert not (tmp_path / "other.tif").exists()


def test_serve_names_layers_without_a_fresh_copy(world: TileWorld, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from mcae.platform.cli.serve import warn_slow_layers

    monkeypatch.setenv("MCAE_TILES_CATALOG_PATH", str(world.store.path))
    warn_slow_layers()
    assert "stale" not in capsys.readouterr().err
    source = world.store.layer_path(world.store.layer(CITY, "sinolc1"))
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    warn_slow_layers()
    out = " ".join(capsys.readouterr().err.split())
    assert "1 layer(s) with a stale serving copy" in out and f"{CITY}/sinolc1" in out


def test_uint16_imagery_is_stretched_by_its_source(tmp_path: Path) -> None:
    """Tiles from the copy (with its transparent margins) keep the source's contrast."""
    world = make_tile_world(tmp_path / "w16")
    rng = np.random.default_rng(5)
    data = rng.integers(1000, 3001, size=(3, SIZE, SIZE), dtype=np.uint16)
    with rasterio.open(world.root / "deep.tif", "w", driver="GTiff", width=SIZE, height=SIZE, count=3,
                       dtype="uint16", crs=UTM, transform=UTM_TRANSFORM, tiled=True) as dst:
        dst.write(data)
    from mcae.tiles.catalog import LayerKind
    from mcae.tiles.layers import layer_from_file

    layer = layer_from_file(world.store, world.root / "deep.tif", kind=LayerKind.imagery, layer_id="deep")
    world.store.put_layer(CITY, layer)
    assert world.store.serving_copy(layer) is not None
    lon, lat = world.lonlat_of("imagery", SIZE // 2, SIZE // 2)
    t = WMQ.tile(lon, lat, 18)
    served = world.client.get(tile_url("deep", t))
    assert served.status_code == 200
    own = render_tile(str(world.store.layer_path(layer)), layer, "WebMercatorQuad", t.z, t.x, t.y)
    assert own is not None
    a = np.asarray(Image.open(io.BytesIO(served.content)).convert("RGBA")).astype(float)
    b = np.asarray(Image.open(io.BytesIO(own)).convert("RGBA")).astype(float)
    both = (a[..., 3] > 0) & (b[..., 3] > 0)
    assert both.mean() > 0.5
    assert abs(a[both][:, :3].mean() - b[both][:, :3].mean()) < 5  # same stretch (was ~75 brighter)
    assert 100 < a[both][:, :3].mean() < 155  # uniform values: mid-grey on average


def test_a_damaged_copy_is_passed_over_for_the_source(world: TileWorld) -> None:
    layer = world.store.layer(CITY, "mcae")
    copy = world.store.serving_copy(layer)
    assert copy is not None
    t = data_tile(world)
    copy.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])  # truncated behind our back
    world.client.app.state.readers.clear()  # type: ignore[attr-defined]
    r = world.client.get(tile_url("mcae", t))
    assert r.status_code == 200
    assert r.content == render_tile(str(world.store.layer_path(layer)), layer, "WebMercatorQuad", t.z, t.x, t.y)


def test_an_unreadable_source_is_a_clean_404(world: TileWorld) -> None:
    source = world.store.layer_path(world.store.layer(CITY, "mcae"))
    source.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])  # opens, fails to read
    world.client.app.state.readers.clear()  # type: ignore[attr-defined]
    lon, lat = world.lonlat_of("mcae", SIZE // 2, SIZE * 3 // 4)
    g = morecantile.tms.get("WorldCRS84Quad").tile(lon, lat, 17)
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    bbox = f"{w + (e - w) * 0.6},{s + (n - s) * 0.1},{e - (e - w) * 0.1},{n - (n - s) * 0.1}"
    for url in [tile_url("mcae", g, "WorldCRS84Quad"), f"/api/cities/{CITY}/layers/mcae/statistics?bbox={bbox}"]:
        r = world.client.get(url)
        assert r.status_code == 404 and "could not be read" in r.json()["detail"], (url, r.text)
        assert str(world.root) not in r.text
    r = world.client.get(f"/api/cities/{CITY}/identify?lon={lon}&lat={lat}")
    assert r.status_code == 200
    values = {entry["layer"]: entry for entry in r.json()["layers"]}
    assert values["mcae"]["value"] is None and values["imagery"]["rgb"] is not None  # the others still answer


def test_prune_spares_files_being_written_and_young_copies(world: TileWorld) -> None:
    folder = world.root / SERVING_DIR
    temporary = folder / ".mcae-0123456789.tif.abcd1234.tif"
    rio_temp = folder / "tmp8x2k.tif"
    young = folder / "other-0123456789.tif"
    old = folder / "gone-abcdef0123.tif"
    for path in (temporary, rio_temp, young, old):
        path.write_bytes(b"x")
    os.utime(old, (0, 0))
    os.utime(temporary, (0, 0))
    removed = serving.prune_serving_copies(world.store)
    assert removed == [old] and temporary.exists() and rio_temp.exists() and young.exists()
    assert serving.prune_serving_copies(world.store, only=[young]) == [young]
    used = world.store.serving_copy(world.store.layer(CITY, "mcae"))
    assert used is not None
    assert serving.prune_serving_copies(world.store, only=[used], min_age_s=0) == [] and used.exists()


def test_set_serving_leaves_a_layer_changed_meanwhile(world: TileWorld) -> None:
    store = world.store
    layer = store.layer(CITY, "mcae")
    assert not store.set_serving(CITY, "mcae", source_path="elsewhere.tif", serving_path="x", serving_source="1:1")
    assert not store.set_serving(CITY, "nope", source_path=layer.path, serving_path="x", serving_source="1:1")
    assert not store.set_serving("no-city", "mcae", source_path=layer.path, serving_path="x", serving_source="1:1")
    assert store.layer(CITY, "mcae") == layer
    assert store.set_serving(CITY, "mcae", source_path=layer.path, serving_path=layer.serving_path or "",
                             serving_source=layer.serving_source or "")
