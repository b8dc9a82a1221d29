"""Dataset export: 1024 px image/label pairs at the working GSD, with a manifest.

``dense`` labels every mask with its map class; ``sparse`` keeps only the masks an
expert decided (the rest 0). Each pair is georeferenced; ``manifest.json`` lists
every pair with its footprint, and ``footprints.geojson`` shows them on a map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.warp import transform_geom
from rich.progress import track

from mcae.inference.atomic import atomic_path, write_json
from mcae.inference.classes import MCAE
from mcae.inference.decisions import Decision
from mcae.inference.grid import Patch
from mcae.inference.mapping import mask_classes, patch_lookups
from mcae.inference.project import Project
from mcae.inference.segment import read_mask_raster

MODES = ("dense", "sparse")


def export_dataset(project: Project, out: str | Path, modes: tuple[str, ...] = MODES,
                   quiet: bool = False, decisions: list[Decision] | None = None,
                   dense_patches: set[str] | None = None) -> dict[str, Any]:
    """Write ``out/images``, ``out/labels_<mode>`` and the manifest; returns the manifest.

    ``decisions``: the expert's decisions (default: the project's decisions file).
    ``dense_patches``: when given, dense labels only for these (fully checked) patches.
    """
    out = Path(out)
    classes = mask_classes(project, decisions)
    lookups = {"dense": patch_lookups(classes)}
    sparse = classes.copy()
    sparse.loc[~sparse["decided"], "class_id"] = 0
    lookups["sparse"] = patch_lookups(sparse)
    info, scene = project.scene_info, project.scene()
    items = []
    for patch in track(project.grid.patches(), description="exporting pairs", disable=quiet):
        image, valid = scene.read(patch.window)
        labels = read_mask_raster(project, patch.id)
        transform = info.window_transform(patch.window)
        entry: dict[str, Any] = {"id": patch.id, "neighbourhood": patch.neighbourhood,
                                 "image": f"images/{patch.id}.tif"}
        _write(out / entry["image"], image, transform, info.rio_crs, nodata=None, valid=valid)
        for mode in modes:
            if mode == "dense" and dense_patches is not None and patch.id not in dense_patches:
                continue
            lut = lookups[mode].get(patch.id, np.zeros(1, np.uint8))
            lut = np.pad(lut, (0, max(0, int(labels.max()) + 1 - lut.size)))
            label = lut[labels]
            entry[f"label_{mode}"] = f"labels_{mode}/{patch.id}.tif"
            entry[f"labelled_fraction_{mode}"] = round(float((label > 0).mean()), 4)
            _write(out / entry[f"label_{mode}"], label[None], transform, info.rio_crs, nodata=0)
        entry["footprint"] = _footprint(patch, info)
        items.append(entry)
    scene.close()
    manifest = {"format": "mcae-dataset", "version": 1,
                "dense_patches": "all" if dense_patches is None else sorted(dense_patches),
                "gsd": info.gsd, "crs": info.crs,
                "patch_size": project.grid.patch_size, "modes": list(modes),
                "classes": {c.id: c.name for c in MCAE}, "source_image": info.path,
                "items": items}
    write_json(out / "manifest.json", manifest)
    write_json(out / "footprints.geojson", _footprints(items, info.crs))
    return manifest


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
