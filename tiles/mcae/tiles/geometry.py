"""Areas of interest (bbox, GeoJSON, district) and equal-area pixel areas.

Geometries arrive in EPSG:4326 (RFC 7946). Pixel areas come from a Lambert azimuthal
equal-area projection: the corners of sample pixels are projected and their area
taken with the shoelace formula, then interpolated over the window. That is exact
for EPSG:4326 rasters (where a pixel's area changes with latitude) and for projected
ones (where the CRS's own units are not equal-area: UTM is off by up to ~0.1 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyproj
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from rasterio.windows import Window, from_bounds
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.validation import explain_validity

from mcae.inference.errors import InputError
from mcae.tiles.errors import CapExceeded

WGS84 = CRS.from_epsg(4326)
SAMPLE_STEP = 64  # pixels between the sample pixels whose area is computed exactly


BBox = tuple[float, float, float, float]
BBOX_MALFORMED = "bbox must be four numbers w,s,e,n in degrees (EPSG:4326)"
BBOX_NOT_FINITE = "bbox coordinates must be finite numbers"
BBOX_OUT_OF_RANGE = "bbox must have w<e and s<n within -180..180 and -90..90 degrees"
MAX_VERTICES = 250_000  # of one request's polygons together


def check_bbox(values: Sequence[Any]) -> BBox:
    """``values`` as a west, south, east, north bbox in degrees, or InputError.

    The one bbox check of every route (query strings and JSON bodies alike): the messages
    name the rule, never echo the input."""
    if isinstance(values, (str, bytes)) or len(values) != 4:
        raise InputError(BBOX_MALFORMED)
    try:
        w, s, e, n = (float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(BBOX_MALFORMED) from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise InputError(BBOX_NOT_FINITE)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError(BBOX_OUT_OF_RANGE)
    return w, s, e, n


def parse_bbox(text: str) -> BBox:
    """A ``w,s,e,n`` query string (degrees, EPSG:4326) as a bbox; InputError when malformed."""
    return check_bbox(text.split(","))


def parse_geojson(data: Any) -> BaseGeometry:
    """A Polygon/MultiPolygon (geometry, Feature or FeatureCollection) as one geometry;
    InputError (400) when malformed, CapExceeded (413) over ``MAX_VERTICES`` vertices."""
    vertices = count_vertices(data)
    if vertices > MAX_VERTICES:
        raise CapExceeded(vertices, MAX_VERTICES, unit="vertices", setting="the vertex cap",
                          advice="simplify the polygon")
    return _parse_geojson(data)


def count_vertices(data: Any) -> int:
    """Positions in a GeoJSON object's polygons, counted before anything is built (what does not
    look like a polygon counts 0: the parser says why it is wrong)."""
    if not isinstance(data, dict):
        return 0
    kind = data.get("type")
    if kind == "FeatureCollection" and isinstance(data.get("features"), list):
        return sum(count_vertices(f) for f in data["features"])
    if kind == "Feature":
        return count_vertices(data.get("geometry"))
    coords = data.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
    if not isinstance(polygons, list):
        return 0
    return sum(len(ring) for polygon in polygons if isinstance(polygon, list)
               for ring in polygon if isinstance(ring, list))


def _parse_geojson(data: Any) -> BaseGeometry:
    if not isinstance(data, dict):
        raise InputError("the body must be a GeoJSON object (geometry, Feature or FeatureCollection)")
    kind = data.get("type")
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise InputError("the FeatureCollection has no features")
        return unary_union([_parse_geojson(f) for f in features])
    if kind == "Feature":
        return _parse_geojson(data.get("geometry"))
    if kind not in ("Polygon", "MultiPolygon"):
        raise InputError(f"GeoJSON type {kind!r} is not supported: send a Polygon or MultiPolygon "
                         "(or a Feature/FeatureCollection of them) in EPSG:4326")
    try:
        geom = shape(data)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError) as exc:
        raise InputError(f"malformed {kind}: {exc or 'bad coordinates'}") from None
    if geom.is_empty:
        raise InputError(f"the {kind} is empty")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise InputError(f"the {kind} has coordinates that are not finite numbers")
    if not geom.is_valid:
        raise InputError(f"invalid {kind}: {explain_validity(geom)}")
    w, s, e, n = geom.bounds
    if min(w, e) < -180 or max(w, e) > 180 or min(s, n) < -90 or max(s, n) > 90:
        raise InputError(f"the {kind} is not in degrees (EPSG:4326): bounds {geom.bounds}")
    return geom


def to_crs(geom: BaseGeometry, crs: CRS) -> dict[str, Any]:
    """``geom`` (EPSG:4326) as GeoJSON in ``crs``, densified so edges stay straight on the ground."""
    if crs == WGS84:
        return dict(mapping(geom))
    w, s, e, n = geom.bounds
    dense = geom.segmentize(max(max(e - w, n - s) / 64, 1e-7))
    return transform_geom(WGS84, crs, mapping(dense))


def window_of(bounds: tuple[float, float, float, float], transform: Affine,
              width: int, height: int) -> Window | None:
    """The pixel window covering ``bounds`` (raster CRS), rounded out and clipped; None if outside."""
    win = from_bounds(*bounds, transform=transform)
    col0, row0 = max(math.floor(win.col_off + 1e-9), 0), max(math.floor(win.row_off + 1e-9), 0)
    col1 = min(math.ceil(win.col_off + win.width - 1e-9), width)
    row1 = min(math.ceil(win.row_off + win.height - 1e-9), height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def blocks(window: Window, size: int = 1024) -> list[Window]:
    """``window`` cut into windows of at most ``size`` x ``size`` pixels."""
    c0, r0, w, h = int(window.col_off), int(window.row_off), int(window.width), int(window.height)
    return [Window(c0 + c, r0 + r, min(size, w - c), min(size, h - r))
            for r in range(0, h, size) for c in range(0, w, size)]


class PixelAreas:
    """Ground area (m²) of the pixels of a raster, from an equal-area projection."""

    def __init__(self, crs: CRS, transform: Affine, centre: tuple[float, float]) -> None:
        lon, lat = centre
        laea = pyproj.CRS.from_proj4(f"+proj=laea +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m")
        self.transform = transform
        self._to_laea = pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(crs.to_wkt()), laea, always_xy=True)

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Exact area of the pixels (rows[i], cols[j]): an array len(rows) x len(cols)."""
        rr, cc = np.meshgrid(rows.astype(float), cols.astype(float), indexing="ij")
        corners = [(cc, rr), (cc + 1, rr), (cc + 1, rr + 1), (cc, rr + 1)]
        xs, ys = [], []
        for c, r in corners:
            x, y = self.transform @ (c, r)
            px, py = self._to_laea.transform(x, y)
            xs.append(np.asarray(px, float))
            ys.append(np.asarray(py, float))
        x0, y0 = xs[0], ys[0]
        xs = [x - x0 for x in xs]
        ys = [y - y0 for y in ys]
        twice = sum(xs[i] * ys[(i + 1) % 4] - xs[(i + 1) % 4] * ys[i] for i in range(4))
        return np.abs(twice) / 2.0

    def window(self, window: Window) -> np.ndarray:
        """Area of every pixel of ``window`` (float64, height x width), interpolated."""
        r0, c0, h, w = int(window.row_off), int(window.col_off), int(window.height), int(window.width)
        rows = _samples(r0, h)
        cols = _samples(c0, w)
        grid = self.at(rows, cols)
        along = np.stack([np.interp(np.arange(c0, c0 + w), cols, g) for g in grid])  # len(rows) x w
        if len(rows) == 1:
            return np.repeat(along, h, axis=0)
        target = np.arange(r0, r0 + h, dtype=float)
        i = np.clip(np.searchsorted(rows, target, side="right") - 1, 0, len(rows) - 2)
        t = (target - rows[i]) / (rows[i + 1] - rows[i])
        return along[i] * (1 - t)[:, None] + along[i + 1] * t[:, None]


