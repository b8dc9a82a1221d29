"""Dataset export: 1024 px image/label pairs at the working GSD, with a manifest.

``dense`` labels every mask with its map class; ``sparse`` keeps only the masks an
expert decided (the rest 0). Each pair is georeferenced; ``manifest.json`` lists
every pair with its footprint, and ``footprints.geojson`` shows them on a map.

Streamed: one patch in memory at a time, and the classes as one byte a mask
(``class_lookups``), never the groups table, so memory does not grow with the city.
Resumable: each finished pair leaves a note (``.pairs/<id>.json``: its manifest entry and
a digest of what it was made from: its labels' lookups, its mask raster, the modes); a
rerun after an interruption skips every pair whose note still matches and redoes the
rest. The notes go once the manifest is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.warp import transform_geom

from mcae.inference.atomic import atomic_path, write_json
from mcae.inference.class_lookups import ClassLookups, class_lookups
from mcae.inference.classes import MCAE
from mcae.inference.compute import progress_bar
from mcae.inference.decisions import Decision
from mcae.inference.gdal_cache import bounded_gdal_cache
from mcae.inference.grid import Patch
from mcae.inference.project import Project
from mcae.inference.segment import read_mask_raster

MODES = ("dense", "sparse")


def export_dataset(project: Project, out: str | Path, modes: tuple[str, ...] = MODES,
                   quiet: bool = False, decisions: Iterable[Decision] | None = None,
                   dense_patches: set[str] | None = None) -> dict[str, Any]:
    """Write ``out/images``, ``out/labels_<mode>`` and the manifest; returns the manifest.

    ``decisions``: the expert's decisions (default: the project's decisions file).
    ``dense_patches``: when given, dense labels only for these (fully checked) patches.
    The manifest's ``resumed`` counts the pairs an earlier, interrupted run had finished.
    """
    out = Path(out)
    lookups = class_lookups(project, decisions)
    info = project.scene_info
    notes = out / NOTES
    notes.mkdir(parents=True, exist_ok=True)
    items, resumed = [], 0
    patches = project.grid.patches()
    project.mark_running("export-dataset", out=str(out.resolve()), pairs=len(patches))
    scene = project.scene()
    with progress_bar(quiet) as bar, contextlib.closing(scene), bounded_gdal_cache():
        task = bar.add_task("exporting pairs", total=len(patches))
        for patch in patches:
            wanted = [m for m in modes if not (m == "dense" and dense_patches is not None
                                               and patch.id not in dense_patches)]
            digest = _digest(project, patch.id, lookups, wanted)
            entry = _finished(out, patch.id, digest)
            if entry is None:
                entry = _export_pair(project, scene, patch, lookups, wanted, out, info)
                write_json(notes / f"{patch.id}.json", {"digest": digest, "entry": entry})
            else:
                resumed += 1
            items.append(entry)
            bar.advance(task)
    manifest = {"format": "mcae-dataset", "version": 1,
                "dense_patches": "all" if dense_patches is None else sorted(dense_patches),
                "gsd": info.gsd, "crs": info.crs,
                "patch_size": project.grid.patch_size, "modes": list(modes),
                "classes": {c.id: c.name for c in MCAE}, "source_image": info.path,
                "items": items}
    write_json(out / "manifest.json", manifest)
    write_json(out / "footprints.geojson", _footprints(items, info.crs))
    shutil.rmtree(notes, ignore_errors=True)
    project.record_step("export-dataset", out=str(out.resolve()), pairs=len(items), resumed=resumed,
                        modes=list(modes))
    return {**manifest, "resumed": resumed}


NOTES = ".pairs"  # per finished pair: its entry and digest (while an export is under way)


def _export_pair(project: Project, scene: Any, patch: Patch, lookups: ClassLookups, modes: list[str],
                 out: Path, info: Any) -> dict[str, Any]:
    """Write one pair (image and the labels of ``modes``); returns its manifest entry."""
    image, valid = scene.read(patch.window)
    labels = read_mask_raster(project, patch.id)
    transform = info.window_transform(patch.window)
    entry: dict[str, Any] = {"id": patch.id, "neighbourhood": patch.neighbourhood,
                             "image": f"images/{patch.id}.tif"}
    _write(out / entry["image"], image, transform, info.rio_crs, nodata=None, valid=valid)
    for mode in modes:
        lut = lookups.lookup(mode, patch.id)
        lut = np.pad(lut, (0, max(0, int(labels.max()) + 1 - lut.size)))
        label = lut[labels]
        entry[f"label_{mode}"] = f"labels_{mode}/{patch.id}.tif"
        entry[f"labelled_fraction_{mode}"] = round(float((label > 0).mean()), 4)
        _write(out / entry[f"label_{mode}"], label[None], transform, info.rio_crs, nodata=0)
    entry["footprint"] = _footprint(patch, info)
    return entry


def _digest(project: Project, patch_id: str, lookups: ClassLookups, modes: list[str]) -> str:
    """What a pair is made from: its lookups, its mask raster (size, time) and the modes."""
    h = hashlib.sha256(json.dumps(modes).encode())
    for mode in modes:
        h.update(mode.encode() + lookups.lookup(mode, patch_id).tobytes())
    raster = project.patch_raster(patch_id).stat()
    h.update(f"{raster.st_size}:{raster.st_mtime_ns}".encode())
    return h.hexdigest()


def _finished(out: Path, patch_id: str, digest: str) -> dict[str, Any] | None:
    """The entry of a pair an earlier run finished from the same inputs, else None."""
    try:
        note = json.loads((out / NOTES / f"{patch_id}.json").read_text())
    except (OSError, ValueError):
        return None
    entry = note.get("entry") if isinstance(note, dict) and note.get("digest") == digest else None
    if not isinstance(entry, dict):
        return None
    files = [entry.get("image"), *(v for k, v in entry.items() if k.startswith("label_"))]
    return entry if all(isinstance(f, str) and (out / f).is_file() for f in files) else None


def _write(path: Path, data: np.ndarray, transform: Any, crs: Any, nodata: int | None,
           valid: np.ndarray | None = None) -> None:
    profile = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1],
               "count": data.shape[0], "dtype": "uint8", "transform": transform, "crs": crs,
               "nodata": nodata, "compress": "deflate", "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        if nodata == 0:
            dst.write_colormap(1, MCAE.colormap())
            dst.update_tags(**MCAE.tags())
        elif valid is not None:
            dst.write_mask(valid.astype(np.uint8) * 255)


def _footprint(patch: Patch, info: Any) -> dict[str, Any]:
    t = info.window_transform(patch.window)
    corners = [t @ (0, 0), t @ (patch.window.width, 0),
               t @ (patch.window.width, patch.window.height), t @ (0, patch.window.height)]
    ring = [[float(x), float(y)] for x, y in [*corners, corners[0]]]
    return {"type": "Polygon", "coordinates": [ring]}


def _footprints(items: list[dict[str, Any]], crs: str | None) -> dict[str, Any]:
    """A GeoJSON of the pairs (EPSG:4326 when georeferenced, else local metres)."""
    features = []
    for item in items:
        geometry = item["footprint"]
        if crs:
            geometry = transform_geom(crs, "EPSG:4326", geometry)
        props = {k: v for k, v in item.items() if k != "footprint"}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}
