"""A bounded GDAL block cache for the engine's window-by-window raster work.

GDAL keeps every block it reads or writes in its cache, up to ``GDAL_CACHEMAX`` (by default
5 % of the machine's memory: 1.2 GB here). Reading a city map window by window, or writing
one, would therefore hold the whole raster (a 40,960 px map: 1.6 GB) and memory would grow
with the city. The engine reads and writes each block once, in order, so a small cache
costs nothing and keeps memory bounded by the window.
"""

from __future__ import annotations

import os

import rasterio

CACHE_MB = 64  # GDAL reads a value under 100,000 as MB


def bounded_gdal_cache() -> rasterio.Env:
    """``with bounded_gdal_cache(): ...``: GDAL's block cache capped at ``CACHE_MB`` (or at the
    ``GDAL_CACHEMAX`` the user set in the environment, which wins)."""
    if os.environ.get("GDAL_CACHEMAX"):
        return rasterio.Env()
    return rasterio.Env(GDAL_CACHEMAX=CACHE_MB)
