"""STAC API (static-catalog layout): catalog.json, a collection per city, an item per layer and
per district map of a layer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from mcae.tiles.dependencies import IdParam, StoreDep
from mcae.tiles.ids import ID, UnknownId
from mcae.tiles.schemas import StacObject
from mcae.tiles.stac import DISTRICT_SEP, STAC_PREFIX, build_catalog, served

ITEM_FILE = rf"^{ID}({DISTRICT_SEP}{ID})?\.json$"  # <item id>.json
ITEM_ID = rf"^{ID}({DISTRICT_SEP}{ID})?$"  # <layer id>, or <layer id>__<district id> for a district map


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def create_stac_router() -> APIRouter:
    router = APIRouter(prefix=STAC_PREFIX, tags=["STAC"])

    @router.get("/catalog.json", summary="The STAC catalog of every city")
    def catalog(store: StoreDep, request: Request) -> StacObject:
        return StacObject.model_validate(served(build_catalog(store, _base(request))))

    @router.get("/{city}/collection.json", summary="A city as a STAC collection")
    def collection(store: StoreDep, request: Request, city: Annotated[str, IdParam]) -> StacObject:
        store.city(city)
        found = build_catalog(store, _base(request)).get_child(city)
        if found is None:  # pragma: no cover - store.city raised already
            raise UnknownId("city", city)
        return StacObject.model_validate(served(found))

    @router.get("/{city}/{item}/{item_file}", summary="A layer (or one district map of it) as a STAC item")
    def item(store: StoreDep, request: Request, city: Annotated[str, IdParam],
             item_id: Annotated[str, Path(alias="item", pattern=ITEM_ID, description="An item id: a layer id, "
                                          "or <layer>__<district> for a district map.")],
             item_file: Annotated[str, Path(pattern=ITEM_FILE)]) -> StacObject:
        layer_id, _, district = item_id.partition(DISTRICT_SEP)
        store.layer(city, layer_id)  # 404 for unknown ids before anything is read
        if district:
            store.district(city, district)
        if item_file != f"{item_id}.json":
            raise UnknownId("STAC item", f"{city}/{item_id}/{item_file}")
        child = build_catalog(store, _base(request)).get_child(city)
        found = child.get_item(item_id) if child is not None else None
        if found is None:  # its file is missing or unreadable
            raise UnknownId("STAC item", f"{city}/{item_id}/{item_file}")
        return StacObject.model_validate(served(found))

    return router
