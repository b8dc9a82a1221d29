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
from rasterio.windows import Window

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
        img.update_tags(MCAE_SYNTHETIC=SYNTHETIC)
        ref.update_tags(MCAE_SYNTHETIC=SYNTHETIC, MCAE_LAYER="reference")
        for i, row in enumerate(range(0, size, tile)):
            for j, col in enumerate(range(0, size, tile)):
                h, w = min(tile, size - row), min(tile, size - col)
                city = make_city(max(h, 64), max(w, 64), seed=_tile_seed(seed, i, j))
                window = ((row, row + h), (col, col + w))
                img.write(city.image[:, :h, :w], window=window)
                ref.write(city.labels[:h, :w], 1, window=window)
                del city
    if sinolc1:
        write_standin(out, tile=tile, seed=seed)
    districts = write_districts(out / "districts.geojson", size, transform)
    return {"size": size, "tile": tile, "districts": districts}


def write_standin(folder: str | Path, *, tile: int = TILE, seed: int = 7) -> Path:
    """``sinolc1_utm.tif``: the SinoLC-1 stand-in of ``reference.tif`` in ``folder``, tile by
    tile (the tiles and seeds of :func:`write_city`), on the reference's own grid."""
    folder = Path(folder)
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(folder / "reference.tif") as ref:
        profile = {**ref.profile, "nodata": 0, "BIGTIFF": "IF_SAFER"}
        tile = min(tile, ref.width)
        with atomic_path(folder / "sinolc1_utm.tif") as path, rasterio.open(path, "w", **profile) as out:
            out.update_tags(MCAE_SYNTHETIC=SYNTHETIC, MCAE_LAYER="sinolc1 stand-in")
            for i, row in enumerate(range(0, ref.height, tile)):
                for j, col in enumerate(range(0, ref.width, tile)):
                    window = Window(col, row, min(tile, ref.width - col), min(tile, ref.height - row))
                    out.write(sinolc1_standin(ref.read(1, window=window), seed=_tile_seed(seed, i, j)), 1,
                              window=window)
    return folder / "sinolc1_utm.tif"


def _tile_seed(seed: int, i: int, j: int) -> int:
    return seed + 1000 * i + j
