"""Synthetic maps with a full reference for the assessment tests (small, seeded, numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

# UTM 50N, near Beijing: a projected map at 0.6 m, like the demo's
CRS = "EPSG:32650"
ORIGIN = (440_000.0, 4_420_000.0)


def write_classes(path: Path, values: np.ndarray, gsd: float = 0.6, block: int = 64) -> Path:
    profile = {"driver": "GTiff", "height": values.shape[0], "width": values.shape[1], "count": 1,
               "dtype": "uint8", "crs": CRS, "transform": from_origin(*ORIGIN, gsd, gsd), "nodata": 0,
               "tiled": True, "blockxsize": block, "blockysize": block, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype(np.uint8), 1)
    return path


def blob_truth(size: int, seed: int) -> np.ndarray:
    """Five classes in square blobs, class 5 rare (about 2 %)."""
    rng = np.random.default_rng(seed)
    cells = rng.choice([1, 2, 3, 4], p=[0.45, 0.3, 0.15, 0.1], size=(size // 8, size // 8))
    truth = np.kron(cells, np.ones((8, 8), dtype=np.int64))
    rare = rng.random(cells.shape) < 0.02
    truth[np.kron(rare, np.ones((8, 8), dtype=bool))] = 5
    return truth.astype(np.uint8)


def noisy_map(truth: np.ndarray, seed: int, error: dict[int, float]) -> np.ndarray:
    """The truth with a class-dependent share of pixels (in 4x4 clumps) given another of its classes."""
    rng = np.random.default_rng(seed + 1000)
    h, w = truth.shape
    clump = np.kron(rng.random((h // 4, w // 4)), np.ones((4, 4)))
    present = np.unique(truth[truth > 0])
    other = np.kron(rng.choice(present, size=(h // 4, w // 4)), np.ones((4, 4), dtype=np.int64))
    rate = np.vectorize(lambda c: error.get(int(c), 0.1))(truth)
    wrong = (clump < rate) & (other != truth)
    out = truth.copy()
    out[wrong] = other[wrong]
    return out.astype(np.uint8)
