"""Small seeded rasters for tests and benchmarks: a blocky RGB scene with its labels, and a
GeoTIFF writer (``import benchmarks.scenes``; the repository root is on ``sys.path`` under
pytest, see ``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS


def blocky_scene(height: int = 96, width: int = 128, seed: int = 0,
                 objects: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A small RGB scene of rectangles of a few classes, with noise, and its labels."""
    rng = np.random.default_rng(seed)
    colours = {3: (150, 150, 150), 5: (40, 100, 40), 6: (20, 60, 200), 8: (200, 40, 20)}
    labels = np.full((height, width), 3, np.uint8)
    for _ in range(objects):
        cls = int(rng.choice([5, 6, 8]))
        r, c = rng.integers(0, height - 12), rng.integers(0, width - 12)
        h, w = rng.integers(6, 24), rng.integers(6, 24)
        labels[r:r + h, c:c + w] = cls
    image = np.zeros((3, height, width), np.float64)
    for cls, rgb in colours.items():
        for band in range(3):
            image[band][labels == cls] = rgb[band]
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), labels


def write_tif(path: Path, data: np.ndarray, *, crs: str | None = "EPSG:32650",
              transform: Affine | None = None, **extra: object) -> Path:
    """Write ``data`` (bands x h x w or h x w) as a GeoTIFF."""
    data = data[None] if data.ndim == 2 else data
    profile = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1],
               "count": data.shape[0], "dtype": data.dtype.name,
               "crs": CRS.from_string(crs) if crs else None,
               "transform": transform or Affine(0.6, 0, 668000, 0, -0.6, 3550000), **extra}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path
