"""Clipped GeoTIFFs of a layer: its own grid and CRS, window by window, capped in pixels.

The window covers the area (reprojected to the layer's CRS, edges densified), rounded
out to whole pixels. Outside a polygon (a district or a GeoJSON area) pixels are no
data: 0 for categorical layers, the file's nodata or an internal mask for imagery.
Categorical clips keep the palette as the colour table and name every class.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.features import geometry_mask
from rasterio.io import DatasetReader
from rasterio.windows import Window
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from mcae.inference.errors import InputError
from mcae.tiles.catalog import Layer
from mcae.tiles.errors import CapExceeded
from mcae.tiles.gdal import LOCAL, Sources
from mcae.tiles.geometry import blocks, to_crs, window_of
from mcae.tiles.palettes import layer_legend, palette_for
from mcae.tiles.readers import read_dataset

BLOCK = 512
SCRATCH_MAX_AGE_S = 3600.0


def looks_like_path(value: str) -> bool:
    """Whether a metadata value names a file or folder by an absolute path (POSIX, Windows, URL)."""
    text = value.strip()
    return (PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute()
            or text.lower().startswith(("file:", "\\\\")))


def public_tags(tags: dict[str, str]) -> dict[str, str]:
    """Metadata safe in a public file: an absolute path becomes its last name (none if empty)."""
    out = {}
    for key, value in tags.items():
        if looks_like_path(value):
            name = PureWindowsPath(value.strip()).name if "\\" in value else PurePosixPath(value.strip()).name
            if not name:
                continue
            value = name
        out[key] = value
    return out


def class_tags(layer: Layer) -> dict[str, str]:
    """GeoTIFF metadata naming every class of a categorical layer."""
    if not layer.categorical:
        return {}
    legend = layer_legend(layer)
    tags = {"CLASS_SCHEME": str(legend["id"]), "CLASS_0": "no data"}
    tags.update({f"CLASS_{c['id']}": str(c["name"]) for c in legend["classes"]})
    return tags


def colour_table(layer: Layer) -> dict[int, tuple[int, int, int, int]]:
    """The layer's palette as a full GDAL colour table (0 and unused ids transparent)."""
    palette = palette_for(layer)
    return {i: palette.get(i, (0, 0, 0, 0)) if i else (0, 0, 0, 0) for i in range(256)}


def clip_layer(path: str, layer: Layer, area: BaseGeometry, *, polygon: bool, cap: int,
               scratch: Path, tags: dict[str, str] | None = None, sources: Sources = LOCAL) -> Path:
    """The layer's pixels under ``area`` (EPSG:4326) as a new GeoTIFF in the folder ``scratch``.

    ``polygon``: set pixels outside ``area`` to no data (a bbox keeps its whole window).
    Nothing is written before the area and the cap are checked; the caller removes the file.
    """
    with read_dataset(str(path), sources) as src:  # what ``sources`` may open (else SourceRefused: 404)
        if src.crs is None:
            raise InputError(f"layer {layer.id!r} has no CRS; it cannot be clipped by coordinates")
        area_crs = to_crs(area, src.crs)
        window = window_of(shape(area_crs).bounds, src.transform, src.width, src.height)
        if window is None:
            raise InputError(f"the area does not overlap layer {layer.id!r}")
        width, height = int(window.width), int(window.height)
        if width * height > cap:
            raise CapExceeded(width * height, cap, what="clip")
        categorical = layer.categorical
        nodata = (src.nodata if src.nodata is not None else 0) if categorical else src.nodata
        use_mask = not categorical and nodata is None and (
            polygon or any(flag != MaskFlags.all_valid for flag in src.mask_flag_enums[0]))
        profile: dict[str, Any] = {
            "driver": "GTiff", "width": width, "height": height, "count": src.count,
            "dtype": src.dtypes[0], "crs": src.crs, "transform": src.window_transform(window),
            "nodata": nodata, "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
            "compress": "deflate", "interleave": "pixel" if src.count > 1 else "band",
            "BIGTIFF": "IF_SAFER"}
        if width < BLOCK or height < BLOCK:  # GeoTIFF blocks must fit multiples of 16
            profile.update(blockxsize=min(BLOCK, _round16(width)), blockysize=min(BLOCK, _round16(height)))
        out = scratch_file(scratch)
        try:
            _write(src, out, profile, window, area_crs if polygon else None, layer, use_mask, tags)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    return out


def _write(src: DatasetReader, out: Path, profile: dict[str, Any], window: Window, area_crs: dict[str, Any] | None,
           layer: Layer, use_mask: bool, tags: dict[str, str] | None) -> None:
    """Copy ``window`` of ``src`` block by block, no data outside ``area_crs`` when given."""
    categorical, nodata = layer.categorical, profile["nodata"]
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(out, "w", **profile) as dst:
        if categorical:
            dst.write_colormap(1, colour_table(layer))
        # the source's own tags may name server paths (older maps did): never in a download
        dst.update_tags(**public_tags({**src.tags(), **class_tags(layer), **(tags or {})}))
        if not categorical:
            dst.colorinterp = src.colorinterp
        for i, text in enumerate(src.descriptions, start=1):
            if text:
                dst.set_band_description(i, text)
        for blk in blocks(window, BLOCK):
            data = src.read(window=blk)
            inside = np.ones(data.shape[1:], bool)
            if area_crs is not None:
                inside = geometry_mask([area_crs], out_shape=inside.shape,
                                       transform=src.window_transform(blk), invert=True)
            target = Window(blk.col_off - window.col_off, blk.row_off - window.row_off,
                            blk.width, blk.height)
            if nodata is not None:
                data[:, ~inside] = nodata
            dst.write(data, window=target)
            if use_mask:
                valid = (src.dataset_mask(window=blk) > 0) & inside
                dst.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=target)


def _round16(n: int) -> int:
    return max(16, -(-n // 16) * 16)


def scratch_file(folder: Path) -> Path:
    """A new temporary ``.tif`` in ``folder`` (old leftovers of crashed requests removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob(".clip-*"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > SCRATCH_MAX_AGE_S:
                old.unlink()
    fd, name = tempfile.mkstemp(prefix=".clip-", suffix=".tif", dir=folder)
    os.close(fd)
    return Path(name)
