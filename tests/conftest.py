"""Shared fixtures: small seeded rasters made here, and the optional ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

# fixtures shared by several test modules, registered once so that session-scoped ones (a
# browser, a PostgreSQL cluster, the annotation test project) are made once per session
pytest_plugins = ["web_fixtures", "annotation_fixtures"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MCAE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real imagery of ../shared/data; tests using it skip when it is absent."""
    if not (SHARED_DATA / "imagery").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


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


@pytest.fixture
def scene_files(tmp_path: Path) -> tuple[Path, Path]:
    """A georeferenced 0.6 m RGB scene and its reference labels, on disk."""
    image, labels = blocky_scene(160, 200, seed=3, objects=90)
    return write_tif(tmp_path / "scene.tif", image), write_tif(tmp_path / "labels.tif", labels)
