"""Writing categorical Cloud-Optimized GeoTIFFs, window by window, atomically.

Windows go into a tiled temporary GeoTIFF; rio-cogeo then adds overviews made by
``mode`` (never averaging class ids), the palette as the colour table and the
class names as metadata; the result is validated and only then renamed into place.
The class names also go beside it, where GDAL and QGIS read them (``class_styles``).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from mcae.inference.atomic import remove_stale_temps, scratch_dir
from mcae.inference.class_styles import styled_classes, write_class_sidecars
from mcae.inference.classes import ClassScheme
from mcae.inference.disk_full import disk_full_is_storage_error
from mcae.inference.errors import MCAEError
from mcae.inference.gdal_cache import bounded_gdal_cache
from mcae.inference.masks.base import PixelWindow

BLOCK = 512


class COGValidationError(MCAEError):
    """rio-cogeo rejected a file we wrote (a bug, or a disk that filled up); ``errors`` lists why."""

    from_a_write = True  # on a full disk, a StorageError (mcae.inference.disk_full)

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def write_class_cog(path: str | Path, *, width: int, height: int, transform: Affine,
                    crs: CRS | None, windows: Iterable[tuple[PixelWindow, np.ndarray]],
                    scheme: ClassScheme, tags: dict[str, str] | None = None,
                    overview_resampling: str = "mode") -> Path:
    """Write class ids (uint8, 0 = no data) from ``windows`` as a paletted COG."""
    if overview_resampling not in ("mode", "nearest"):
        raise ValueError("categorical overviews are made by mode or nearest only")
    path = Path(path)
    profile: dict[str, Any] = {
        "driver": "GTiff", "width": cog_width(width, height), "height": height, "count": 1, "dtype": "uint8",
        "nodata": 0, "transform": transform, "crs": crs, "tiled": True,
        "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate",
    }
    meta = {**scheme.tags(), **(tags or {})}
    if path.parent.is_dir():  # what a killed earlier run left beside the map and its sidecars
        remove_stale_temps(path.parent, path.stem)
    # Everything in progress (the raw file, rio-cogeo's own temporary file) sits in one private
    # folder beside the map: a run killed at any moment leaves the old map and that folder.
    # The sidecars (class names for GDAL and QGIS) are made there too and renamed with the map;
    # a full disk fails the whole write with one StorageError and leaves the old files as they were.
    full = functools.partial(disk_full_is_storage_error, path.parent, path.name)
    with _new_folders_removed_on_error(path.parent), full(), scratch_dir(path) as work, full(), \
            bounded_gdal_cache():  # else GDAL holds every block written, the whole map
        raw, out = work / "raw.tif", work / path.name
        with rasterio.open(raw, "w", **profile) as dst:
            dst.write_colormap(1, scheme.colormap())
            for window, data in windows:
                dst.write(data.astype(np.uint8), 1, window=Window(
                    window.col_off, window.row_off, window.width, window.height))
        translate_to_cog(raw, out, overview_resampling=overview_resampling,
                         tags=meta, nodata=0)
        sidecars = write_class_sidecars(out, styled_classes(scheme))
        for sidecar in sidecars:
            os.replace(sidecar, path.parent / sidecar.name)
        os.replace(out, path)
    return path


@contextlib.contextmanager
def _new_folders_removed_on_error(folder: Path) -> Iterator[None]:
    """On an error, remove the (empty) folders made for ``folder`` since entering: a failed write
    leaves nothing behind."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    try:
        yield
    except BaseException:
        for made in missing:  # deepest first
            with contextlib.suppress(OSError):
                made.rmdir()
        raise


def cog_width(width: int, height: int) -> int:
    """``width``, plus a few no-data columns if a pyramid level would be one tile wide.

    rio-cogeo's validator takes a level exactly one 512 px tile wide (and taller than
    that) for a striped TIFF; a column of no data on the right avoids it and moves
    nothing on the ground.
    """

    def striped(w: int) -> bool:
        h = height
        while max(w, h) > BLOCK:
            if w == BLOCK:
                return True
            w, h = -(-w // 2), -(-h // 2)
        return False

    return next(w for w in range(width, width + 64) if not striped(w))


def translate_to_cog(src: str | Path | Any, dst: str | Path, *, overview_resampling: Any,
                     colormap: dict[int, tuple[int, int, int, int]] | None = None,
                     tags: dict[str, str] | None = None, nodata: float | None = None,
                     block: int = BLOCK, resampling: Any = "nearest",
                     config: dict[str, str] | None = None, **options: Any) -> None:
    """Translate a raster (a path or an open dataset) to a validated COG (``block`` px tiles,
    deflate); ``options`` go to rio-cogeo's ``cog_translate`` (``tms``, ``indexes`` ...)."""
    profile = cog_profiles.get("deflate")
    # BigTIFF where the data could pass 4 GB (a 40,960 px city's RGB imagery does): else GDAL
    # fails as it writes the last directory; smaller rasters stay classic TIFF
    profile.update({"blockxsize": block, "blockysize": block, "BIGTIFF": "IF_SAFER"})
    with bounded_gdal_cache():  # else GDAL keeps every block it reads and writes: the whole raster
        cog_translate(str(src) if isinstance(src, (str, Path)) else src, str(dst), profile, nodata=nodata,
                      overview_resampling=overview_resampling, resampling=resampling,
                      colormap=colormap, additional_cog_metadata=tags, in_memory=False, quiet=True,
                      config={"GDAL_TIFF_OVR_BLOCKSIZE": str(block), **(config or {})}, **options)
    valid, errors, _warnings = cog_validate(str(dst), quiet=True)
    if not valid:
        raise COGValidationError(f"{dst}: not a valid COG: {'; '.join(errors)}", errors)
