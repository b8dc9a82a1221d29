"""Ingest a categorical map (a SinoLC-1 prefecture GeoTIFF, or any other) into the catalog.

The file is clipped to the city (the union of the bounds of its other layers and its
districts; the whole file when the city has neither), read window by window and written
as a paletted COG with mode overviews (``write_class_cog``). Values are kept as they are;
the legend says what they mean (see ``mcae.tiles.legends`` for where it comes from) and
is stored in the layer, so tiles, legends and statistics use the file's own classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from shapely.geometry import shape

from mcae.inference.classes import SINOLC1, ClassScheme
from mcae.inference.cog import write_class_cog
from mcae.inference.errors import InputError
from mcae.inference.masks.base import PixelWindow
from mcae.tiles.catalog import CatalogStore, Layer, LayerKind
from mcae.tiles.geometry import WGS84, blocks, window_of
from mcae.tiles.layers import ensure_city, layer_from_file
from mcae.tiles.legends import (
    aux_classes,
    legend_scheme,
    merge_legend,
    read_legend_file,
    tag_classes,
)
from mcae.tiles.whole_files import put_with_files

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class Ingested:
    """What an ingest did: the layer, its file, the clip and where the legend came from."""

    layer: Layer
    path: Path
    clipped_to: Bounds | None
    size: tuple[int, int]  # width, height in pixels
    legend_sources: list[str]


def city_bounds(store: CatalogStore, city_id: str, exclude: str | None = None) -> Bounds | None:
    """Union (EPSG:4326) of the city's other layers' bounds and its districts; None if none."""
    city = store.load().cities.get(city_id)
    if city is None:
        return None
    boxes = [layer.bounds for layer in city.layers.values() if layer.id != exclude]
    boxes += [tuple(shape(d.geometry).bounds) for d in city.districts.values()]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def ingest_map(store: CatalogStore, source: str | Path, *, city: str, layer_id: str, kind: LayerKind,
               defaults: ClassScheme | None = None, legend_path: str | Path | None = None,
               title: str | None = None, synthetic: bool = False, out: str | Path | None = None) -> Ingested:
    """Clip ``source`` to ``city``, write it as a COG and add (or replace) layer ``layer_id``."""
    source = Path(source)
    if not source.is_file():
        raise InputError(f"{source}: no such file")
    legend_file = read_legend_file(legend_path) if legend_path is not None else None
    provenance = "synthetic" if synthetic else "real"
    bounds = city_bounds(store, city, exclude=layer_id)
    out = Path(out) if out is not None else store.root / "layers" / city / f"{layer_id}.tif"
    try:
        with rasterio.open(source) as src:
            _check(src, source)
            names = [("CLASS_<id> tags", tag_classes(src.tags())),
                     ("attribute table (.aux.xml)", aux_classes(source))]
            legend, sources = merge_legend(defaults, _colormap(src), names, legend_file)
            window = _clip_window(src, bounds, source)
            scheme = legend_scheme(defaults.name if defaults else layer_id, legend,
                                   defaults.description if defaults else "")
            tags = {"MCAE_SOURCE": source.name, "MCAE_LEGEND_SOURCES": ", ".join(sources)}
            if synthetic:
                tags["MCAE_SYNTHETIC"] = "yes"
            write_class_cog(out, width=int(window.width), height=int(window.height),
                            transform=src.window_transform(window), crs=src.crs,
                            windows=_windows(src, window), scheme=scheme, tags=tags)
    except RasterioError as exc:
        raise InputError(f"{source}: cannot read the raster ({exc})") from None
    layer = layer_from_file(store, out, kind=kind, layer_id=layer_id, title=title or layer_id,
                            provenance=provenance, scheme=defaults.name if defaults else None,
                            legend=legend, description=f"ingested from {source.name}")
    ensure_city(store, city, provenance=provenance)  # only now: a refused file adds nothing
    layer = put_with_files(store, city, layer)
    return Ingested(layer, out, bounds, (int(window.width), int(window.height)), sources)


def ingest_sinolc1(store: CatalogStore, source: str | Path, *, city: str, layer_id: str = "sinolc1",
                   legend_path: str | Path | None = None, **kwargs: Any) -> Ingested:
    """A SinoLC-1 prefecture GeoTIFF as layer ``sinolc1`` (kind sinolc1) of ``city``."""
    kwargs.setdefault("title", "SinoLC-1")
    return ingest_map(store, source, city=city, layer_id=layer_id, kind=LayerKind.sinolc1,
                      defaults=SINOLC1, legend_path=legend_path, **kwargs)


def _check(src: Any, source: Path) -> None:
    if src.count != 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
        raise InputError(f"{source}: expected one band of integer class values, "
                         f"got {src.count} band(s) of {src.dtypes[0]}")
    if src.crs is None:
        raise InputError(f"{source}: the raster is not georeferenced")


def _colormap(src: Any) -> dict[int, tuple[int, int, int, int]] | None:
    try:
        return src.colormap(1)
    except ValueError:  # no colour table
        return None


def _clip_window(src: Any, bounds: Bounds | None, source: Path) -> Window:
    if bounds is None:
        return Window(0, 0, src.width, src.height)
    native = bounds if src.crs == WGS84 else transform_bounds(WGS84, src.crs, *bounds, densify_pts=21)
    window = window_of(native, src.transform, src.width, src.height)
    if window is None:
        raise InputError(f"{source} does not overlap the city (bounds {bounds})")
    return window


def _windows(src: Any, window: Window) -> Iterator[tuple[PixelWindow, np.ndarray]]:
    for sub in blocks(window):
        data = src.read(1, window=sub)
        if src.nodata is not None and src.nodata != 0:
            data[data == src.nodata] = 0
        if data.size and (data.min() < 0 or data.max() > 255):
            raise InputError(f"{src.name}: class values must be 0-255; found {data.min()}..{data.max()}")
        yield (PixelWindow(int(sub.row_off - window.row_off), int(sub.col_off - window.col_off),
                           int(sub.height), int(sub.width)), data.astype(np.uint8))

