"""Per-label aggregation over a label raster, and the texture features of the masks.

Texture is measured on luminance over a mask's *interior*: the pixels whose 3 x 3
neighbourhood lies wholly inside the mask, so edges against neighbours, no-data and
the patch border do not count as texture. A mask without interior pixels (thin or
tiny) falls back to all of its pixels, with no-data filled from the nearest valid one.

Texture is measured at several scales, so a field (furrows and tracks metres apart, a
faint gradient over tens of metres) is told from a roof (flat, or sharp small features
such as skylights and panels): gradients of the luminance smoothed at 1, 2 and 4 px, the
local deviation in 3, 9 and 25 px windows, and the coherence of the mask's structure
tensor (1 for parallel lines such as furrows, 0 for no preferred direction).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import local_binary_pattern

LBP_BINS = 10  # "uniform" codes of P = 8 neighbours: 0..8 and one bin for the rest
TEXTURE_NAMES = (
    "texture_gradient_mean",  # Sobel magnitude of luminance / 8: grey levels per pixel
    "texture_gradient_std",
    "texture_local_std_mean",  # standard deviation of luminance in the 3 x 3 window
    *(f"texture_lbp_{i}" for i in range(LBP_BINS)),  # normalised LBP histogram
    "texture_gradient_s2_mean",  # Gaussian gradient magnitude at sigma 2 px (grey levels/px)
    "texture_gradient_s4_mean",  # ... at sigma 4 px
    "texture_local_std9_mean",  # standard deviation of luminance in the 9 x 9 window
    "texture_local_std25_mean",  # ... in the 25 x 25 window
    "texture_coherence",  # (l1 - l2) / (l1 + l2) of the mask's summed structure tensor
    "texture_scale_ratio",  # coarse (25 px) over fine (3 px) local deviation
)


class LabelStats:
    """Sums, means and standard deviations of pixel values per label 1..n."""

    def __init__(self, labels: np.ndarray, n: int) -> None:
        self.flat = labels.ravel().astype(np.intp, copy=False)
        self.n = n
        self.count = np.bincount(self.flat, minlength=n + 1)[1:].astype(np.float64)
        self.safe_count = np.maximum(self.count, 1.0)

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.flat, weights=values.ravel(), minlength=self.n + 1)[1:]

    def mean(self, values: np.ndarray) -> np.ndarray:
        return self.sum(values) / self.safe_count

    def mean_std(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = values.astype(np.float64, copy=False)
        mean = self.mean(values)
        var = self.mean(values * values) - mean * mean
        return mean, np.sqrt(np.clip(var, 0.0, None))

    def histogram(self, codes: np.ndarray, bins: int) -> np.ndarray:
        """Counts ``(n, bins)`` of the integer ``codes`` (0..bins-1) per label."""
        keys = self.flat * bins + codes.ravel().astype(np.intp, copy=False)
        return np.bincount(keys, minlength=(self.n + 1) * bins).reshape(self.n + 1, bins)[1:]


def texture_features(lum: np.ndarray, valid: np.ndarray, labels: np.ndarray,
                     n: int) -> dict[str, np.ndarray]:
    """Gradient, local deviation and LBP histogram per mask, from float luminance."""
    lum = _fill_invalid(lum.astype(np.float64), valid)
    stats = LabelStats(_texture_pixels(labels, n), n)
    grad = np.hypot(ndimage.sobel(lum, 0, mode="nearest"),
                    ndimage.sobel(lum, 1, mode="nearest")) / 8.0
    grad_mean, grad_std = stats.mean_std(grad)
    local_mean = ndimage.uniform_filter(lum, 3, mode="nearest")
    local_sq = ndimage.uniform_filter(lum * lum, 3, mode="nearest")
    local_std = np.sqrt(np.clip(local_sq - local_mean * local_mean, 0.0, None))
    codes = local_binary_pattern(np.rint(lum).astype(np.uint8), 8, 1, "uniform")
    hist = stats.histogram(codes.astype(np.intp), LBP_BINS).astype(np.float64)
    hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1.0)
    out = {
        "texture_gradient_mean": grad_mean,
        "texture_gradient_std": grad_std,
        "texture_local_std_mean": stats.mean(local_std),
    }
    out.update({f"texture_lbp_{i}": hist[:, i] for i in range(LBP_BINS)})
    out.update(_multiscale(lum, stats, fine_std=out["texture_local_std_mean"]))
    return out


def _local_std(lum: np.ndarray, size: int) -> np.ndarray:
    mean = ndimage.uniform_filter(lum, size, mode="nearest")
    sq = ndimage.uniform_filter(lum * lum, size, mode="nearest")
    return np.sqrt(np.clip(sq - mean * mean, 0.0, None))


def _multiscale(lum: np.ndarray, stats: LabelStats, fine_std: np.ndarray) -> dict[str, np.ndarray]:
    """Coarser gradients and deviations, and the orientation coherence, per mask."""
    out = {
        "texture_gradient_s2_mean": stats.mean(ndimage.gaussian_gradient_magnitude(lum, 2.0)),
        "texture_gradient_s4_mean": stats.mean(ndimage.gaussian_gradient_magnitude(lum, 4.0)),
        "texture_local_std9_mean": stats.mean(_local_std(lum, 9)),
        "texture_local_std25_mean": stats.mean(_local_std(lum, 25)),
    }
    gy = ndimage.gaussian_filter(lum, 1.0, order=(1, 0))
    gx = ndimage.gaussian_filter(lum, 1.0, order=(0, 1))
    jxx, jyy, jxy = stats.sum(gx * gx), stats.sum(gy * gy), stats.sum(gx * gy)
    trace = jxx + jyy
    spread = np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy)
    out["texture_coherence"] = np.divide(spread, trace, out=np.zeros_like(trace), where=trace > 1e-9)
    out["texture_scale_ratio"] = np.log1p(out["texture_local_std25_mean"]) - np.log1p(fine_std)
    return out


def _texture_pixels(labels: np.ndarray, n: int) -> np.ndarray:
    """Labels restricted to interior pixels, or to all pixels of masks without any."""
    low = ndimage.minimum_filter(labels, 3, mode="constant", cval=0)
    high = ndimage.maximum_filter(labels, 3, mode="constant", cval=0)
    inner = (low == high) & (labels > 0)
    has_inner = np.bincount(labels[inner], minlength=n + 1) > 0
    has_inner[0] = True  # keeps no-data out of the fallback
    return np.where(inner | ~has_inner[labels], labels, 0)


def _fill_invalid(lum: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace no-data pixels by their nearest valid pixel (so no-data values never leak)."""
    if valid.all():
        return lum
    if not valid.any():
        return np.zeros_like(lum)
    index = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    return lum[tuple(index)]