def _samples(start: int, length: int) -> np.ndarray:
    """Sample positions every SAMPLE_STEP pixels, the last pixel included."""
    return np.unique(np.append(np.arange(start, start + length, SAMPLE_STEP), start + length - 1))


def centre_lonlat(bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    w, s, e, n = bounds
    return (w + e) / 2, (s + n) / 2


def native_maxzoom(crs: CRS, transform: Affine, width: int, height: int, tms: Any) -> int:
    """The zoom of ``tms`` whose pixels are as fine as the raster's own, at its centre.

    One pixel step at the raster's centre is carried into the TMS's CRS (so a 0.6 m pixel at
    51 degrees north spans 0.95 Web Mercator metres) and the zoom is rounded *up*: the map's
    own pixels stay visible at the deepest zoom served (rio-tiler's nearest zoom stopped at 17
    for a 0.6 m map in Köln, about 0.75 m a pixel there).
    """
    col, row = width / 2, height / 2
    pts = [transform @ (col, row), transform @ (col + 1, row), transform @ (col, row + 1)]
    to = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs.to_wkt()),
                                     pyproj.CRS.from_user_input(tms.rasterio_crs.to_wkt()), always_xy=True)
    xs, ys = to.transform([p[0] for p in pts], [p[1] for p in pts])
    steps = [math.hypot(xs[i] - xs[0], ys[i] - ys[0]) for i in (1, 2)]
    finest = min(s for s in steps if s > 0) if any(s > 0 for s in steps) else 0.0
    if not math.isfinite(finest) or finest <= 0:
        return int(tms.maxzoom)
    return int(min(tms.maxzoom, tms.zoom_for_res(finest, zoom_level_strategy="upper")))
