"""A small catalog for the download tests: categorical COGs and imagery around a z12 tile corner.

The corner (``CORNER``) is where four z12 tiles (and so z13, z14 ... tiles) meet, so a
small bbox around it spans 2 x 2 tiles at every zoom.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.tiles.catalog import CatalogStore, City, District, LayerKind
from mcae.tiles.layers import layer_from_file

TMS = morecantile.tms.get("WebMercatorQuad")
CORNER = TMS.ul(morecantile.Tile(3399, 1661, 12))  # lon 118.740234375, lat ~32.1756
STEP = 2.0 ** -16  # degrees per pixel of the EPSG:4326 layer (exact in binary)
CITY = "testville"


@dataclass(frozen=True)
class Downloads:
    store: CatalogStore
    catalog: Path
    utm: Path  # "mcae": 1024 x 1024 at 1 m, EPSG:32650
    wgs: Path  # "wgs": 512 x 512 at 2^-16 degrees, EPSG:4326
    wgs_origin: tuple[float, float]  # west, north of the EPSG:4326 layer
    triangle: dict[str, Any]  # the "triangle" district's geometry


def class_pattern(height: int, width: int) -> np.ndarray:
    """Classes 1-8 in 32 px squares: no pixel is no data."""
    rows, cols = np.mgrid[0:height, 0:width]
    return ((rows // 32 + 3 * (cols // 32)) % 8 + 1).astype(np.uint8)


def _class_cog(path: Path, size: int, transform: Affine, crs: CRS) -> Path:
    data = class_pattern(size, size)
    return write_class_cog(path, width=size, height=size, transform=transform, crs=crs,
                           windows=[(PixelWindow(0, 0, size, size), data)], scheme=MCAE)


def build_downloads(root: Path) -> Downloads:
    lon, lat = CORNER.x, CORNER.y
    east, north = Transformer.from_crs(4326, 32650, always_xy=True).transform(lon, lat)
    utm = _class_cog(root / "mcae.tif", 1024, Affine(1.0, 0, round(east) - 512, 0, -1.0, round(north) + 512),
                     CRS.from_epsg(32650))
    west, top = lon - 256 * STEP, round(lat / STEP) * STEP + 256 * STEP
    wgs = _class_cog(root / "wgs.tif", 512, Affine(STEP, 0, west, 0, -STEP, top), CRS.from_epsg(4326))
    rgb = np.stack([class_pattern(256, 256) * 30, np.full((256, 256), 90, np.uint8),
                    np.full((256, 256), 200, np.uint8)])
    imagery = root / "imagery.tif"
    with rasterio.open(imagery, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8",
                       crs=CRS.from_epsg(4326), transform=Affine(STEP * 2, 0, west, 0, -STEP * 2, top),
                       tiled=True, blockxsize=256, blockysize=256) as dst:
        dst.write(rgb)
    d = 0.002
    triangle = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                    [lon, lat + d], [lon - d, lat - d]]]}
    far = {"type": "Polygon", "coordinates": [[[10, 10], [10.01, 10], [10.01, 10.01], [10, 10]]]}
    store = CatalogStore(root / "catalog.json")
    store.put_city(City(id=CITY, name="Testville", provenance="synthetic", districts={
        "triangle": District(id="triangle", name="Triangle", geometry=triangle),
        "far": District(id="far", name="Far away", geometry=far)}))
    for layer_id, path, kind in [("mcae", utm, LayerKind.mcae), ("wgs", wgs, LayerKind.mcae),
                                 ("imagery", imagery, LayerKind.imagery)]:
        store.put_layer(CITY, layer_from_file(store, path, kind=kind, layer_id=layer_id,
                                              provenance="synthetic"))
    return Downloads(store, store.path, utm, wgs, (west, top), triangle)


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Downloads:
    return build_downloads(tmp_path_factory.mktemp("downloads"))
