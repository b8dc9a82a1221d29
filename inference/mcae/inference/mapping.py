"""The ``map`` step: every mask's class painted into a land-cover COG.

A mask's class is the expert's decision when there is one, else the classifier's
prediction. Patches are read and written one at a time, core by core; the classes come
from ``class_lookups`` (one byte a mask), never from the whole groups table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.decisions import Decision
from mcae.inference.errors import InputError, StorageError
from mcae.inference.map_parts import MapParts, inputs_digest
from mcae.inference.masks.base import PixelWindow
from mcae.inference.project import Project
from mcae.inference.segment import read_mask_raster

if TYPE_CHECKING:
    from mcae.inference.class_lookups import ClassLookups


def mask_classes(project: Project, decisions: Iterable[Decision] | None = None) -> pd.DataFrame:
    """Class of every mask in the map: ``class_id``, ``decided`` (bool) and ``pred_class``, indexed
    by (patch, mask_id).

    ``decisions``: the expert's decisions (default: the project's decisions file; a stream, such
    as a ``DecisionsFile``, is read once). The classes come from ``class_lookups`` (one byte a
    mask) and the groups table's three columns are read
    in record batches, never the whole table nor a table of decided masks.
    """
    import pyarrow.parquet as pq

    from mcae.inference.class_lookups import BATCH_ROWS, class_lookups

    lookups = class_lookups(project, decisions)
    parts = []
    source = pq.ParquetFile(project.require(project.groups_path, "mcae segment"))
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=["patch", "mask_id", "pred_class"]):
        frame = batch.to_pandas()
        frame["mask_id"] = frame["mask_id"].astype("int64")
        ids = frame["mask_id"].to_numpy()
        classes, decided = np.zeros(len(frame), np.uint8), np.zeros(len(frame), bool)
        for patch, rows in frame.groupby("patch", sort=False).indices.items():
            classes[rows] = lookups.lookup("dense", str(patch))[ids[rows]]
            sparse = lookups.sparse.get(str(patch))  # none: no mask of the patch is decided
            if sparse is not None:
                decided[rows] = sparse[ids[rows]] > 0
        parts.append(frame.assign(class_id=classes, decided=decided))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"patch": [], "mask_id": np.zeros(0, np.int64), "pred_class": [], "class_id": np.zeros(0, np.uint8),
         "decided": np.zeros(0, bool)})
    return table.set_index(["patch", "mask_id"])[["pred_class", "decided", "class_id"]]


def patch_lookups(classes: pd.DataFrame, column: str = "class_id") -> dict[str, np.ndarray]:
    """Per patch: mask id -> class id (0 for masks outside the table)."""
    out: dict[str, np.ndarray] = {}
    for patch_id, part in classes.groupby(level="patch"):
        ids = part.index.get_level_values("mask_id").to_numpy()
        lut = np.zeros(int(ids.max()) + 1, np.uint8)
        lut[ids] = part[column].to_numpy()
        out[str(patch_id)] = lut
    return out


def class_windows(project: Project, lookups: dict[str, np.ndarray], quiet: bool = True,
                  parts: MapParts | None = None) -> Iterator[tuple[PixelWindow, np.ndarray]]:
    """(core window, class ids) of every patch, one patch in memory at a time (``quiet=False``:
    with a progress bar and its ETA). ``parts``: windows an interrupted run saved are read back,
    and each new one is saved as it is made (what ``mcae map`` resumes from)."""
    from mcae.inference.compute import progress_bar

    patches = project.grid.patches()
    with progress_bar(quiet) as bar:
        task = bar.add_task("writing the map", total=len(patches))
        for patch in patches:
            bar.advance(task)
            if patch.core.height > 0 and patch.core.width > 0:
                saved = parts.load(patch.id) if parts is not None else None
                if saved is None:
                    saved = _class_core(project, patch, lookups)
                    if parts is not None:
                        parts.save(patch.id, *saved)
                yield saved


def _class_core(project: Project, patch: Any, lookups: dict[str, np.ndarray]) -> tuple[PixelWindow, np.ndarray]:
    """(core window, class ids) of one patch."""
    labels = read_mask_raster(project, patch.id)
    r0 = patch.core.row_off - patch.window.row_off
    c0 = patch.core.col_off - patch.window.col_off
    core = labels[r0:r0 + patch.core.height, c0:c0 + patch.core.width]
    lut = lookups.get(patch.id, np.zeros(1, np.uint8))
    if core.size and core.max() >= lut.size:
        lut = np.pad(lut, (0, int(core.max()) + 1 - lut.size))
    return patch.core, lut[core]


def georeference(width: int, height: int, bounds: tuple[float, float, float, float],
                 crs: str = "EPSG:4326") -> tuple[Any, Any]:
    """(CRS, transform) laying a ``width`` x ``height`` grid on ``bounds`` (west, south, east, north)."""
    from rasterio.crs import CRS
    from rasterio.errors import CRSError
    from rasterio.transform import from_bounds

    west, south, east, north = bounds
    if not (west < east and south < north):
        raise InputError(f"--bounds must be WEST,SOUTH,EAST,NORTH with west < east and south < north, got {bounds}")
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as exc:
        raise InputError(f"--crs {crs!r} is not a coordinate reference system ({exc})") from None
    return parsed, from_bounds(west, south, east, north, width, height)


def write_map(project: Project, out: str | Path, *, sparse: bool = False,
              decisions: Iterable[Decision] | None = None, quiet: bool = True,
              bounds: tuple[float, float, float, float] | None = None, crs: str = "EPSG:4326",
              districts: str | Path | None = None, district_field: str = "name",
              prepared: ClassLookups | None = None) -> Path:
    """Write the project's land-cover map as a paletted COG (``sparse``: decided masks only),
    and with ``districts`` (a GeoJSON) one COG per district beside it.

    Written atomically: an interrupted map leaves the old file (or none) in place. It resumes:
    each window is saved as it is made (``map_parts``), so a rerun with the same inputs (decisions,
    model's predictions, mask rasters, options) computes only the windows still missing; a city
    map and district maps an interrupted run finished from the same inputs are kept as they are.
    ``bounds`` (in ``crs``) georeferences the map of a plain image (segmented with ``--gsd``),
    whose own grid is local pixels the viewer cannot place. ``decisions`` may be a stream (read
    once); ``prepared``: the ``class_lookups`` of them, made already (then ``decisions`` is not read).
    """
    from mcae.inference.class_lookups import class_lookups

    out = Path(out)
    classes = prepared if prepared is not None else class_lookups(project, decisions)
    lookups = classes.sparse if sparse else classes.dense
    info = project.scene_info
    # names, never server paths: the map is published and downloaded
    tags = {"MCAE_PROJECT": project.root.resolve().name, "MCAE_IMAGE": Path(info.path).name,
            "MCAE_GSD_M": str(info.gsd),
            "MCAE_DECIDED_MASKS": str(classes.decided),
            "MCAE_MASKS": str(classes.masks)}
    if "synthetic" in project.manifest:
        tags["MCAE_SYNTHETIC"] = "yes: " + str(project.manifest["synthetic"])
    grid_crs, transform = info.rio_crs, info.affine
    if bounds is not None:
        if info.georeferenced:
            raise InputError("the image is georeferenced already: --bounds is for plain images (--gsd)")
        grid_crs, transform = georeference(info.width, info.height, bounds, crs)
    patches = project.grid.patches()
    digest = inputs_digest(sparse, info.width, info.height, tuple(transform), str(grid_crs), tags,
                           project.manifest["grid"], [_stat(project, p.id) for p in patches],
                           arrays=((p.id, lookups.get(p.id, np.zeros(1, np.uint8))) for p in patches))
    tags[INPUTS_TAG] = digest
    where = str(out.resolve())
    earlier = project.running.get("map", {})
    resuming = earlier.get("out") == where and earlier.get("digest") == digest
    project.mark_running("map", out=where, digest=digest, windows=sum(
        1 for p in patches if p.core.height > 0 and p.core.width > 0),
        districts=str(districts) if districts is not None else None)
    kept = resuming and map_inputs(out) == digest
    if not kept:
        parts = MapParts(out, digest).open()
        try:
            write_class_cog(out, width=info.width, height=info.height, transform=transform, crs=grid_crs,
                            windows=class_windows(project, lookups, quiet, parts), scheme=MCAE, tags=tags)
        except StorageError:  # a full disk: the saved windows hold space the user must free; keep nothing
            parts.remove()
            raise
        parts.remove()
    written: list[Path] = []
    if districts is not None:
        from mcae.inference.districts import clip_districts

        written = clip_districts(out, districts, out.parent, field=district_field, keep_same=True)
    project.record_step("map", out=str(out), masks=classes.masks, decided=classes.decided, sparse=sparse,
                        resumed_windows=0 if kept else parts.kept, kept_map=kept,
                        districts=[p.name for p in written])
    return out


INPUTS_TAG = "MCAE_MAP_INPUTS"  # digest of what a map is made from (its districts carry it too)


def map_inputs(path: str | Path) -> str | None:
    """The inputs digest a finished map (or district map) was made from; None if none or unreadable."""
    import rasterio
    from rasterio.errors import RasterioError

    if not Path(path).is_file():
        return None
    try:
        with rasterio.open(path) as src:
            return src.tags().get(INPUTS_TAG)
    except RasterioError:
        return None


def _stat(project: Project, patch_id: str) -> tuple[int, int] | None:
    try:
        found = project.patch_raster(patch_id).stat()
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def slug(name: str) -> str:
    """A file-name-safe form of a district name."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    return cleaned or "district"
