"""Catalog API: cities, their layers (without file paths) and districts."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from mcae.tiles.cache import revalidated
from mcae.tiles.catalog import CatalogStore, City, Layer
from mcae.tiles.dependencies import IdParam, StoreDep, city_dependency
from mcae.tiles.gdal import SourceRefused


def public_layer(store: CatalogStore, layer: Layer) -> dict[str, Any]:
    """A layer as clients see it: everything but file paths, plus its version (None, and
    ``available`` false, while its file is missing)."""
    private = {"path", "serving_path", "serving_source"}
    try:
        version: str | None = store.layer_version(layer)
    except SourceRefused:
        version = None
    return {**layer.model_dump(mode="json", exclude=private), "version": version,
            "available": version is not None}


def create_catalog_router() -> APIRouter:
    router = APIRouter(tags=["Catalog"])

    @router.get("/api/cities", summary="Every city, with its layers and district names")
    def list_cities(store: StoreDep) -> list[dict[str, Any]]:
        return [_city(store, city) for city in store.snapshot().cities.values()]

    @router.get("/api/cities/{city}", summary="One city with its layers and districts (ETag: the viewer "
                "polls it with If-None-Match to follow rebuilt layers)",
                responses={304: {"description": "Not modified: `If-None-Match` names the current ETag."}})
    def get_city(request: Request, store: StoreDep, city: Annotated[City, Depends(city_dependency)]) -> Response:
        return revalidated(request, json.dumps(_city(store, city)), "application/json")

    @router.get("/api/cities/{city}/districts.geojson", summary="District boundaries (GeoJSON)")
    def districts(city: Annotated[City, Depends(city_dependency)]) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": d.id, "properties": {"id": d.id, "name": d.name},
             "geometry": d.geometry} for d in city.districts.values()]}

    @router.get("/api/cities/{city}/districts/{district}", summary="One district (GeoJSON)")
    def district(store: StoreDep, city: Annotated[str, IdParam],
                 district: Annotated[str, IdParam]) -> dict[str, Any]:
        found = store.district(city, district)
        return {"type": "Feature", "id": found.id, "properties": {"id": found.id, "name": found.name},
                "geometry": found.geometry}

    return router


def _city(store: StoreDep, city: City) -> dict[str, Any]:
    return {
        "id": city.id, "name": city.name, "provenance": city.provenance,
        "description": city.description,
        "layers": [public_layer(store, layer) for layer in city.layers.values()],
        "districts": [{"id": d.id, "name": d.name} for d in city.districts.values()],
    }
