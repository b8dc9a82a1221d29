"""Per-mask features of one patch: colour, texture, shape, context and an optional embedding.

Every statistic is aggregated per mask id with ``np.bincount`` over the flattened label
raster, so a 1024 x 1024 patch with thousands of masks takes a fraction of a second.
Pixels where ``valid`` is False never enter a statistic, and every value is finite for
masks of any size. The column set depends only on the band names and on whether an
embedding is given, so the tables of different patches of a scene concatenate.

Column groups (``{band}`` is each band name, lower-cased):

* ``colour_{band}_{mean,std,p10,p50,p90}``: grey levels 0..255, nearest-rank percentiles;
  ``colour_luminance_{mean,std}`` (Rec. 601), ``colour_hue_{sin,cos}_mean`` (hue angle
  in the opponent-colour plane; grey pixels add 0), ``colour_saturation_mean`` and
  ``colour_value_mean`` (HSV, 0..1), ``colour_exg_mean`` ((2G - R - B) / (R + G + B)),
  ``colour_blue_ratio_mean`` (B / (R + G + B)) and, with a ``nir`` band,
  ``colour_ndvi_{mean,std}``.
* ``texture_*``: see :mod:`mcae.inference.features_texture`.
* ``shape_*``: area, log area, perimeter (Crofton, 4 directions) and axes in metres;
  compactness 4 pi A / P^2 (clipped to 1), extent (area / bounding box), axis ratio and
  eccentricity from the second moments; ``log_inscribed_radius_m`` (log1p of the largest
  distance from a mask pixel to the mask's edge: how "thick" it is, so a field's width
  is not a roof's) and ``log_major_axis_m`` (sizes on a log scale, so a field tens of
  times larger than any roof is not an extreme input to the classifier).
* ``context_{band}_mean``: mean colour of the neighbouring masks weighted by shared
  border length (the mask's own colour when it has none), ``context_luminance_contrast``
  (own minus context luminance), ``context_n_neighbours``, ``context_edge_fraction``
  (share of the border on the patch edge or no-data).
* ``sam_{i}``: the embedding, when given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from mcae.inference.features_texture import TEXTURE_NAMES, LabelStats, texture_features

FEATURE_VERSION = "2"  # 2: multi-scale texture, coherence, inscribed radius

_PERCENTILES = (10, 50, 90)
_BAND_STATS = ("mean", "std", *(f"p{q}" for q in _PERCENTILES))
_DERIVED = ("luminance_mean", "luminance_std", "hue_sin_mean", "hue_cos_mean",
            "saturation_mean", "value_mean", "exg_mean", "blue_ratio_mean")
_NDVI = ("ndvi_mean", "ndvi_std")
_SHAPE = ("area_m2", "log_area_m2", "perimeter_m", "compactness", "extent",
          "major_axis_m", "minor_axis_m", "axis_ratio", "eccentricity",
          "log_inscribed_radius_m", "log_major_axis_m")
_CONTEXT = ("luminance_contrast", "n_neighbours", "edge_fraction")
_LUMA = (0.299, 0.587, 0.114)


def feature_names(band_names: tuple[str, ...] | list[str],
                  embedding_dim: int | None = None) -> list[str]:
    """The columns :func:`compute_features` returns, in order."""
    bands = [b.lower() for b in band_names]
    names = [f"colour_{b}_{s}" for b in bands for s in _BAND_STATS]
    names += [f"colour_{d}" for d in _DERIVED]
    if "nir" in bands:
        names += [f"colour_{d}" for d in _NDVI]
    names += TEXTURE_NAMES
    names += [f"shape_{s}" for s in _SHAPE]
    names += [f"context_{b}_mean" for b in bands] + [f"context_{c}" for c in _CONTEXT]
    if embedding_dim is not None:
        names += [f"sam_{i}" for i in range(embedding_dim)]
    return names


def compute_features(image: np.ndarray, valid: np.ndarray, labels: np.ndarray, *,
                     band_names: tuple[str, ...], gsd: float,
                     embedding: np.ndarray | None = None) -> pd.DataFrame:
    """Features of masks 1..N of ``labels``: one float32 row per mask, indexed by ``mask_id``.

    ``image`` is uint8 ``(bands, h, w)`` with red, green, blue (found by name, else the
    first three) and optionally ``nir``; ``gsd`` is metres per pixel; ``embedding`` is
    ``(N, D)``, row i for mask i + 1.
    """
    bands = _check(image, valid, labels, band_names, gsd)
    n = int(labels.max(initial=0))
    if embedding is not None and (embedding.ndim != 2 or embedding.shape[0] != n):
        raise ValueError(f"embedding must be (N={n}, D), got {embedding.shape}")
    valid = valid.astype(bool, copy=False)
    lab = np.where(valid, labels, 0).astype(np.intp)
    stats = LabelStats(lab, n)
    red, green, blue = (image[i].astype(np.float32) for i in _rgb_index(bands))
    lum = _LUMA[0] * red + _LUMA[1] * green + _LUMA[2] * blue

    cols, band_means = _colour(image, bands, stats)
    cols.update(_derived_colour(red, green, blue, lum, stats))
    if "nir" in bands:
        nir = image[bands.index("nir")].astype(np.float32)
        ndvi = _ratio(nir - red, nir + red, 0.0)
        cols["colour_ndvi_mean"], cols["colour_ndvi_std"] = stats.mean_std(ndvi)
    cols.update(texture_features(lum, valid, lab, n))
    cols.update(_shape_context(lab, n, gsd, stats, bands, band_means,
                               cols["colour_luminance_mean"]))
    if embedding is not None:
        cols.update({f"sam_{i}": embedding[:, i] for i in range(embedding.shape[1])})
    names = feature_names(band_names, None if embedding is None else embedding.shape[1])
    index = pd.Index(np.arange(1, n + 1, dtype=np.int32), name="mask_id")
    data = {name: np.asarray(cols[name], dtype=np.float32) for name in names}
    return pd.DataFrame(data, index=index, columns=names)


def _check(image: np.ndarray, valid: np.ndarray, labels: np.ndarray,
           band_names: tuple[str, ...], gsd: float) -> list[str]:
    """Validate the inputs; return the lower-cased band names."""
    bands = [b.lower() for b in band_names]
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (bands, h, w), got {image.dtype} {image.shape}")
    if len(bands) != image.shape[0] or len(set(bands)) != len(bands) or len(bands) < 3:
        raise ValueError(f"band_names {band_names} do not fit {image.shape[0]} bands")
    if valid.shape != image.shape[1:] or labels.shape != image.shape[1:]:
        raise ValueError("image, valid and labels must share (h, w)")
    if labels.size and labels.min() < 0:
        raise ValueError("labels must be >= 0")
    if not gsd > 0:
        raise ValueError(f"gsd must be positive, got {gsd}")
    return bands


def _rgb_index(bands: list[str]) -> tuple[int, int, int]:
    if {"red", "green", "blue"} <= set(bands):
        return bands.index("red"), bands.index("green"), bands.index("blue")
    return 0, 1, 2


def _ratio(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """``num / den`` with ``fill`` where ``den`` is 0."""
    out = np.full(num.shape, fill, np.float32)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _colour(image: np.ndarray, bands: list[str],
            stats: LabelStats) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mean, std and percentiles of every band, exact from per-label histograms."""
    levels = np.arange(256, dtype=np.float64)
    cols: dict[str, np.ndarray] = {}
    means = np.zeros((len(bands), stats.n))
    for k, (name, band) in enumerate(zip(bands, image, strict=True)):
        hist = stats.histogram(band, 256)
        mean = hist @ levels / stats.safe_count
        var = hist @ (levels * levels) / stats.safe_count - mean * mean
        cdf = np.cumsum(hist, axis=1)
        cols[f"colour_{name}_mean"] = means[k] = mean
        cols[f"colour_{name}_std"] = np.sqrt(np.clip(var, 0.0, None))
        for q in _PERCENTILES:
            # nearest rank: the first level whose cumulative count reaches q % of the mask
            cols[f"colour_{name}_p{q}"] = (cdf < stats.count[:, None] * (q / 100)).sum(axis=1)
    return cols, means


