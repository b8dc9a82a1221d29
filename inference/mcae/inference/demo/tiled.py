"""A synthetic city of any size, written window by window (never whole in memory).

``make_city`` builds a scene whole (about 70 bytes a pixel: 40,960 px would need ~110 GB),
so a city benchmark writes its scene as a mosaic of independent ``tile`` x ``tile`` cities
(each seeded by its position), straight into tiled GeoTIFFs: the imagery (RGB) and its
reference labels (MCAE ids). Peak memory is that of one tile, whatever ``size``. Roads do
not continue across tile edges; for a benchmark of the pipeline that does not matter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rasterio
from affine import Affine

from mcae.inference.atomic import atomic_path
from mcae.inference.demo.city_geo import CRS_UTM50, GSD, ORIGIN, SYNTHETIC, write_districts
from mcae.inference.demo.scene import make_city

TILE = 2048


def write_city(out: str | Path, size: int, *, tile: int = TILE, seed: int = 7) -> dict[str, Any]:
    """``imagery.tif``, ``reference.tif`` and ``districts.geojson`` of a ``size`` px city in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    transform = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
    base = {"driver": "GTiff", "width": size, "height": size, "crs": CRS_UTM50, "transform": transform,
            "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
    tile = min(tile, size)
    with rasterio.Env(GDAL_CACHEMAX=64), atomic_path(out / "imagery.tif") as img_path, \
            atomic_path(out / "reference.tif") as ref_path, \
            rasterio.open(img_path, "w", **base, count=3, dtype="uint8", photometric="RGB") as img, \
            rasterio.open(ref_path, "w", **base, count=1, dtype="uint8") as ref:
        img.update_tags(MCAE_SYNTHETIC=SYNTHETIC)
        ref.update_tags(MCAE_SYNTHETIC=SYNTHETIC, MCAE_LAYER="reference")
        for i, row in enumerate(range(0, size, tile)):
            for j, col in enumerate(range(0, size, tile)):
                h, w = min(tile, size - row), min(tile, size - col)
                city = make_city(max(h, 64), max(w, 64), seed=seed + 1000 * i + j)
                window = ((row, row + h), (col, col + w))
                img.write(city.image[:, :h, :w], window=window)
                ref.write(city.labels[:h, :w], 1, window=window)
                del city
    districts = write_districts(out / "districts.geojson", size, transform)
    return {"size": size, "tile": tile, "districts": districts}
