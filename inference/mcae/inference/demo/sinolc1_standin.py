"""A stand-in for the SinoLC-1 product over a synthetic city (same grid as the labels).

SinoLC-1 is a ~1 m CNN product with OpenStreetMap roads burnt in, so compared with a
0.6 m reference it is coarse and blobby and makes typical confusions. This module
fakes that from the reference MCAE labels, deterministically for a seed:

* Building blobs swallow their yards: Developed within ~8 px of a building becomes
  Building; other Developed becomes Building or Barren (in blobs).
* Roads are re-drawn from their centrelines (skeleton, shifted a few pixels like a
  misregistered OSM layer) at one fixed width, so narrow roads come out too wide and
  wide roads too narrow; the road area they no longer cover takes the nearest class.
* Some Tree becomes Shrubland, Rangeland becomes Grassland (partly Shrubland or
  Cropland), Bareland becomes Barren (partly Grassland), a little Agriculture becomes
  Grassland, water edges become Wetland.
* A mode filter (``smooth`` px, default 7) makes the map blobby, like a 1 m CNN output.

The caller reprojects the result to the 1 m SinoLC-1 grid if it needs to.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from .render import value_noise

# SinoLC-1 values (see mcae.inference.classes.SINOLC1).
TRAFFIC, TREE_COVER, SHRUB, GRASS, CROP, BUILDING, BARREN, WATER, WETLAND = (
    1, 2, 3, 4, 5, 6, 7, 9, 10)
SINOLC1_VALUES = (TRAFFIC, TREE_COVER, SHRUB, GRASS, CROP, BUILDING, BARREN, WATER, WETLAND)

# MCAE id -> SinoLC-1 value before the confusions (9 Others -> Barren).
_BASE = np.zeros(256, np.uint8)
_BASE[[1, 2, 3, 4, 5, 6, 7, 8, 9]] = [BARREN, GRASS, BUILDING, TRAFFIC, TREE_COVER, WATER,
                                      CROP, BUILDING, BARREN]


def sinolc1_standin(labels: np.ndarray, seed: int = 0, road_width: int = 19,
                    yard_px: int = 8, smooth: int = 7) -> np.ndarray:
    """Reference MCAE labels recoded to SinoLC-1 values with SinoLC-1-like errors (uint8)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    rng = np.random.default_rng(seed)
    out = _BASE[labels]
    _confuse(out, labels, rng, yard_px)
    road = labels == 4
    _fill_from_nearest(out, road)
    out = mode_filter(out, smooth)
    _wetland_edges(out)
    out[_osm_roads(road, road_width, rng)] = TRAFFIC
    out[labels == 0] = 0
    return out


def _confuse(out: np.ndarray, labels: np.ndarray, rng: np.random.Generator, yard_px: int) -> None:
    """Class confusions in blobs of a few tens of pixels."""
    shape = labels.shape
    scale = max(8.0, min(48.0, min(shape) / 8))
    n1 = value_noise(shape, scale, rng)
    n2 = value_noise(shape, scale * 1.5, rng)
    developed = labels == 3
    out[developed & (n2 < -0.3)] = BARREN
    yards = ndi.maximum_filter(labels == 8, size=2 * yard_px + 1) & developed
    out[yards] = BUILDING
    out[(labels == 5) & (n1 > 0.8)] = SHRUB
    out[(labels == 2) & (n1 > 1.0)] = SHRUB
    out[(labels == 2) & (n2 > 1.1)] = CROP
    out[(labels == 1) & (n1 < -0.7)] = GRASS
    out[(labels == 7) & (n2 < -1.3)] = GRASS


def _fill_from_nearest(out: np.ndarray, hole: np.ndarray) -> None:
    """Give every pixel of ``hole`` the value of its nearest pixel outside it."""
    if not hole.any() or hole.all():
        return
    idx = ndi.distance_transform_edt(hole, return_distances=False, return_indices=True)
    out[hole] = out[idx[0][hole], idx[1][hole]]


def mode_filter(values: np.ndarray, size: int) -> np.ndarray:
    """Majority of each ``size`` x ``size`` window (ties go to the lower value)."""
    if size <= 1:
        return values.copy()
    best = np.zeros(values.shape, np.float32)
    out = values.copy()
    for v in np.unique(values):
        count = ndi.uniform_filter((values == v).astype(np.float32), size, mode="nearest")
        better = count > best + 1e-4
        out[better] = v
        best[better] = count[better]
    return out


def _wetland_edges(out: np.ndarray, width: int = 4) -> None:
    """Water within ``width`` px of the shore becomes Wetland."""
    water = out == WATER
    core = ndi.minimum_filter(water, size=2 * width + 1, mode="nearest")
    out[water & ~core] = WETLAND


def _osm_roads(road: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    """Road centrelines, shifted by up to 3 px, re-drawn at a constant width."""
    if not road.any():
        return road
    centre = skeletonize(road)
    dy, dx = (int(v) for v in rng.integers(-3, 4, 2))
    h, w = centre.shape
    moved = np.zeros_like(centre)
    moved[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        centre[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    centre = moved
    dist = ndi.distance_transform_edt(~centre)
    drawn: np.ndarray = dist <= width / 2
    return drawn