def _derived_colour(red: np.ndarray, green: np.ndarray, blue: np.ndarray, lum: np.ndarray,
                    stats: LabelStats) -> dict[str, np.ndarray]:
    """Luminance, circular hue, HSV saturation / value and band-ratio indices."""
    total = red + green + blue
    high = np.maximum(np.maximum(red, green), blue)
    low = np.minimum(np.minimum(red, green), blue)
    alpha = red - 0.5 * (green + blue)
    beta = np.float32(np.sqrt(3) / 2) * (green - blue)
    chroma = np.hypot(alpha, beta)
    cols = dict(zip(("colour_luminance_mean", "colour_luminance_std"),
                    stats.mean_std(lum), strict=True))
    cols["colour_hue_sin_mean"] = stats.mean(_ratio(beta, chroma, 0.0))
    cols["colour_hue_cos_mean"] = stats.mean(_ratio(alpha, chroma, 0.0))
    cols["colour_saturation_mean"] = stats.mean(_ratio(high - low, high, 0.0))
    cols["colour_value_mean"] = stats.mean(high) / 255.0
    cols["colour_exg_mean"] = stats.mean(_ratio(2 * green - red - blue, total, 0.0))
    cols["colour_blue_ratio_mean"] = stats.mean(_ratio(blue, total, 1 / 3))
    return cols


