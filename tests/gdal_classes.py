"""What GDAL itself reports of a raster's classes: category names and the attribute table.

rasterio has no API for either, so this calls the GDAL C library that rasterio loaded
(the same library, drivers and PAM sidecar handling every GDAL-based program uses).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import rasterio


def _library() -> ctypes.CDLL:
    import rasterio._base as base  # its GDAL is the one already loaded in this process

    libs = Path(base.__file__).resolve().parents[1] / "rasterio.libs"
    found = sorted(libs.glob("libgdal*.so*")) if libs.is_dir() else []
    lib = ctypes.CDLL(str(found[0]) if found else "libgdal.so")
    lib.GDALOpenEx.restype = ctypes.c_void_p
    lib.GDALOpenEx.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.GDALGetRasterBand.restype = ctypes.c_void_p
    lib.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALGetRasterCategoryNames.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.GDALGetRasterCategoryNames.argtypes = [ctypes.c_void_p]
    lib.GDALGetDefaultRAT.restype = ctypes.c_void_p
    lib.GDALGetDefaultRAT.argtypes = [ctypes.c_void_p]
    for name in ("GDALRATGetRowCount", "GDALRATGetColumnCount"):
        getattr(lib, name).restype = ctypes.c_int
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.GDALRATGetNameOfCol.restype = ctypes.c_char_p
    lib.GDALRATGetNameOfCol.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALRATGetValueAsString.restype = ctypes.c_char_p
    lib.GDALRATGetValueAsString.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.GDALClose.argtypes = [ctypes.c_void_p]
    lib.GDALGetMetadata.restype = ctypes.c_void_p
    lib.GDALGetMetadata.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib


def gdal_classes(path: str | Path) -> tuple[dict[int, str], list[dict[str, str]]]:
    """(value -> category name, attribute-table rows) of band 1, as GDAL reads them."""
    lib = _library()
    # as desktop GIS reads: sidecars on (the tile server turns PAM and directory listings off)
    with rasterio.Env(GDAL_PAM_ENABLED="YES", GDAL_DISABLE_READDIR_ON_OPEN="FALSE"):
        handle = lib.GDALOpenEx(str(path).encode(), 0x40, None, None, None)  # GDAL_OF_RASTER
        assert handle, f"GDAL could not open {path}"
        try:
            band = lib.GDALGetRasterBand(handle, 1)
            # GTiff reads the .aux.xml lazily, on the first query that needs it (gdalinfo
            # asks for metadata and the attribute table before the category names)
            lib.GDALGetMetadata(handle, None)
            lib.GDALGetMetadata(band, None)
            rows: list[dict[str, str]] = []
            rat = lib.GDALGetDefaultRAT(band)
            if rat:
                columns = [lib.GDALRATGetNameOfCol(rat, c).decode()
                           for c in range(lib.GDALRATGetColumnCount(rat))]
                rows = [{col: lib.GDALRATGetValueAsString(rat, r, c).decode() for c, col in enumerate(columns)}
                        for r in range(lib.GDALRATGetRowCount(rat))]
            names: dict[int, str] = {}
            categories = lib.GDALGetRasterCategoryNames(band)
            i = 0
            while categories and categories[i] is not None:
                names[i] = categories[i].decode()
                i += 1
            return names, rows
        finally:
            lib.GDALClose(handle)
