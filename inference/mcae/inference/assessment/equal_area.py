"""Pixel areas in an equal-area projection (Lambert azimuthal equal-area, map-centred).

A projected map's nominal pixel area (|a·e| of its transform) is not a true area (UTM
scales by up to ±0.1 %; a geographic map's pixels shrink with latitude). Each block's
pixel area is its footprint's area in an equal-area projection centred on the map,
divided by its pixels.
"""

from __future__ import annotations

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform


def _laea(crs: CRS, transform: Affine, width: int, height: int) -> CRS:
    cx = transform.a * width / 2 + transform.b * height / 2 + transform.c
    cy = transform.d * width / 2 + transform.e * height / 2 + transform.f
    lon, lat = warp_transform(crs, "EPSG:4326", [cx], [cy])
    return CRS.from_proj4(f"+proj=laea +lat_0={lat[0]:.6f} +lon_0={lon[0]:.6f} +datum=WGS84 +units=m +no_defs")


def _polygon_area(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shoelace areas of quadrilaterals given as (n, 4) corner arrays."""
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))


def block_pixel_area(crs: CRS | None, transform: Affine, width: int, height: int, block: int) -> np.ndarray:
    """m² of one pixel in each ``block`` square (row-major), from the block's corners."""
    rows, cols = -(-height // block), -(-width // block)
    nominal = abs(transform.a * transform.e - transform.b * transform.d)
    if crs is None:
        return np.full(rows * cols, nominal)
    r0 = np.repeat(np.arange(rows) * block, cols)
    c0 = np.tile(np.arange(cols) * block, rows)
    r1, c1 = np.minimum(r0 + block, height), np.minimum(c0 + block, width)
    corner_c = np.stack([c0, c1, c1, c0], axis=1).astype(float)
    corner_r = np.stack([r0, r0, r1, r1], axis=1).astype(float)
    cc, rr = corner_c.ravel(), corner_r.ravel()
    xs = transform.a * cc + transform.b * rr + transform.c
    ys = transform.d * cc + transform.e * rr + transform.f
    ex, ey = warp_transform(crs, _laea(crs, transform, width, height), list(xs), list(ys))
    area = _polygon_area(np.asarray(ex).reshape(-1, 4), np.asarray(ey).reshape(-1, 4))
    return area / ((r1 - r0) * (c1 - c0))