def _inscribed_radius(labels: np.ndarray, n: int) -> np.ndarray:
    """Per mask, the largest distance (px) from one of its pixels to another label or the edge."""
    padded = np.pad(labels, 1)
    edge = np.zeros(padded.shape, bool)
    for axis in (0, 1):
        diff = np.diff(padded, axis=axis) != 0
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        edge[tuple(lo)] |= diff
        edge[tuple(hi)] |= diff
    dist = ndimage.distance_transform_edt(~edge)[1:-1, 1:-1]
    if n == 0:
        return np.zeros(0)
    radius = ndimage.maximum(dist, labels, index=np.arange(1, n + 1))
    return np.maximum(np.nan_to_num(np.asarray(radius, np.float64)), 0.5)


def _boundary_pairs(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Differing label pairs of the zero-padded raster: across, down and both diagonals."""
    lp = np.pad(labels, 1)
    pairs = []
    for a, b in ((lp[:, :-1], lp[:, 1:]), (lp[:-1, :], lp[1:, :]),
                 (lp[:-1, :-1], lp[1:, 1:]), (lp[:-1, 1:], lp[1:, :-1])):
        differ = a != b
        pairs.append((a[differ], b[differ]))
    return pairs


def _shape_context(labels: np.ndarray, n: int, gsd: float, stats: LabelStats,
                   bands: list[str], band_means: np.ndarray,
                   lum_mean: np.ndarray) -> dict[str, np.ndarray]:
    """Shape from moments and boundary crossings; context from the 4-adjacency graph."""
    pairs = _boundary_pairs(labels)
    crossings = [np.bincount(np.concatenate(p), minlength=n + 1)[1:] for p in pairs]
    perimeter = np.pi / 8 * (crossings[0] + crossings[1]
                             + (crossings[2] + crossings[3]) / np.sqrt(2))
    area = stats.count
    cols = {
        "shape_area_m2": area * gsd**2,
        "shape_log_area_m2": np.log1p(area * gsd**2),
        "shape_perimeter_m": perimeter * gsd,
        "shape_compactness": np.minimum(4 * np.pi * area / np.maximum(perimeter, 1e-9)**2, 1.0),
    }
    boxes = ndimage.find_objects(labels, max_label=n)
    box_area = np.array([(b[0].stop - b[0].start) * (b[1].stop - b[1].start) if b else 0
                         for b in boxes], np.float64)
    cols["shape_extent"] = area / np.maximum(box_area, 1.0)

    grid = np.indices(labels.shape, dtype=np.float64)
    rows, columns = grid[0], grid[1]
    mr, mc = stats.mean(rows), stats.mean(columns)
    # central second moments; + 1/12 is the spread of a unit pixel, so 1-pixel masks work
    mu20 = stats.mean(rows * rows) - mr * mr + 1 / 12
    mu02 = stats.mean(columns * columns) - mc * mc + 1 / 12
    mu11 = stats.mean(rows * columns) - mr * mc
    half = np.sqrt(((mu20 - mu02) / 2) ** 2 + mu11**2)
    major = np.maximum((mu20 + mu02) / 2 + half, 1 / 12)
    minor = np.clip((mu20 + mu02) / 2 - half, 0.0, major)
    cols["shape_major_axis_m"] = 4 * np.sqrt(major) * gsd
    cols["shape_minor_axis_m"] = 4 * np.sqrt(minor) * gsd
    cols["shape_axis_ratio"] = np.sqrt(minor / major)
    cols["shape_eccentricity"] = np.sqrt(1 - minor / major)
    cols["shape_log_major_axis_m"] = np.log1p(cols["shape_major_axis_m"])
    cols["shape_log_inscribed_radius_m"] = np.log1p(_inscribed_radius(labels, n) * gsd)

    # context over 4-adjacency: crossings to label 0 are the patch edge or no-data
    a = np.concatenate([pairs[0][0], pairs[1][0]])
    b = np.concatenate([pairs[0][1], pairs[1][1]])
    edge = np.bincount(np.concatenate([a[b == 0], b[a == 0]]), minlength=n + 1)[1:]
    cols["context_edge_fraction"] = edge / np.maximum(crossings[0] + crossings[1], 1)
    inside = (a > 0) & (b > 0)
    keys = np.concatenate([a[inside] * (n + 1) + b[inside], b[inside] * (n + 1) + a[inside]])
    keys, length = np.unique(keys, return_counts=True)
    own, other = keys // (n + 1), keys % (n + 1)
    weight = np.bincount(own, weights=length, minlength=n + 1)[1:]
    has = weight > 0
    safe = np.maximum(weight, 1.0)
    cols["context_n_neighbours"] = np.bincount(own, minlength=n + 1)[1:]

    def context_of(values: np.ndarray) -> np.ndarray:
        around = np.bincount(own, weights=length * values[other - 1], minlength=n + 1)[1:]
        return np.where(has, around / safe, values)

    for name, mean in zip(bands, band_means, strict=True):
        cols[f"context_{name}_mean"] = context_of(mean)
    cols["context_luminance_contrast"] = lum_mean - context_of(lum_mean)
    return cols
