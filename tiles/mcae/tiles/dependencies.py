"""FastAPI dependencies: the catalog store, and ids resolved before any file is opened.

What the app provides on ``app.state`` (the platform builds it): ``store`` (the catalog),
``tile_settings`` (this layer's ``TileSettings``), ``readers`` (its reader pool) and, while
the app runs, ``jobs`` (a job
registry, see ``mcae.tiles.jobs.JobSubmitter``). The query guard that refuses undeclared
query parameters is the platform's (``mcae.platform.guards``); it lets the WMTS key-value
parameters below through on routes that declare them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam

from mcae.tiles.catalog import CatalogStore, City, Layer, LayerRef
from mcae.tiles.ids import ID_PATTERN
from mcae.tiles.jobs import JobSubmitter
from mcae.tiles.readers import ReaderPool
from mcae.tiles.settings import TileSettings

IdParam = PathParam(pattern=ID_PATTERN, description="A catalog id.")


def get_store(request: Request) -> CatalogStore:
    return request.app.state.store


def get_tile_settings(request: Request) -> TileSettings:
    """This layer's settings (``app.state.tile_settings``; the app's root settings hold them)."""
    settings: TileSettings = request.app.state.tile_settings
    return settings


def get_readers(request: Request) -> ReaderPool:
    """The app's reader pool (made by the app, closed by its lifespan)."""
    readers: ReaderPool = request.app.state.readers
    return readers


def get_jobs(request: Request) -> JobSubmitter:
    """The app's job registry (made and shut down by the app's lifespan)."""
    jobs: JobSubmitter = request.app.state.jobs
    return jobs


StoreDep = Annotated[CatalogStore, Depends(get_store)]
SettingsDep = Annotated[TileSettings, Depends(get_tile_settings)]
JobsDep = Annotated[JobSubmitter, Depends(get_jobs)]
ReadersDep = Annotated[ReaderPool, Depends(get_readers)]


def client_address(request: Request) -> str | None:
    """The client's address (behind a proxy, what uvicorn's ``--forwarded-allow-ips`` trusts)."""
    return request.client.host if request.client else None


ClientDep = Annotated[str | None, Depends(client_address)]


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


def layer_ref_dependency(store: StoreDep, city: Annotated[str, IdParam],
                         layer: Annotated[str, IdParam]) -> LayerRef:
    """The route's layer with its files, tokens and version, resolved once for the request
    (404 for unknown ids, SourceRefused (404) while the file is missing)."""
    return store.layer_ref(city, layer)


# -- OGC key-value parameters on WMTS capabilities ------------------------------------------

OWS_KVP = {"service": "wmts", "request": "getcapabilities", "version": "1.0.0"}  # accepted values


def wmts_kvp(
    http: Request,
    service: Annotated[str | None, Query(description="WMTS (optional; clients such as QGIS and "
                                                     "OWSLib add it, in any case).")] = None,
    request: Annotated[str | None, Query(description="GetCapabilities (optional).")] = None,
    version: Annotated[str | None, Query(description="1.0.0 (optional).")] = None,
) -> None:
    """The ``SERVICE``/``REQUEST``/``VERSION`` parameters WMTS clients append to a capabilities
    URL: names in any case, values checked (400 for another service, request or version)."""
    for name, value in http.query_params.multi_items():
        expected = OWS_KVP.get(name.lower())
        if expected is not None and value.lower() != expected:
            raise HTTPException(400, f"{name}={value!r}: this is the WMTS 1.0.0 GetCapabilities document "
                                     f"(expected {name}={expected})")


WmtsKvp = Depends(wmts_kvp)
