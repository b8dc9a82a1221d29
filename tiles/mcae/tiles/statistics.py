"""Class areas (m² and %) of a categorical layer inside a bbox, polygon or district.

Counted at full resolution: the layer's own pixels are read in windows (memory stays
bounded) over the area's bounding window; a pixel counts when its centre is inside the
polygon (``geometry_mask``). Each pixel weighs its ground area from an equal-area
projection (``mcae.tiles.geometry.PixelAreas``). 0 and the declared nodata are "no data"
and left out of the percentages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rasterio.features import geometry_mask
from rasterio.warp import transform_bounds
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from mcae.inference.errors import InputError
from mcae.tiles.catalog import Layer
from mcae.tiles.csv_safe import safe_frame
from mcae.tiles.errors import CapExceeded
from mcae.tiles.geometry import WGS84, PixelAreas, blocks, centre_lonlat, to_crs, window_of
from mcae.tiles.palettes import layer_legend
from mcae.tiles.readers import open_dataset

CSV_COLUMNS = ["id", "name", "color", "pixels", "area_m2", "percent"]


def layer_classes(layer: Layer) -> list[tuple[int, str, str]]:
    """(id, name, '#RRGGBB') of a categorical layer: its legend, else its scheme's classes."""
    try:
        return [(c["id"], c["name"], c["color"]) for c in layer_legend(layer)["classes"]]
    except KeyError:  # no legend and no known scheme
        return []


@dataclass
class ClassStatistics:
    """Pixel counts and ground areas per class value inside an area."""

    pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, np.int64))
    area: np.ndarray = field(default_factory=lambda: np.zeros(256, np.float64))
    window_pixels: int = 0
    crs: str = ""
    resolution: tuple[float, float] = (0.0, 0.0)

    def add(self, values: np.ndarray, areas: np.ndarray) -> None:
        self.pixels += np.bincount(values, minlength=256)[:256]
        self.area += np.bincount(values, weights=areas, minlength=256)[:256]

    def rows(self, classes: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
        """One row per known class (even when absent) and per other value found."""
        known = {cid: (name, colour) for cid, name, colour in classes}
        found = [int(v) for v in np.flatnonzero(self.pixels[1:]) + 1]
        ids = sorted(set(known) | set(found))
        valid = float(self.area[1:].sum())
        out = []
        for cid in ids:
            name, colour = known.get(cid, (f"value {cid} (not in the legend)", None))
            area = float(self.area[cid])
            out.append({"id": cid, "name": name, "color": colour, "pixels": int(self.pixels[cid]),
                        "area_m2": round(area, 4),
                        "percent": round(100.0 * area / valid, 6) if valid > 0 else None})
        return out


def class_statistics(path: str | Path, geometry: BaseGeometry | None, *, max_pixels: int,
                     window_size: int = 1024) -> ClassStatistics:
    """Class areas of the raster at ``path`` inside ``geometry`` (EPSG:4326; None: all of it)."""
    stats = ClassStatistics()
    with open_dataset(str(path)) as src:  # local GeoTIFFs only (SourceRefused: 404)
        if src.count != 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise InputError("statistics need a single-band categorical (integer) layer")
        if src.crs is None:
            raise InputError("statistics need a georeferenced layer")
        stats.crs = src.crs.to_string()
        stats.resolution = (float(src.res[0]), float(src.res[1]))
        footprint = _lonlat_bounds(src)
        if geometry is not None:  # only the part over the layer is projected (a world bbox would not)
            geometry = geometry.intersection(box(*footprint))
            if geometry.is_empty:
                return stats
        geom = None if geometry is None else to_crs(geometry, src.crs)
        bounds = src.bounds if geom is None else _bounds(geom)
        window = window_of(tuple(bounds), src.transform, src.width, src.height)
        if window is None:
            return stats
        stats.window_pixels = int(window.width * window.height)
        if stats.window_pixels > max_pixels:
            raise CapExceeded(stats.window_pixels, max_pixels, unit="pixels of the layer at full resolution")
        centre = centre_lonlat(footprint if geometry is None else geometry.bounds)
        areas = PixelAreas(src.crs, src.transform, centre)
        for sub in blocks(window, window_size):
            data = src.read(1, window=sub)
            if src.nodata is not None and src.nodata != 0:
                data[data == src.nodata] = 0
            if data.size and (data.min() < 0 or data.max() > 255):
                raise InputError("statistics support class values 0-255 only")
            inside = np.ones(data.shape, bool) if geom is None else geometry_mask(
                [geom], out_shape=data.shape, transform=src.window_transform(sub), invert=True)
            if inside.any():
                stats.add(data[inside].astype(np.intp), areas.window(sub)[inside])
    return stats


def statistics_document(stats: ClassStatistics, layer: Layer, *, city: str,
                        area: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer: the area asked for, pixel and area totals, and one row per class."""
    total_px, nodata_px = int(stats.pixels.sum()), int(stats.pixels[0])
    return {
        "city": city, "layer": layer.id, "scheme": layer.scheme, "provenance": layer.provenance,
        "area": area, "crs": stats.crs, "resolution": list(stats.resolution),
        "method": "full resolution; a pixel counts when its centre is inside the area; "
                  "pixel areas from a Lambert azimuthal equal-area projection",
        "pixels": {"window": stats.window_pixels, "inside": total_px, "nodata": nodata_px,
                   "classified": total_px - nodata_px},
        "area_m2": {"inside": round(float(stats.area.sum()), 4),
                    "nodata": round(float(stats.area[0]), 4),
                    "classified": round(float(stats.area[1:].sum()), 4)},
        "classes": stats.rows(layer_classes(layer)),
    }


def statistics_csv(document: dict[str, Any]) -> str:
    """The per-class rows of a statistics document as CSV (formula-like names neutralised)."""
    buffer = io.StringIO()
    safe_frame(pd.DataFrame(document["classes"], columns=CSV_COLUMNS)).to_csv(buffer, index=False)
    return buffer.getvalue()


def _bounds(geom: dict[str, Any]) -> tuple[float, float, float, float]:
    return tuple(shape(geom).bounds)


def _lonlat_bounds(src: Any) -> tuple[float, float, float, float]:
    if src.crs == WGS84:
        return tuple(src.bounds)
    return transform_bounds(src.crs, WGS84, *src.bounds, densify_pts=21)

