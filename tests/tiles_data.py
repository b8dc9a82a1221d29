"""A small seeded catalog for the tile-server tests: MCAE, SinoLC-1 and RGB COGs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from rasterio.warp import transform as warp_transform

from benchmarks.harness import mcae_serve
from mcae.inference.classes import MCAE, SINOLC1
from mcae.inference.cog import translate_to_cog, write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.platform.app import create_app
from mcae.platform.settings import Settings
from mcae.tiles.catalog import CatalogStore, City, Layer, LayerKind
from mcae.tiles.layers import layer_from_file
from mcae.tiles.settings import TileSettings

CITY = "test-city"
UTM = "EPSG:32650"
UTM_TRANSFORM = Affine(0.6, 0, 668000.0, 0, -0.6, 3550000.0)
GEO_TRANSFORM = Affine(1e-5, 0, 118.7805, 0, -1e-5, 32.0735)
SIZE = 512


@contextmanager
def live_server(catalog: Path, workers: int = 1) -> Iterator[str]:
    """``mcae serve`` on a free loopback port, in its own process: yields its base URL."""
    with mcae_serve(catalog, workers=workers) as (base, _):
        yield base


@dataclass
class TileWorld:
    root: Path
    store: CatalogStore
    client: TestClient
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # layer id -> pixels as written
    transforms: dict[str, tuple[Affine, str]] = field(default_factory=dict)

    def lonlat_of(self, layer: str, row: int, col: int) -> tuple[float, float]:
        """Longitude and latitude of the centre of a pixel of a layer."""
        transform, crs = self.transforms[layer]
        x, y = transform @ (col + 0.5, row + 0.5)
        lon, lat = warp_transform(crs, "EPSG:4326", [x], [y])
        return float(lon[0]), float(lat[0])


def blocks(seed: int, n_classes: int) -> np.ndarray:
    """SIZE x SIZE class ids in 32 px blocks, left half no data (0)."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(1, n_classes + 1, size=(SIZE // 32, SIZE // 32))
    data = np.kron(grid, np.ones((32, 32), np.int64)).astype(np.uint8)
    data[:, : SIZE // 2] = 0
    return data


def make_tile_world(root: Path, settings: dict[str, object] | None = None) -> TileWorld:
    """Write three COGs and a catalog under ``root``; a TestClient on ``create_app``."""
    root.mkdir(parents=True, exist_ok=True)
    store = CatalogStore(root / "catalog.json")
    store.put_city(City(id=CITY, name="Test City", provenance="synthetic"))
    world = TileWorld(root, store, None)  # type: ignore[arg-type]

    mcae = blocks(1, len(MCAE))
    write_class_cog(root / "mcae.tif", width=SIZE, height=SIZE, transform=UTM_TRANSFORM, crs=UTM,
                    windows=[(PixelWindow(0, 0, SIZE, SIZE), mcae)], scheme=MCAE)
    sinolc = blocks(2, len(SINOLC1))
    write_class_cog(root / "sinolc1.tif", width=SIZE, height=SIZE, transform=GEO_TRANSFORM,
                    crs="EPSG:4326", windows=[(PixelWindow(0, 0, SIZE, SIZE), sinolc)], scheme=SINOLC1)
    rgb = np.random.default_rng(3).integers(0, 256, size=(3, SIZE, SIZE), dtype=np.uint8)
    raw = root / "rgb-raw.tif"
    with rasterio.open(raw, "w", driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8",
                       crs=UTM, transform=UTM_TRANSFORM, photometric="RGB") as dst:
        dst.write(rgb)
    translate_to_cog(raw, root / "imagery.tif", overview_resampling="average")
    raw.unlink()

    for layer_id, kind, data, transform, crs in [
            ("mcae", LayerKind.mcae, mcae, UTM_TRANSFORM, UTM),
            ("sinolc1", LayerKind.sinolc1, sinolc, GEO_TRANSFORM, "EPSG:4326"),
            ("imagery", LayerKind.imagery, rgb, UTM_TRANSFORM, UTM)]:
        store.put_layer(CITY, layer_from_file(store, root / f"{layer_id}.tif", kind=kind, layer_id=layer_id,
                                              title=f"{layer_id} title", provenance="synthetic"))
        world.arrays[layer_id] = data
        world.transforms[layer_id] = (transform, crs)

    # a city whose catalog entries point at things the server must refuse
    (root / "evil.tif").write_text(
        '<VRTDataset rasterXSize="8" rasterYSize="8"><VRTRasterBand dataType="Byte" band="1">'
        "<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource>"
        "</VRTRasterBand></VRTDataset>")
    store.put_city(City(id="evil-city", name="Evil", provenance="synthetic"))
    bounds = store.layer(CITY, "mcae").bounds
    for layer_id, path in [("vrt", "evil.tif"), ("passwd", "/etc/passwd"), ("missing", "nothing.tif"),
                           ("remote", "/vsicurl/http://127.0.0.1:9/x.tif"), ("url", "http://127.0.0.1:9/x.tif")]:
        store.put_layer("evil-city", Layer(id=layer_id, kind=LayerKind.mcae, title=layer_id, path=path,
                                           scheme="mcae", bounds=bounds))
    world.client = TestClient(create_app(Settings(tiles=TileSettings(catalog_path=store.path, **(settings or {})))))
    return world
