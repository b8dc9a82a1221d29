"""A synthetic city of any size, written window by window (never whole in memory).

``make_city`` builds a scene whole (about 70 bytes a pixel: 40,960 px would need ~110 GB),
so ``mcae demo`` and the city benchmark write their scene as a mosaic of independent
``tile`` x ``tile`` cities (each seeded by its position; the first tile's seed is ``seed``,
so a city of one tile is ``make_city(size, size, seed)``), straight into tiled GeoTIFFs:
the imagery (RGB), its reference labels (MCAE ids) and, if asked, the SinoLC-1 stand-in of
each tile on the same grid. Peak memory is that of one tile, whatever ``size``. Roads do
not continue across tile edges; for a demo or a benchmark of the pipeline that does not matter.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine

from mcae.inference.atomic import atomic_path
from mcae.inference.demo.city_geo import CRS_UTM50, GSD, ORIGIN, SYNTHETIC, write_districts
from mcae.inference.demo.scene import make_city
from mcae.inference.demo.sinolc1_standin import sinolc1_standin

TILE = 2048


def write_city(out: str | Path, size: int, *, tile: int = TILE, seed: int = 7,
               sinolc1: bool = False) -> dict[str, Any]:
    """``imagery.tif``, ``reference.tif`` and ``districts.geojson`` of a ``size`` px city in ``out``
    (and ``sinolc1_utm.tif``, the SinoLC-1 stand-in on the same grid, with ``sinolc1``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    transform = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
    base = {"driver": "GTiff", "width": size, "height": size, "crs": CRS_UTM50, "transform": transform,
            "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
    tile = min(tile, size)
    with contextlib.ExitStack() as files:
        files.enter_context(rasterio.Env(GDAL_CACHEMAX=64))

        def open_new(name: str, **profile: Any) -> Any:
            path = files.enter_context(atomic_path(out / name))
            return files.enter_context(rasterio.open(path, "w", **base, **profile))

        img = open_new("imagery.tif", count=3, dtype="uint8", photometric="RGB")
        ref = open_new("reference.tif", count=1, dtype="uint8")
        standin = open_new("sinolc1_utm.tif", count=1, dtype="uint8", nodata=0) if sinolc1 else None
        img.update_tags(MCAE_SYNTHETIC=SYNTHETIC)
        ref.update_tags(MCAE_SYNTHETIC=SYNTHETIC, MCAE_LAYER="reference")
        for i, row in enumerate(range(0, size, tile)):
            for j, col in enumerate(range(0, size, tile)):
                h, w = min(tile, size - row), min(tile, size - col)
                tile_seed = seed + 1000 * i + j
                city = make_city(max(h, 64), max(w, 64), seed=tile_seed)
                window = ((row, row + h), (col, col + w))
                img.write(city.image[:, :h, :w], window=window)
                ref.write(city.labels[:h, :w], 1, window=window)
                if standin is not None:
                    standin.write(sinolc1_standin(city.labels, seed=tile_seed)[:h, :w], 1, window=window)
                del city
    districts = write_districts(out / "districts.geojson", size, transform)
    return {"size": size, "tile": tile, "districts": districts}
