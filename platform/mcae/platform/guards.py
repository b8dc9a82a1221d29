"""The query guard: applied once, by ``create_app``, to every API route of the app.

It refuses query parameters a route does not declare (``url``, ``expression``, ``bidx`` ...),
CRS values that are not plain identifiers and out-of-range zooms and sizes (400). The
WMTS key-value parameters (``SERVICE``, ``REQUEST``, ``VERSION``) pass in any case on the
routes that declare them (``mcae.tiles.dependencies.wmts_kvp``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, HTTPException, Request

from mcae.tiles.dependencies import OWS_KVP

CRS_PATTERN = re.compile(r"^(EPSG|OGC|ESRI):[0-9A-Za-z.]{1,16}$|^https?://www\.opengis\.net/def/crs/[A-Za-z]+/[0-9.]+/[0-9A-Za-z]+$")
CRS_NAMES = ("crs", "coord_crs", "dst_crs")
INT_LIMITS = {"minzoom": (0, 30), "maxzoom": (0, 30), "width": (1, 1024), "height": (1, 1024)}
PATHLIKE = ("url", "path", "file", "src")


def declared_query(route: Any) -> frozenset[str]:
    """Every query parameter a route (and its dependencies) declares (cached on the route)."""
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
    """400 for an undeclared query parameter, a CRS that is not an identifier, or an
    out-of-range zoom, width or height."""
    route = request.scope.get("route")
    declared = declared_query(route) if route is not None and hasattr(route, "dependant") else frozenset()
    for name, value in request.query_params.multi_items():
        if name not in declared and not (name.lower() in OWS_KVP and name.lower() in declared):
            hint = " (layers are addressed by catalog ids; no route takes a path or URL)" \
                if name.lower() in PATHLIKE else ""
            raise HTTPException(400, f"unknown query parameter {name!r}{hint}")
        if name in CRS_NAMES and not CRS_PATTERN.match(value):
            raise HTTPException(400, f"{name} must be an identifier like EPSG:4326")
        if name in INT_LIMITS:
            low, high = INT_LIMITS[name]
            if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
                raise HTTPException(400, f"{name} must be an integer from {low} to {high}")


QueryGuard = Depends(query_guard)
