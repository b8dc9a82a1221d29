"""The simulated response: reference classes of sample points read from a reference raster.

For tests, benchmarks and the demo only (a real assessment needs experts' labels); a
report made from it says so.
"""

from __future__ import annotations

import numpy as np
import rasterio

SIMULATED = "reference raster (simulated response: tests and benchmarks only)"


def reference_classes(path: str, lonlat: list[tuple[float, float]]) -> list[int | None]:
    """The reference raster's class at each (lon, lat); None outside it or on nodata/0."""
    from rasterio.warp import transform as warp_transform

    if not lonlat:
        return []
    with rasterio.open(path) as src:
        lons, lats = [p[0] for p in lonlat], [p[1] for p in lonlat]
        xs, ys = (warp_transform("EPSG:4326", src.crs, lons, lats) if src.crs and src.crs.to_epsg() != 4326
                  else (lons, lats))
        values = np.array([v[0] for v in src.sample(list(zip(xs, ys, strict=True)), indexes=1, masked=False)])
        rows, cols = rasterio.transform.rowcol(src.transform, xs, ys)
        inside = ((np.asarray(rows) >= 0) & (np.asarray(rows) < src.height)
                  & (np.asarray(cols) >= 0) & (np.asarray(cols) < src.width))
        nodata = src.nodata
    return [int(v) if ok and v != 0 and (nodata is None or v != nodata) else None
            for v, ok in zip(values.tolist(), inside.tolist(), strict=True)]
