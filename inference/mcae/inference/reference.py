"""Reference label rasters read on the working grid, and their majority per mask."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from mcae.inference.classes import N_CLASSES
from mcae.inference.compute import Executor
from mcae.inference.errors import InputError
from mcae.inference.gdal_cache import bounded_gdal_cache
from mcae.inference.grid import Patch
from mcae.inference.imagery import RasterScene, SceneInfo
from mcae.inference.masks.base import PixelWindow
from mcae.inference.patch_values import PatchValues
from mcae.inference.project import Project
from mcae.inference.segment import read_mask_raster


def reference_scene(info: SceneInfo, path: str | Path) -> RasterScene:
    """A reader of class ids (band 1, nearest) on the image's working grid.

    A georeferenced reference is placed by its own georeferencing; one without
    must have exactly the image's size and is laid on the image's pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such reference raster")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                if src.count < 1 or src.dtypes[0] not in ("uint8", "uint16", "int16", "int32"):
                    raise InputError(f"{path}: a reference holds integer class ids in band 1")
                georef = src.crs is not None and info.georeferenced
                if not georef and (src.width, src.height) != (info.src_width, info.src_height):
                    raise InputError(
                        f"{path}: {src.width} x {src.height} px without georeferencing, but the "
                        f"image is {info.src_width} x {info.src_height}; they must match")
                src_crs = src.crs.to_wkt() if georef else info.src_crs
                src_transform = list(src.transform)[:6] if georef else info.src_transform
                width, height = src.width, src.height
    except RasterioError as exc:
        raise InputError(f"{path}: not a readable raster ({str(exc).splitlines()[0]})") from None
    ref = replace(info, path=str(path.resolve()), src_width=width, src_height=height,
                  src_dtype="uint8", bands=[1], band_names=["class"], alpha_band=None,
                  nodata=None, src_crs=src_crs, src_transform=src_transform,
                  stretch=[[0.0, 255.0]])
    return RasterScene(ref)


def read_reference(scene: RasterScene, window: PixelWindow) -> np.ndarray:
    """Class ids of ``window`` (uint8, 0 where unknown or outside)."""
    image, valid = scene.read_source(window, 1.0, Resampling.nearest)
    out = image[0].copy()
    out[~valid] = 0
    out[out > N_CLASSES] = 0
    return out


def reference_per_mask(project: Project, reference: str | Path, run: Executor) -> pd.DataFrame:
    """Majority reference class of every mask: ``ref_class`` (0 if none), ``ref_purity``.

    Only pixels inside each patch's core count. One row per mask of the city: what a small
    project (the demo, benchmarks) reads; at city size ``reference_classes`` is the compact form.
    """
    scene = reference_scene(project.scene_info, reference)
    frames = run.map(_patch_majority, project.grid.patches(), "reference per mask",
                     root=str(project.root), scene=scene)
    return pd.concat(frames, ignore_index=True)


def reference_classes(project: Project, reference: str | Path, run: Executor) -> PatchValues:
    """The majority reference class of every mask (0 if none), as ``reference_per_mask`` finds
    it, kept as one byte per mask id of each patch: 3.5 MB for a city of 3.5 M masks."""
    scene = reference_scene(project.scene_info, reference)
    patches = project.grid.patches()
    arrays = run.map(_patch_classes, patches, "reference per mask", root=str(project.root), scene=scene)
    return PatchValues({p.id: a for p, a in zip(patches, arrays, strict=True)})


def _patch_counts(patch: Patch, root: str, scene: RasterScene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(majority class, purity, known pixels) of the masks 1..n of ``patch``'s core."""
    project = Project(root, {})
    try:
        with bounded_gdal_cache():  # else each worker keeps every block it read: the whole reference, at length
            labels = read_mask_raster(project, patch.id)
            ref = read_reference(scene, patch.window)
    finally:  # a Dask worker keeps each task's copy of ``scene`` until the results are gathered: an
        scene.close()  # open reference in each (its tile index: 100 kB at 40,960 px) would add up
    r0, c0 = patch.core.row_off - patch.window.row_off, patch.core.col_off - patch.window.col_off
    core = (slice(r0, r0 + patch.core.height), slice(c0, c0 + patch.core.width))
    masks, classes = labels[core].ravel().astype(np.int64), ref[core].ravel().astype(np.int64)
    n = int(labels.max())
    counts = np.bincount(masks * (N_CLASSES + 1) + classes,
                         minlength=(n + 1) * (N_CLASSES + 1)).reshape(n + 1, N_CLASSES + 1)[1:]
    known = counts[:, 1:]
    total = known.sum(axis=1)
    majority = np.where(total > 0, known.argmax(axis=1) + 1, 0)
    purity = np.where(total > 0, known.max(axis=1) / np.maximum(total, 1), 0.0)
    return majority, purity, total


def _patch_majority(patch: Patch, *, root: str, scene: RasterScene) -> pd.DataFrame:
    majority, purity, total = _patch_counts(patch, root, scene)
    return pd.DataFrame({"patch": patch.id, "mask_id": np.arange(1, len(majority) + 1),
                         "ref_class": majority.astype(np.int32),
                         "ref_purity": purity.astype(np.float32), "ref_pixels": total})


def _patch_classes(patch: Patch, *, root: str, scene: RasterScene) -> np.ndarray:
    return _patch_counts(patch, root, scene)[0].astype(np.uint8)
