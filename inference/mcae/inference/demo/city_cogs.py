"""The scene of ``tiled.write_city`` as the COGs a city publishes, window by window.

``imagery.tif`` (RGB, average overviews), ``reference.tif`` (MCAE ids, paletted) and
``sinolc1.tif`` (the stand-in on SinoLC-1's own grid: EPSG:4326 at about 1 m, by mode,
through a ``WarpedVRT``). Memory is bounded by the window, whatever the city's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import calculate_default_transform
from rasterio.windows import Window

from mcae.inference.atomic import atomic_path
from mcae.inference.classes import MCAE, SINOLC1
from mcae.inference.cog import translate_to_cog, write_class_cog
from mcae.inference.masks.base import PixelWindow

SINOLC1_DEGREES = 1.0 / 111_000  # about 1 m


def write_city_cogs(raw: Path, out: Path, tags: dict[str, str]) -> None:
    """The three COGs in ``out`` from the tiled GeoTIFFs in ``raw`` (stand-in included)."""
    write_rgb_cog(out / "imagery.tif", raw / "imagery.tif", tags)
    write_labels_cog(out / "reference.tif", raw / "reference.tif", tags)
    write_sinolc1_cog(out / "sinolc1.tif", raw / "sinolc1_utm.tif", tags)


def write_rgb_cog(path: Path, raw: Path, tags: dict[str, str]) -> None:
    with atomic_path(path) as out:
        translate_to_cog(raw, out, overview_resampling="average", tags=tags)


def write_labels_cog(path: Path, raw: Path, tags: dict[str, str]) -> None:
    with rasterio.open(raw) as src:
        write_class_cog(path, width=src.width, height=src.height, transform=src.transform, crs=src.crs,
                        windows=windows(src), scheme=MCAE, tags={**tags, "MCAE_LAYER": "reference"})


def write_sinolc1_cog(path: Path, raw: Path, tags: dict[str, str]) -> None:
    """The stand-in on SinoLC-1's own grid: EPSG:4326 at about 1 m, by mode, window by window."""
    with rasterio.open(raw) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:4326", src.width, src.height, *src.bounds, resolution=SINOLC1_DEGREES)
        with WarpedVRT(src, crs=CRS.from_epsg(4326), transform=transform, width=width, height=height,
                       resampling=Resampling.mode, nodata=0) as vrt:
            write_class_cog(path, width=width, height=height, transform=transform, crs=vrt.crs,
                            windows=windows(vrt), scheme=SINOLC1,
                            tags={**tags, "MCAE_LAYER": "sinolc1 stand-in"})


def windows(src: Any, side: int = 2048) -> Iterator[tuple[PixelWindow, np.ndarray]]:
    """Band 1 of ``src`` in ``side`` px squares: memory bounded by the window, not the city."""
    for row in range(0, src.height, side):
        for col in range(0, src.width, side):
            window = PixelWindow(row, col, min(side, src.height - row), min(side, src.width - col))
            yield window, src.read(1, window=Window(col, row, window.width, window.height))
