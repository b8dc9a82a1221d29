"""A synthetic but believable city seen from above at 0.6 m, with its reference labels.

``make_city(h, w, seed)`` returns an RGB image and MCAE labels (ids 1-8): a road
lattice (main roads 20-32 px with lane markings, cars and zebra crossings; minor roads
10-15 px), slightly rotated and warped so nothing is a perfect grid; a dense core,
residential compounds, urban villages, factories, schools, parks, construction sites
and vacant lots; fields, fish ponds and woodlots on the rural side; a meandering river
with banks and bridges. Buildings cast shadows that darken whatever lies under them
(the labels keep that class). Everything is textured with seeded noise.

The city is generated whole (``tiled.write_city`` mosaics tiles of it for larger cities): the peak memory is about
70 bytes per pixel (2048 x 2048: ~0.35 GB, ~1.5 s; 4096 x 4096: ~1.1 GB, ~10 s on a
loaded 2-core machine), so up to ~4096 x 4096 is practical. Cut tiles out of the
result if you need them. Output is fully determined by ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..classes import MCAE
from .layout import build_city
from .render import render


@dataclass
class CityScene:
    """A synthetic scene: ``image`` (3, H, W) uint8 RGB and ``labels`` (H, W) uint8."""

    image: np.ndarray
    labels: np.ndarray
    gsd: float = 0.6  # metres per pixel

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape[0], self.labels.shape[1]


def make_city(height: int, width: int, seed: int = 0) -> CityScene:
    """Generate a synthetic city of ``height`` x ``width`` pixels at 0.6 m."""
    if height < 64 or width < 64:
        raise ValueError(f"city must be at least 64 x 64 pixels, got {height} x {width}")
    rng = np.random.default_rng(seed)
    canvas = build_city((height, width), rng)
    angle = rng.uniform(-0.85, -0.2) * np.pi  # shadows point away from the sun (north-ish)
    sun = (float(np.sin(angle)), float(np.cos(angle)))
    image = render(canvas, rng, sun)
    labels = canvas.labels
    labels[labels == 0] = 3  # nothing should be unpainted; call it Developed if it is
    return CityScene(image, labels)


def describe(labels: np.ndarray) -> dict[str, float]:
    """Percentage of the labelled (non-zero) pixels in each MCAE class, by name."""
    counts = np.bincount(labels.ravel(), minlength=256)
    total = counts[1:].sum()
    return {c.name: float(100.0 * counts[c.id] / max(total, 1)) for c in MCAE}


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 picture of MCAE labels in the MCAE palette."""
    lut = np.zeros((256, 3), np.uint8)
    for k, rgba in MCAE.colormap().items():
        lut[k] = rgba[:3]
    out: np.ndarray = lut[labels]
    return out
