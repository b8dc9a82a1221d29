"""FastAPI dependencies: the catalog store, and ids resolved before any file is opened."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam

from mcae.tiles.catalog import SERVING_TMS, CatalogStore, City, Layer
from mcae.tiles.settings import TileSettings

IdParam = PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="A catalog id.")


def get_store(request: Request) -> CatalogStore:
    return request.app.state.store


def get_settings(request: Request) -> TileSettings:
    return request.app.state.settings


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


# -- the query guard ---------------------------------------------------------------------

CRS_PATTERN = re.compile(r"^(EPSG|OGC|ESRI):[0-9A-Za-z.]{1,16}$|^https?://www\.opengis\.net/def/crs/[A-Za-z]+/[0-9.]+/[0-9A-Za-z]+$")
CRS_NAMES = ("crs", "coord_crs", "dst_crs")
INT_LIMITS = {"minzoom": (0, 30), "maxzoom": (0, 30), "width": (1, 1024), "height": (1, 1024)}


def _declared_query(route: Any) -> frozenset[str]:
    """Every query parameter a route (and its dependencies) declares."""
    found = getattr(route, "_mcae_query", None)
    if found is None:
        names: set[str] = set()
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            names.update(param.alias for param in dependant.query_params)
            stack.extend(dependant.dependencies)
        found = frozenset(names)
        route._mcae_query = found
    return found


def query_guard(request: Request) -> None:
    """Refuse query parameters a route does not declare (``url``, ``expression``, ``bidx`` ...),
    CRS values that are not plain identifiers and out-of-range zooms and sizes (400)."""
    route = request.scope.get("route")
    declared = _declared_query(route) if route is not None and hasattr(route, "dependant") else frozenset()
    for name, value in request.query_params.multi_items():
        if name not in declared and not (name.lower() in OWS_KVP and name.lower() in declared):
            hint = " (layers are addressed by catalog ids; no route takes a path or URL)" \
                if name.lower() in ("url", "path", "file", "src") else ""
            raise HTTPException(400, f"unknown query parameter {name!r}{hint}")
        if name in CRS_NAMES and not CRS_PATTERN.match(value):
            raise HTTPException(400, f"{name} must be an identifier like EPSG:4326")
        if name in INT_LIMITS:
            low, high = INT_LIMITS[name]
            if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
                raise HTTPException(400, f"{name} must be an integer from {low} to {high}")


QueryGuard = Depends(query_guard)


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
