"""Small rasters and catalogs for the analysis tests (statistics, compare, ingest, STAC)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from pydantic import BaseModel
from pyproj import Geod

from mcae.inference.classes import ClassScheme
from mcae.platform.app import create_app
from mcae.platform.settings import Settings
from mcae.tiles.catalog import CatalogStore, City, District, LayerKind
from mcae.tiles.layers import layer_from_file
from mcae.tiles.settings import TileSettings

WEST, NORTH = 118.78, 32.07  # a corner near the demo city
GEO_RES = 1e-5  # degrees (~1 m)
UTM = "EPSG:32650"
UTM_ORIGIN = (668000.0, 3550000.0)


def write_classes(path: Path, data: np.ndarray, *, crs: str, transform: Affine,
                  scheme: ClassScheme | None = None,
                  colormap: dict[int, tuple[int, int, int, int]] | None = None,
                  nodata: int | None = 0) -> Path:
    """A single-band uint8 GeoTIFF (tiled), with a colour table when given one."""
    profile: dict[str, Any] = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0],
                               "count": 1, "dtype": "uint8", "crs": crs, "transform": transform,
                               "nodata": nodata}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(np.uint8), 1)
        if scheme is not None or colormap is not None:
            dst.write_colormap(1, colormap or scheme.colormap())  # type: ignore[union-attr]
    return path


def geo_transform(west: float = WEST, north: float = NORTH, res: float = GEO_RES) -> Affine:
    return Affine(res, 0, west, 0, -res, north)


def utm_transform(res: float = 2.0) -> Affine:
    return Affine(res, 0, UTM_ORIGIN[0], 0, -res, UTM_ORIGIN[1])


def geodesic_row_areas(transform: Affine, height: int, width: int) -> np.ndarray:
    """Hand count for EPSG:4326 rasters: the ellipsoidal area of each row's pixels (m²)."""
    geod = Geod(ellps="WGS84")
    out = np.empty(height)
    for r in range(height):
        w, n = transform @ (0, r)
        e, s = transform @ (width, r + 1)
        area, _ = geod.polygon_area_perimeter([w, e, e, w], [s, s, n, n])
        out[r] = abs(area) / width
    return out


def make_store(tmp_path: Path, layers: dict[str, tuple[Path, LayerKind]], *,
               districts: dict[str, dict[str, Any]] | None = None, city: str = "testville",
               provenance: str = "synthetic") -> CatalogStore:
    """A catalog with one city holding ``layers`` (id -> file, kind) and ``districts``."""
    store = CatalogStore(tmp_path / "catalog.json")
    store.put_city(City(id=city, name=city.title(), provenance=provenance,  # type: ignore[arg-type]
                        districts={k: District(id=k, name=k.title(), geometry=g)
                                   for k, g in (districts or {}).items()}))
    for layer_id, (path, kind) in layers.items():
        store.put_layer(city, layer_from_file(store, path, kind=kind, layer_id=layer_id,
                                              provenance=provenance))
    return store


def client(store: CatalogStore, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(tiles=TileSettings(catalog_path=store.path, **settings))))


def as_documented(model: type[BaseModel], body: Any) -> Any:
    """``body`` read through its documented response model and written back (only the keys it
    had): equal to ``body`` when the OpenAPI schema says exactly what the route answers."""
    return model.model_validate(body).model_dump(mode="json", by_alias=True, exclude_unset=True)


def box_polygon(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
