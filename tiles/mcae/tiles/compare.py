"""MCAE against SinoLC-1: contingency counts per city and district, and the agreement map.

The common grid is SinoLC-1's: the MCAE layer (0.6 m) is read onto it through a
``WarpedVRT`` with **mode** resampling (the majority MCAE class of the ~1 m cell; no
data is left out of the vote), window by window, so memory stays bounded. Nothing is
ever interpolated. Only the part of the SinoLC-1 grid that the MCAE layer covers is
compared. Counts are SinoLC-1-grid pixels.

The SinoLC-1 layer's values are mapped to the canonical SinoLC-1 values by the class
names of its legend where they match (an ingested file may number its classes
differently); other values are taken as canonical.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.transform import array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from shapely.geometry import box, shape

from mcae.inference.classes import (
    AGREE_BASE,
    AGREEMENT,
    DISAGREE_BASE,
    MCAE_TO_HARMONISED,
    NOT_COMPARED,
    SINOLC1,
    SINOLC1_TO_HARMONISED,
)
from mcae.inference.cog import write_class_cog
from mcae.inference.errors import InputError
from mcae.inference.masks.base import PixelWindow
from mcae.tiles.catalog import CatalogStore, City, Layer, LayerKind
from mcae.tiles.geometry import blocks, to_crs, window_of
from mcae.tiles.ids import UnknownId

UNKNOWN = 255  # a SinoLC-1 value its legend does not explain: data, but not compared


def harmonised_lut(mapping: dict[int, int]) -> np.ndarray:
    """Class value -> harmonised id (0: no data or an excluded class), as a 256 table."""
    lut = np.zeros(256, np.uint8)
    for value, harmonised in mapping.items():
        lut[value] = harmonised
    return lut


SINOLC1_H = harmonised_lut(SINOLC1_TO_HARMONISED)
MCAE_H = harmonised_lut(MCAE_TO_HARMONISED)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def sinolc1_lookup(layer: Layer) -> np.ndarray:
    """The layer's raw value -> canonical SinoLC-1 value (0 no data, 255 unknown)."""
    lut = np.full(256, UNKNOWN, np.uint8)
    lut[0] = 0
    lut[SINOLC1.ids] = SINOLC1.ids
    canonical = {_norm(c.name): c.id for c in SINOLC1}
    for entry in layer.legend or []:
        value = int(entry["id"])
        if 0 < value < 256:
            lut[value] = canonical.get(_norm(str(entry.get("name", ""))), lut[value])
    return lut


def agreement_values(sinolc1: np.ndarray, mcae: np.ndarray) -> np.ndarray:
    """Agreement ids of canonical SinoLC-1 values and MCAE ids (see ``AGREEMENT``)."""
    s_h, m_h = SINOLC1_H[sinolc1], MCAE_H[mcae]
    out = np.zeros(sinolc1.shape, np.uint8)
    out[(sinolc1 > 0) & (mcae > 0)] = NOT_COMPARED
    both = (s_h > 0) & (m_h > 0)
    agree = both & (s_h == m_h)
    out[agree] = AGREE_BASE + m_h[agree]
    out[both & ~agree] = DISAGREE_BASE + m_h[both & ~agree]
    return out


def joint_counts(sinolc1: np.ndarray, mcae: np.ndarray) -> np.ndarray:
    """256 x 256 pixel counts: rows canonical SinoLC-1 values, columns MCAE ids."""
    flat = sinolc1.astype(np.intp) * 256 + mcae.astype(np.intp)
    return np.bincount(flat.ravel(), minlength=65536).reshape(256, 256).astype(np.int64)


@dataclass
class Comparison:
    """Joint counts of the city and each district, and where the agreement map went."""

    city: City
    mcae: Layer
    sinolc1: Layer
    grid: dict[str, Any]
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # "city" and district ids
    agreement_path: Path | None = None

    @property
    def synthetic(self) -> bool:
        return "synthetic" in (self.city.provenance, self.mcae.provenance, self.sinolc1.provenance)


def pick_layer(city: City, kind: LayerKind, layer_id: str | None) -> Layer:
    """The layer ``layer_id``, else the one with the kind's name, else the first of the kind."""
    if layer_id is not None:
        if layer_id not in city.layers:
            raise UnknownId("layer", f"{city.id}/{layer_id}")
        return city.layers[layer_id]
    if kind.value in city.layers and city.layers[kind.value].kind == kind:
        return city.layers[kind.value]
    for layer in city.layers.values():
        if layer.kind == kind:
            return layer
    raise InputError(f"city {city.id!r} has no {kind.value} layer to compare "
                     f"(layers: {sorted(city.layers) or 'none'})")


