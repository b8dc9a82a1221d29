"""The embedded mask generator: scikit-image superpixels tuned for 0.6 m imagery.

Used when no Segment Anything checkpoint is given. Felzenszwalb's graph
segmentation follows object edges (roofs, roads, tree crowns) and is fast enough
for whole cities on a CPU; SLIC is available for more regular masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.segmentation import felzenszwalb, slic

from mcae.inference.masks import register_generator
from mcae.inference.masks.base import (
    MaskGenerator,
    MaskResult,
    PixelWindow,
    SceneReader,
    records_from_labels,
)
from mcae.inference.masks.cleanup import connected_masks


class SuperpixelMaskGenerator(MaskGenerator):
    """Superpixel masks for one patch (``method``: ``felzenszwalb`` or ``slic``)."""

    name = "superpixel"

    def __init__(self, method: str = "felzenszwalb", scale: float = 150.0, sigma: float = 0.8,
                 min_size: int = 60, n_segments: int = 1500, compactness: float = 10.0) -> None:
        if method not in ("felzenszwalb", "slic"):
            raise ValueError(f"unknown superpixel method {method!r}: felzenszwalb or slic")
        self.method = method
        self.scale = scale
        self.sigma = sigma
        self.min_size = min_size
        self.n_segments = n_segments
        self.compactness = compactness

    def settings(self) -> dict[str, Any]:
        common = {"generator": self.name, "method": self.method, "sigma": self.sigma}
        if self.method == "felzenszwalb":
            return {**common, "scale": self.scale, "min_size": self.min_size}
        return {**common, "n_segments": self.n_segments, "compactness": self.compactness}

    def generate(self, scene: SceneReader, window: PixelWindow) -> MaskResult:
        image, valid = scene.read(window)
        if not valid.any():
            labels = np.zeros(valid.shape, np.int32)
            return MaskResult(labels, records_from_labels(labels))
        rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))  # skip padding
        rgb = np.moveaxis(image[(slice(0, 3), *box)], 0, -1)
        raw = np.zeros(valid.shape, np.int64)
        if self.method == "felzenszwalb":
            raw[box] = felzenszwalb(rgb, scale=self.scale, sigma=self.sigma,
                                    min_size=self.min_size) + 1
        else:
            raw[box] = slic(rgb, n_segments=self.n_segments, compactness=self.compactness,
                            sigma=self.sigma, start_label=1, mask=valid[box])
        labels = connected_masks(raw, valid, min_area=max(self.min_size // 2, 1))
        return MaskResult(labels, records_from_labels(labels, sources=self.name))


@register_generator("superpixel")
def build_superpixel(**options: Any) -> MaskGenerator:
    """Builder registered as ``superpixel`` (options: see :class:`SuperpixelMaskGenerator`)."""
    return SuperpixelMaskGenerator(**options)
