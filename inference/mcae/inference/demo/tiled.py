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
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from rasterio.windows import Window

from mcae.inference.atomic import atomic_path, write_json
from mcae.inference.compute import progress_bar
from mcae.inference.demo.city_geo import CRS_UTM50, GSD, ORIGIN, SYNTHETIC, write_districts
from mcae.inference.demo.scene import make_city
from mcae.inference.demo.sinolc1_standin import sinolc1_standin

TILE = 2048


def write_city(out: str | Path, size: int, *, tile: int = TILE, seed: int = 7,
               sinolc1: bool = False, quiet: bool = True) -> dict[str, Any]:
    """``imagery.tif``, ``reference.tif`` and ``districts.geojson`` of a ``size`` px city in ``out``
    (and ``sinolc1_utm.tif``, the SinoLC-1 stand-in on the same grid, with ``sinolc1``).

    Resumes: each row of tiles goes to its own strip files in ``out/.city-rows`` as it is
    finished, so a run stopped part way (a 40,960 px city draws for most of an hour) draws
    only the rows it lacks; the strips are then joined into the files above and removed, and
    ``out/.city.json`` says the city is whole (a second call with the same city returns at once).
    ``quiet=False``: a progress bar with its ETA."""
    out = Path(out)
    stamp = {"size": size, "tile": min(tile, size), "seed": seed, "sinolc1": sinolc1, "synthetic": SYNTHETIC}
    finished = out / ".city.json"  # written last: this city is whole in ``out``
    if finished.is_file():
        kept = json.loads(finished.read_text())
        if {k: kept.get(k) for k in stamp} == stamp and all((out / name).is_file() for name in kept["files"]):
            return {"size": size, "tile": stamp["tile"], "districts": kept["districts"]}
        finished.unlink()
    strips = StripFolder(out / ".city-rows", stamp)
    transform = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
    tile = min(tile, size)
    starts = range(0, size, tile)
    with rasterio.Env(GDAL_CACHEMAX=64), progress_bar(quiet) as bar:
        task = bar.add_task("drawing the city", total=len(starts) ** 2)
        for i, row in enumerate(starts):
            if strips.done(i):
                bar.advance(task, len(starts))
                continue
            _draw_row(strips, i, row, starts, size, tile, seed, transform, lambda: bar.advance(task))
        layers = {"imagery": {"MCAE_SYNTHETIC": SYNTHETIC},
                  "reference": {"MCAE_SYNTHETIC": SYNTHETIC, "MCAE_LAYER": "reference"}}
        if sinolc1:
            layers["sinolc1_utm"] = {"MCAE_SYNTHETIC": SYNTHETIC, "MCAE_LAYER": "sinolc1 stand-in"}
        join = bar.add_task("joining its rows", total=len(layers) * len(starts))
        for name, tags in layers.items():
            strips.join(name, out / f"{name}.tif", _profile(size, size, transform), tags,
                        step=lambda: bar.advance(join))
    strips.remove()
    districts = write_districts(out / "districts.geojson", size, transform)
    write_json(finished, {**stamp, "districts": districts,
                          "files": [f"{name}.tif" for name in layers] + ["districts.geojson"]})
    return {"size": size, "tile": tile, "districts": districts}


def _draw_row(strips: StripFolder, i: int, row: int, starts: range, size: int, tile: int, seed: int,
              transform: Affine, step: Callable[[], Any]) -> None:
    """Row ``i`` of tiles (its top at ``row``) into its strip files, a tile at a time."""
    height = min(tile, size - row)
    strip = _profile(size, height, transform @ Affine.translation(0, row))
    with contextlib.ExitStack() as files:
        def open_new(path: Path, **profile: Any) -> Any:
            return files.enter_context(rasterio.open(files.enter_context(atomic_path(path)), "w",
                                                     **strip, **profile))

        img = open_new(strips.path("imagery", i), count=3, dtype="uint8", photometric="RGB")
        ref = open_new(strips.path("reference", i), count=1, dtype="uint8")
        standin = (open_new(strips.path("sinolc1_utm", i), count=1, dtype="uint8", nodata=0)
                   if "sinolc1_utm" in strips.layers else None)
        for j, col in enumerate(starts):
            width = min(tile, size - col)
            city = make_city(max(height, 64), max(width, 64), seed=_tile_seed(seed, i, j))
            window = Window(col, 0, width, height)
            labels = city.labels[:height, :width]
            img.write(city.image[:, :height, :width], window=window)
            ref.write(labels, 1, window=window)
            if standin is not None:  # as write_standin draws it from the reference's tile
                standin.write(sinolc1_standin(labels, seed=_tile_seed(seed, i, j)), 1, window=window)
            del city
            step()


def _profile(width: int, height: int, transform: Affine) -> dict[str, Any]:
    return {"driver": "GTiff", "width": width, "height": height, "crs": CRS_UTM50, "transform": transform,
            "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "BIGTIFF": "IF_SAFER"}


class StripFolder:
    """The finished rows of tiles of one city being drawn: a file per layer and row, each
    renamed into place when whole; ``stamp.json`` says which city (another one starts over)."""

    def __init__(self, folder: Path, stamp: dict[str, Any]) -> None:
        self.folder = folder
        kept = folder / "stamp.json"
        if folder.is_dir() and (not kept.is_file() or json.loads(kept.read_text()) != stamp):
            shutil.rmtree(folder)
        if not kept.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            write_json(kept, stamp)
        self.layers = ["imagery", "reference"] + (["sinolc1_utm"] if stamp["sinolc1"] else [])

    def path(self, layer: str, row: int) -> Path:
        return self.folder / f"{layer}-{row:04d}.tif"

    def done(self, row: int) -> bool:
        return all(self.path(layer, row).is_file() for layer in self.layers)

    def join(self, layer: str, path: Path, profile: dict[str, Any], tags: dict[str, str],
             step: Any) -> None:
        """The rows of ``layer`` as one tiled GeoTIFF at ``path``, a window at a time."""
        parts = sorted(self.folder.glob(f"{layer}-*.tif"))
        with rasterio.open(parts[0]) as first:
            profile = {**profile, "count": first.count, "dtype": first.dtypes[0], "nodata": first.nodata}
            if first.count == 3:
                profile["photometric"] = "RGB"
        with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
            dst.update_tags(**tags)
            row = 0
            for part in parts:
                with rasterio.open(part) as src:
                    for col in range(0, src.width, TILE):
                        window = Window(col, 0, min(TILE, src.width - col), src.height)
                        dst.write(src.read(window=window), window=Window(col, row, window.width, src.height))
                    row += src.height
                step()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


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
