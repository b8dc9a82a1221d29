"""Published versions of a layer and rollback (admins): every map a rebuild published stays
on the server; a previous one comes back as a new version (see ``tiles.versions``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from mcae.platform.annotation import review_schemas
from mcae.platform.annotation.auth import Admin, Viewer
from mcae.tiles import versions
from mcae.tiles.catalog import ID_PATTERN, CatalogStore, UnknownId
from mcae.tiles.gdal import SourceRefused

CityId = Annotated[str, Path(pattern=ID_PATTERN, description="A city id.")]
LayerId = Annotated[str, Path(pattern=ID_PATTERN, description="A layer id.")]


def layer_versions(store: CatalogStore, city: str, layer_id: str) -> review_schemas.LayerVersionsOut:
    """The versions of a layer, newest first (none for a layer not published yet)."""
    try:
        layer = store.layer(city, layer_id)
    except UnknownId:  # a project's layer before its first rebuild: nothing published yet
        return review_schemas.LayerVersionsOut(city=city, layer=layer_id, current=None, versions=[])
    try:
        current: str | None = store.layer_version(layer)
    except SourceRefused:
        current = None
    log = versions.read_log(store, city, layer_id)
    return review_schemas.LayerVersionsOut(city=city, layer=layer_id, current=current, versions=[
        review_schemas.LayerVersionOut(number=v.number, version=v.version, published_at=v.published_at, by=v.by,
                                note=v.note, current=v.path == layer.path)
        for v in reversed(log.versions)])


def create_publish_router() -> APIRouter:
    router = APIRouter(prefix="/api/cities/{city}/layers/{layer}", tags=["Annotation: review and rebuild"])

    @router.get("/versions", summary="The published versions of a layer, newest first (none before the first)")
    def list_versions(request: Request, user: Viewer, city: CityId, layer: LayerId) -> review_schemas.LayerVersionsOut:
        return layer_versions(request.app.state.store, city, layer)

    @router.post("/rollback", status_code=201,
                 summary="Publish a previous version of a layer again, as a new version (admin)",
                 description="The old version's file is copied to the next number and published: new tile "
                             "URLs; every older tile URL answers 410 naming the new current version.")
    def rollback(request: Request, user: Admin, city: CityId, layer: LayerId,
                 body: review_schemas.RollbackIn) -> review_schemas.LayerVersionsOut:
        store = request.app.state.store
        versions.rollback(store, city, layer, body.version, by=user.name)
        return layer_versions(store, city, layer)

    return router