def compare_city(store: CatalogStore, city_id: str, agreement_path: str | Path, *,
                 mcae_layer: str | None = None, sinolc1_layer: str | None = None,
                 window_size: int = 1024) -> Comparison:
    """Count MCAE against SinoLC-1 over the city and its districts; write the agreement COG."""
    city = store.city(city_id)
    result = Comparison(city, pick_layer(city, LayerKind.mcae, mcae_layer),
                        pick_layer(city, LayerKind.sinolc1, sinolc1_layer), grid={})
    lut = sinolc1_lookup(result.sinolc1)
    with ExitStack() as stack:
        sino = stack.enter_context(rasterio.open(store.layer_path(result.sinolc1)))
        mcae = stack.enter_context(rasterio.open(store.layer_path(result.mcae)))
        if sino.crs is None or mcae.crs is None:
            raise InputError("both layers must be georeferenced to be compared")
        mcae_src, resampled = _on_grid(mcae, sino, stack)
        bounds = transform_bounds(mcae.crs, sino.crs, *mcae.bounds, densify_pts=21)
        window = window_of(bounds, sino.transform, sino.width, sino.height)
        if window is None:
            raise InputError(f"layers {result.mcae.id!r} and {result.sinolc1.id!r} do not overlap")
        districts = {d.id: to_crs(shape(d.geometry), sino.crs) for d in city.districts.values()}
        bounds_of = {k: shape(g).bounds for k, g in districts.items()}
        result.counts = {"city": np.zeros((256, 256), np.int64),
                         **{d: np.zeros((256, 256), np.int64) for d in districts}}
        result.grid = {"on": "sinolc1", "crs": sino.crs.to_string(),
                       "transform": list(sino.window_transform(window))[:6],
                       "width": int(window.width), "height": int(window.height),
                       "mcae_resampling": "mode" if resampled else "none (same grid)"}

        def windows() -> Iterator[tuple[PixelWindow, np.ndarray]]:
            for sub in blocks(window, window_size):
                s = lut[_read(sino, sub)]
                m = _read(mcae_src, sub)
                result.counts["city"] += joint_counts(s, m)
                for district_id, geom in districts.items():
                    if not box(*bounds_of[district_id]).intersects(box(*array_bounds(
                            sub.height, sub.width, sino.window_transform(sub)))):
                        continue
                    inside = geometry_mask(
                        [geom], out_shape=s.shape, transform=sino.window_transform(sub), invert=True)
                    if inside.any():
                        result.counts[district_id] += joint_counts(s[inside], m[inside])
                yield (PixelWindow(int(sub.row_off - window.row_off), int(sub.col_off - window.col_off),
                                   int(sub.height), int(sub.width)), agreement_values(s, m))

        tags = {"MCAE_COMPARE": f"{result.mcae.id} (mode onto the SinoLC-1 grid) vs {result.sinolc1.id}"}
        if result.synthetic:
            tags["MCAE_SYNTHETIC"] = "yes: made from synthetic layers"
        result.agreement_path = write_class_cog(
            agreement_path, width=int(window.width), height=int(window.height),
            transform=sino.window_transform(window), crs=sino.crs, windows=windows(),
            scheme=AGREEMENT, tags=tags)
    return result


def _on_grid(mcae: Any, sino: Any, stack: ExitStack) -> tuple[Any, bool]:
    """The MCAE dataset as read on the SinoLC-1 grid (mode), and whether it was resampled."""
    if (mcae.crs == sino.crs and mcae.transform.almost_equals(sino.transform)
            and (mcae.height, mcae.width) == (sino.height, sino.width)):
        return mcae, False
    vrt = WarpedVRT(mcae, crs=sino.crs, transform=sino.transform, width=sino.width,
                    height=sino.height, resampling=Resampling.mode,  # class ids: majority, never bilinear
                    src_nodata=mcae.nodata if mcae.nodata is not None else 0, nodata=0)
    return stack.enter_context(vrt), True


def _read(src: Any, window: Any) -> np.ndarray:
    data = np.asarray(src.read(1, window=window))
    if src.nodata is not None and src.nodata != 0:
        data[data == src.nodata] = 0
    if data.dtype != np.uint8:
        data = np.where((data < 0) | (data > 255), 0, data).astype(np.uint8)
    return data
