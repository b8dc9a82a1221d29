"""Per-label aggregation over a label raster, and the texture features of the masks.

Texture is measured on luminance over a mask's *interior*: the pixels whose 3 x 3
neighbourhood lies wholly inside the mask, so edges against neighbours, no-data and
the patch border do not count as texture. A mask without interior pixels (thin or
tiny) falls back to all of its pixels, with no-data filled from the nearest valid one.
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
