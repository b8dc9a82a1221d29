"""Identify: what every layer of a city holds at one point."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rio_tiler.errors import PointOutsideBounds

from mcae.tiles.catalog import CatalogStore, City, Layer
from mcae.tiles.dependencies import ReadersDep, StoreDep, city_dependency
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.palettes import class_of
from mcae.tiles.readers import ReaderPool
from mcae.tiles.render import imagery_indexes
from mcae.tiles.schemas_analysis import IdentifyOut

Lon = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude (EPSG:4326).")]
Lat = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude (EPSG:4326).")]


def identify_layer(readers: ReaderPool, store: CatalogStore, layer: Layer, lon: float,
                   lat: float) -> dict[str, Any]:
    """The value of ``layer`` at lon/lat: class id, name and colour, or RGB for imagery; nulls
    where the point is outside the layer or on no data."""
    entry: dict[str, Any] = {"layer": layer.id, "title": layer.title, "kind": layer.kind.value}
    entry.update({"value": None, "class": None, "color": None} if layer.categorical else {"rgb": None})
    try:
        with readers.reader(str(store.layer_path(layer))) as src:
            point = src.point(lon, lat, indexes=1 if layer.categorical else imagery_indexes(src))
    except (PointOutsideBounds, SourceRefused, RasterioError):  # one unreadable layer spoils no other
        return entry
    except CPLE_BaseError:  # GDAL cannot project the point into the layer's CRS: it is outside it
        return entry
    if not (np.asarray(point.mask) > 0).all():
        return entry
    values = [v.item() for v in np.asarray(point.data)]
    if layer.categorical:
        value = int(values[0])
        found = class_of(layer, value) if value != 0 else None
        entry.update({"value": value, "class": found[0] if found else None, "color": found[1] if found else None})
    else:
        entry["rgb"] = values
    return entry


def create_identify_router() -> APIRouter:
    router = APIRouter(tags=["Identify"])

    @router.get("/api/cities/{city}/identify",
                summary="Class (or imagery RGB) of every layer of a city at a point",
                response_model=IdentifyOut, response_model_exclude_unset=True)
    def identify(store: StoreDep, readers: ReadersDep, city: Annotated[City, Depends(city_dependency)], lon: Lon,
                 lat: Lat) -> dict[str, Any]:
        return {"city": city.id, "lon": lon, "lat": lat,
                "layers": [identify_layer(readers, store, layer, lon, lat) for layer in city.layers.values()]}

    return router
