"""The ``segment`` step: patch grid, masks and features of every patch.

Each patch is one independent task: read its window, cut it into masks, describe
the masks, write ``patches/<id>.tif`` (mask ids) and ``patches/<id>.parquet``
(records and features). Patches already done with the same settings are skipped,
so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio

from mcae.inference.atomic import atomic_path, remove_stale_temps, write_parquet_stream
from mcae.inference.compute import Executor
from mcae.inference.errors import InputError
from mcae.inference.features import FEATURE_VERSION, compute_features
from mcae.inference.grid import Patch, PatchGrid
from mcae.inference.imagery import RasterScene, SceneInfo, inspect_image
from mcae.inference.masks import MaskGenerator, get_generator
from mcae.inference.project import Project


@dataclass
class SegmentOptions:
    """What ``mcae segment`` does with an image."""

    gsd: float | None = None  # of the input, only for images without georeferencing
    target_gsd: float = 0.6
    patch_size: int = 1024
    overlap: int = 0
    neighbourhood: int = 3
    generator: str = "superpixel"
    generator_options: dict[str, Any] = field(default_factory=dict)
    band_names: list[str] | None = None


def prepare_project(image: str | Path, project_dir: str | Path,
                    options: SegmentOptions) -> Project:
    """Validate the image (before anything is written) and create the project."""
    info = inspect_image(image, gsd=options.gsd, target_gsd=options.target_gsd,
                         band_names=options.band_names)
    grid = PatchGrid(info.height, info.width, options.patch_size, options.overlap,
                     options.neighbourhood)
    try:
        generator = build_generator(options.generator, _freeze(options.generator_options))
    except (TypeError, KeyError) as exc:
        raise InputError(f"mask generator {options.generator!r}: {str(exc).strip(chr(39))}") from None
    spec = {"name": options.generator, "options": options.generator_options,
            "settings": generator.settings()}
    return Project.create(project_dir, info, grid, spec, FEATURE_VERSION)


@contextlib.contextmanager
def discard_new_project(project_dir: str | Path) -> Iterator[None]:
    """On an :class:`InputError`, remove what a first run wrote into ``project_dir``.

    A folder that already held a project keeps everything (its finished patches resume);
    an interrupted or killed run keeps its patches too.
    """
    root = Path(project_dir)
    existed = root.exists()
    if (root / "project.json").exists():
        yield
        return
    before = set(root.iterdir()) if root.is_dir() else set()
    try:
        yield
    except InputError:
        if not existed:
            shutil.rmtree(root, ignore_errors=True)
        elif root.is_dir():
            for entry in set(root.iterdir()) - before:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


def segment_patches(project: Project, run: Executor) -> int:
    """Masks and features for every patch, and the mask index (``masks.parquet``, written patch
    by patch: memory is a few patches' rows, not the city's); returns the number of masks."""
    grid, info = project.grid, project.scene_info
    spec = project.manifest["generator"]
    for folder in (project.root, project.patches_dir):  # a killed run's half-written files
        remove_stale_temps(folder)
    todo = [p for p in grid.patches() if not _done(project, p, spec)]
    args = {"root": str(project.root), "info": info, "name": spec["name"],
            "options": _freeze(spec["options"]), "stamp": _stamp(spec)}
    if todo:
        run.map(process_patch, todo, f"masks and features ({spec['name']})", **args)
    return write_parquet_stream(project.masks_path, mask_index_parts(project, grid), INDEX_COLUMNS)


def process_patch(patch: Patch, *, root: str, info: SceneInfo, name: str,
                  options: tuple[tuple[str, Any], ...], stamp: str) -> int:
    """One patch, start to finish (runs on a Dask worker). Returns its mask count."""
    project = Project(root, {})
    scene = RasterScene(info)
    result = build_generator(name, options).generate(scene, patch.window)
    image, valid = scene.read(patch.window)
    scene.close()
    features = compute_features(image, valid, result.labels, band_names=tuple(info.band_names),
                                gsd=info.gsd, embedding=result.embedding)
    table = result.records.copy()
    table.insert(0, "patch", patch.id)
    table.insert(2, "neighbourhood", patch.neighbourhood)
    table["core_area"] = _core_area(result.labels, patch)
    table = pd.concat([table.reset_index(drop=True),
                       features.drop(columns=["mask_id"], errors="ignore").reset_index(drop=True)],
                      axis=1)
    _write_mask_raster(project.patch_raster(patch.id), result.labels, info, patch)
    _write_table(project.patch_table(patch.id), table, stamp)
    return len(table)


INDEX_COLUMNS = ["patch", "mask_id", "neighbourhood", "area", "core_area", "row0", "col0",
                 "row1", "col1", "score", "stability", "source"]


def mask_index_parts(project: Project, grid: PatchGrid, patches_a_part: int = 64) -> Iterator[pd.DataFrame]:
    """The small per-mask table of the scene (no features), ``patches_a_part`` patches at a time."""
    patches = list(grid.patches())
    for start in range(0, len(patches), patches_a_part):
        yield pd.concat([pd.read_parquet(project.patch_table(p.id), columns=INDEX_COLUMNS)
                         for p in patches[start:start + patches_a_part]], ignore_index=True)


def read_patch_tables(project: Project, patch_ids: list[str]) -> pd.DataFrame:
    """Records and features of some patches (all columns)."""
    return pd.concat([pd.read_parquet(project.patch_table(pid)) for pid in patch_ids],
                     ignore_index=True)


def feature_columns(table: pd.DataFrame) -> list[str]:
    skip = set(INDEX_COLUMNS)
    return [c for c in table.columns if c not in skip]


def read_mask_raster(project: Project, patch_id: str) -> np.ndarray:
    with rasterio.open(project.patch_raster(patch_id)) as src:
        return np.asarray(src.read(1), dtype=np.int32)


@lru_cache(maxsize=4)
def build_generator(name: str, options: tuple[tuple[str, Any], ...]) -> MaskGenerator:
    """One generator per process and setting (a SAM model loads once per worker)."""
    return get_generator(name, **dict(options))


def _freeze(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, str(v) if isinstance(v, Path) else v) for k, v in options.items()))


def _core_area(labels: np.ndarray, patch: Patch) -> np.ndarray:
    r0 = patch.core.row_off - patch.window.row_off
    c0 = patch.core.col_off - patch.window.col_off
    core = labels[r0:r0 + patch.core.height, c0:c0 + patch.core.width]
    n = int(labels.max()) if labels.size else 0
    return np.bincount(core.ravel(), minlength=n + 1)[1:].astype(np.int64)


def _write_mask_raster(path: Path, labels: np.ndarray, info: SceneInfo, patch: Patch) -> None:
    profile = {"driver": "GTiff", "width": labels.shape[1], "height": labels.shape[0],
               "count": 1, "dtype": "uint32", "nodata": 0, "compress": "deflate",
               "predictor": 2, "tiled": True, "blockxsize": 256, "blockysize": 256,
               "transform": info.window_transform(patch.window), "crs": info.rio_crs}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(labels.astype(np.uint32), 1)
        dst.update_tags(MCAE_PATCH=patch.id, MCAE_NEIGHBOURHOOD=patch.neighbourhood)


def _stamp(spec: dict[str, Any]) -> str:
    return json.dumps({"settings": spec["settings"], "features": FEATURE_VERSION},
                      sort_keys=True, default=str)


def _write_table(path: Path, frame: pd.DataFrame, stamp: str) -> None:
    """Write a patch table with the settings stamp that makes resuming safe."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {**(table.schema.metadata or {}), b"mcae_stamp": stamp.encode()}
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


def _done(project: Project, patch: Patch, spec: dict[str, Any]) -> bool:
    path = project.patch_table(patch.id)
    if not (path.is_file() and project.patch_raster(patch.id).is_file()):
        return False
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return meta.get(b"mcae_stamp", b"").decode() == _stamp(spec)
