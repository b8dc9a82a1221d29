"""Shared fixtures: small seeded rasters made here, and the optional ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.scenes import blocky_scene, write_tif

# fixtures shared by several test modules, registered here and only here (the one way), so
# that session-scoped ones (a browser, a PostgreSQL cluster, the annotation test project) are
# made once per session; test modules import only plain names from these modules
pytest_plugins = ["web_fixtures", "annotation_fixtures", "downloads_fixtures"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MCAE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real imagery of ../shared/data; tests using it skip when it is absent."""
    if not (SHARED_DATA / "imagery").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def scene_files(tmp_path: Path) -> tuple[Path, Path]:
    """A georeferenced 0.6 m RGB scene and its reference labels, on disk."""
    image, labels = blocky_scene(160, 200, seed=3, objects=90)
    return write_tif(tmp_path / "scene.tif", image), write_tif(tmp_path / "labels.tif", labels)
