"""Areas of a download request: a bbox, a GeoJSON polygon or a district (EPSG:4326), clipped to a layer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

from mcae.inference.errors import InputError
from mcae.tiles.catalog import CatalogStore, Layer
from mcae.tiles.geometry import check_bbox, parse_geojson


def resolve_area(store: CatalogStore, city: str, layer: Layer, *, bbox: Sequence[float] | None = None,
                 district: str | None = None,
                 geometry: dict[str, Any] | None = None) -> tuple[BaseGeometry, bool, str]:
    """The requested area clipped to the layer: (geometry, is_a_box, fingerprint).

    Exactly one of ``bbox``, ``district`` and ``geometry``; an unknown district is
    UnknownId (404), an area outside the layer is InputError.
    """
    given = [x is not None for x in (bbox, district, geometry)]
    if sum(given) != 1:
        raise InputError("give exactly one of bbox, district and geometry")
    if bbox is not None:
        geom: BaseGeometry = box(*check_bbox(bbox))
        rectangular = True
    elif district is not None:
        geom = shape(store.district(city, district).geometry)
        rectangular = False
    else:
        assert geometry is not None
        geom = parse_geojson(geometry)
        rectangular = False
    clipped = geom.intersection(box(*layer.bounds))
    if clipped.is_empty or clipped.area <= 0:
        raise InputError(f"the area does not overlap layer {layer.id!r} "
                         f"(bounds {', '.join(f'{v:.6f}' for v in layer.bounds)})")
    if clipped.geom_type not in ("Polygon", "MultiPolygon"):  # keep the polygonal parts only
        clipped = shapely.union_all([g for g in shapely.get_parts(clipped) if g.area > 0])
    return clipped, rectangular, fingerprint(clipped)


def fingerprint(geom: BaseGeometry) -> str:
    """A short hash of a geometry (identical areas give identical jobs)."""
    text = json.dumps(mapping(shapely.normalize(geom)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
