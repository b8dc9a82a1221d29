"""FastAPI dependencies: the catalog store, and ids resolved before any file is opened.

What the app provides on ``app.state`` (the platform builds it): ``store`` (the catalog),
``tile_settings`` (this layer's ``TileSettings``) and, while the app runs, ``jobs`` (a job
registry, see ``mcae.tiles.jobs.JobSubmitter``). The query guard that refuses undeclared
query parameters is the platform's (``mcae.platform.guards``); it lets the WMTS key-value
parameters below through on routes that declare them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam

from mcae.tiles.catalog import ID_PATTERN, SERVING_TMS, CatalogStore, City, Layer
from mcae.tiles.jobs import JobSubmitter
from mcae.tiles.settings import TileSettings

IdParam = PathParam(pattern=ID_PATTERN, description="A catalog id.")


def get_store(request: Request) -> CatalogStore:
    return request.app.state.store


def get_settings(request: Request) -> TileSettings:
    """This layer's settings (``app.state.tile_settings``; the app's root settings hold them)."""
    settings: TileSettings = request.app.state.tile_settings
    return settings


def get_jobs(request: Request) -> JobSubmitter:
    """The app's job registry (made and shut down by the app's lifespan)."""
    jobs: JobSubmitter = request.app.state.jobs
    return jobs


StoreDep = Annotated[CatalogStore, Depends(get_store)]
SettingsDep = Annotated[TileSettings, Depends(get_settings)]
JobsDep = Annotated[JobSubmitter, Depends(get_jobs)]


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


@dataclass(frozen=True)
class LayerRef:
    """A resolved layer: ids, catalog record, private file path and version token."""

    city: str
    layer: Layer
    path: str
    version: str
    serving_path: str | None = None  # fresh web-optimized copy, if any

    def tile_path(self, tms_id: str) -> str:
        """What tiles on ``tms_id`` are rendered from (the serving copy on its own grid)."""
        return self.serving_path if self.serving_path and tms_id == SERVING_TMS else self.path

    @property
    def render_key(self) -> str:
        """What, besides the file, changes a rendered tile: kind, scheme and legend."""
        legend = json.dumps(self.layer.legend, sort_keys=True) if self.layer.legend else ""
        return f"{self.layer.kind.value}:{self.layer.scheme}:{legend}"


def layer_ref_dependency(store: StoreDep, city: Annotated[str, IdParam],
                         layer: Annotated[str, IdParam]) -> LayerRef:
    """The route's layer with its path and version (404 for unknown ids or a missing file)."""
    found = store.layer(city, layer)
    version, copy = store.layer_state(found)  # SourceRefused (404) while the file is missing
    return LayerRef(city, found, str(store.layer_path(found)), version, str(copy) if copy else None)


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
