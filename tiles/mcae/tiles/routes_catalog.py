"""Catalog API: cities, their layers (without file paths) and districts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from mcae.tiles.catalog import CatalogStore, City, District, Layer
from mcae.tiles.dependencies import IdParam, StoreDep, city_dependency
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.http_cache import revalidated
from mcae.tiles.schemas import CityOut, DistrictCollection, DistrictFeature, DistrictName, LayerOut

PRIVATE = {"path", "serving_path", "serving_source", "files"}


def public_layer(store: CatalogStore, layer: Layer) -> LayerOut:
    """A layer as clients see it: everything but file paths, plus its version (None, and
    ``available`` false, while its file is missing)."""
    try:
        version: str | None = store.layer_version(layer)
    except SourceRefused:
        version = None
    return LayerOut.model_validate({**layer.model_dump(exclude=PRIVATE), "version": version,
                                    "available": version is not None})


def public_city(store: CatalogStore, city: City) -> CityOut:
    """A city with its public layers and its districts' names."""
    return CityOut(id=city.id, name=city.name, provenance=city.provenance, description=city.description,
                   layers=[public_layer(store, layer) for layer in city.layers.values()],
                   districts=[DistrictName(id=d.id, name=d.name) for d in city.districts.values()])


def district_feature(district: District) -> DistrictFeature:
    return DistrictFeature.model_validate({"id": district.id, "properties": {"id": district.id,
                                                                             "name": district.name},
                                           "geometry": district.geometry})


def create_catalog_router() -> APIRouter:
    router = APIRouter(tags=["Catalog"])

    @router.get("/api/cities", summary="Every city, with its layers and district names")
    def list_cities(store: StoreDep) -> list[CityOut]:
        return [public_city(store, city) for city in store.snapshot().cities.values()]

    @router.get("/api/cities/{city}", response_model=CityOut,
                summary="One city with its layers and districts (ETag: the viewer "
                "polls it with If-None-Match to follow rebuilt layers)",
                responses={304: {"description": "Not modified: `If-None-Match` names the current ETag."}})
    def get_city(request: Request, store: StoreDep, city: Annotated[City, Depends(city_dependency)]) -> Response:
        return revalidated(request, public_city(store, city).model_dump_json(), "application/json")

    @router.get("/api/cities/{city}/districts.geojson", summary="District boundaries (GeoJSON)")
    def districts(city: Annotated[City, Depends(city_dependency)]) -> DistrictCollection:
        return DistrictCollection(features=[district_feature(d) for d in city.districts.values()])

    @router.get("/api/cities/{city}/districts/{district}", summary="One district (GeoJSON)")
    def district(store: StoreDep, city: Annotated[str, IdParam],
                 district: Annotated[str, IdParam]) -> DistrictFeature:
        return district_feature(store.district(city, district))

    return router
