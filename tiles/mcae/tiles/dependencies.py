"""FastAPI dependencies: the catalog store, and ids resolved before any file is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Path as PathParam, Request

from mcae.tiles.catalog import CatalogStore, City, Layer
from mcae.tiles.settings import TileSettings

IdParam = PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="A catalog id.")


def get_store(request: Request) -> CatalogStore:
    return request.app.state.store  # type: ignore[no-any-return]


def get_settings(request: Request) -> TileSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


StoreDep = Annotated[CatalogStore, Depends(get_store)]


def city_dependency(store: StoreDep, city: Annotated[str, IdParam]) -> City:
    """The city of the route (404 for an unknown id)."""
    return store.city(city)


def layer_dependency(store: StoreDep, city: Annotated[str, IdParam],
                     layer: Annotated[str, IdParam]) -> Layer:
    """The layer of the route (404 for an unknown id, before GDAL opens anything)."""
    return store.layer(city, layer)


def layer_path_dependency(store: StoreDep, city: Annotated[str, IdParam],
                          layer: Annotated[str, IdParam]) -> str:
    """The file of the route's layer: the only way a route reaches a path."""
    found: Path = store.layer_path(store.layer(city, layer))
    return str(found)
