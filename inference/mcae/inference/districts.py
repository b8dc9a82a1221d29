"""District maps: the city map clipped to each district boundary, as its own COG."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError, WindowError
from rasterio.features import geometry_mask
from rasterio.warp import transform_geom
from rasterio.windows import Window, from_bounds
from shapely.geometry import shape

from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.errors import InputError
from mcae.inference.gdal_cache import bounded_gdal_cache
from mcae.inference.mapping import INPUTS_TAG, slug
from mcae.inference.masks.base import PixelWindow


def read_districts(path: str | Path, field: str = "name") -> list[tuple[str, dict[str, Any]]]:
    """(name, GeoJSON geometry in EPSG:4326 or the file's ``crs``) of every district."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        features = data["features"] if data.get("type") == "FeatureCollection" else [data]
        out = []
        for i, feature in enumerate(features):
            name = str((feature.get("properties") or {}).get(field, f"district_{i + 1}"))
            shape(feature["geometry"])  # validates the geometry
            out.append((name, feature["geometry"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a GeoJSON of district polygons ({exc})") from None
    if not out:
        raise InputError(f"{path}: no districts in the file")
    return out


def clip_districts(city_map: str | Path, districts: str | Path, out_dir: str | Path,
                   field: str = "name", src_crs: str = "EPSG:4326", keep_same: bool = False) -> list[Path]:
    """Write ``<map>_<district>.tif`` for every district; returns the paths written.

    ``keep_same``: a district map already there, made from the same city map inputs and the same
    boundary (what an interrupted ``mcae map`` finished), is kept and not written again."""
    city_map = Path(city_map)
    written = []
    with bounded_gdal_cache(), rasterio.open(city_map) as src:
        for name, geometry in read_districts(districts, field):
            found = clip_district(src, name, geometry, Path(out_dir) / f"{city_map.stem}_{slug(name)}.tif",
                                  src_crs=src_crs, keep_same=keep_same)
            if found is not None:
                written.append(found)
    return written


SHAPE_TAG = "MCAE_DISTRICT_SHAPE"  # digest of the boundary a district map was clipped to


def clip_district(src: Any, name: str, geometry: dict[str, Any], out: Path,
                  src_crs: str = "EPSG:4326", keep_same: bool = False) -> Path | None:
    """The open city map ``src`` clipped to one district (``geometry`` in ``src_crs``) as the COG
    ``out``, window by window; None when the district lies outside the map. ``keep_same``: see
    ``clip_districts``."""
    if src.crs is None:
        raise InputError("district maps need a georeferenced city map")
    geom = transform_geom(src_crs, src.crs, geometry)
    bounds = shape(geom).bounds
    win = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
    try:
        win = win.intersection(Window(0, 0, src.width, src.height))
    except WindowError:  # no overlap at all
        return None
    if win.width <= 0 or win.height <= 0:
        return None
    tags = {**src.tags(), "MCAE_DISTRICT": name, SHAPE_TAG: hashlib.sha256(
        json.dumps([name, src_crs, geometry], sort_keys=True).encode()).hexdigest()}
    if keep_same and tags.get(INPUTS_TAG) and _same_district(out, tags):
        return out
    return write_class_cog(out, width=int(win.width), height=int(win.height),
                           transform=src.window_transform(win), crs=src.crs,
                           windows=_clipped_blocks(src, win, geom), scheme=MCAE, tags=tags)


def _same_district(out: Path, tags: dict[str, str]) -> bool:
    """Whether ``out`` (with its sidecars) was clipped from the same city map inputs and boundary."""
    if not all(p.is_file() for p in (out, out.with_suffix(".qml"), out.parent / f"{out.name}.aux.xml")):
        return False
    try:
        with rasterio.open(out) as found:
            have = found.tags()
    except RasterioError:
        return False
    return all(have.get(key) == tags[key] for key in (INPUTS_TAG, SHAPE_TAG))


def _clipped_blocks(src: Any, win: Window, geom: dict[str, Any], block: int = 1024) -> Any:
    for r in range(0, int(win.height), block):
        for c in range(0, int(win.width), block):
            sub = Window(win.col_off + c, win.row_off + r, min(block, int(win.width) - c),
                         min(block, int(win.height) - r))
            data = src.read(1, window=sub)
            outside = geometry_mask([geom], out_shape=data.shape,
                                    transform=src.window_transform(sub))
            yield (PixelWindow(r, c, int(sub.height), int(sub.width)),
                   np.where(outside, 0, data).astype(np.uint8))
