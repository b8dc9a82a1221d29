"""A service-leg project of N masks written straight as the engine's tables.

``write_service_project(root, masks)`` writes what ``mcae projects add`` and the expert
tools read, without segmenting anything: ``project.json`` (a grid of 1024 px patches,
neighbourhoods of 3 x 3), ``masks.parquet`` (patch order) and ``groups.parquet``
(neighbourhood order, as ``build_groups`` writes it), each streamed neighbourhood by
neighbourhood through a ``pyarrow.parquet.ParquetWriter`` so memory stays flat at any N.

Every patch lays its masks out on a regular lattice of squares (mask ``i`` is lattice cell
``i - 1``), so a mask's bbox is arithmetic. The imagery is a sparse tiled GeoTIFF of the
whole grid (unwritten tiles cost no disk) with pixels and mask rasters written only for
``raster_patches`` patches (those whose thumbnails a benchmark fetches).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mcae.inference.classes import MCAE
from mcae.inference.grid import PatchGrid

PROBA_COLUMNS = [f"proba_{c.id}" for c in MCAE]
MASKS_PER_PATCH = 2400  # about what superpixel masks give a 1024 px patch of the demo city
CLUSTERS = 60  # per neighbourhood
UTM = "EPSG:32640"


def lattice(per_patch: int, patch_size: int) -> tuple[int, int]:
    """Cells per side and the cell size of a patch holding ``per_patch`` masks."""
    side = math.ceil(math.sqrt(per_patch))
    return side, max(1, patch_size // side)


def grid_for(masks: int, patch_size: int = 1024, per_patch: int = MASKS_PER_PATCH) -> PatchGrid:
    patches = max(1, math.ceil(masks / per_patch))
    side = math.ceil(math.sqrt(patches))
    return PatchGrid(side * patch_size, side * patch_size, patch_size, 0, 3)


def write_service_project(root: str | Path, masks: int, *, patch_size: int = 1024,
                          per_patch: int = MASKS_PER_PATCH, seed: int = 0) -> dict[str, Any]:
    """Write the project; returns its summary (masks, patches, groups, neighbourhoods).
    The first neighbourhood's patches get imagery and mask rasters (thumbnails, mask-at)."""
    root = Path(root)
    (root / "patches").mkdir(parents=True, exist_ok=True)
    grid = grid_for(masks, patch_size, per_patch)
    patches = grid.patches()
    counts = _split(masks, len(patches), per_patch)
    by_hood = grid.neighbourhoods()
    first = set(next(iter(by_hood.values())))
    with_rasters = [(p, counts[i]) for i, p in enumerate(patches) if p.id in first]
    scene = _write_scene(root, grid, with_rasters, per_patch)
    manifest = {"format": "mcae-project", "version": 1, "created": "2026-01-01T00:00:00+00:00",
                "image": scene, "grid": {"height": grid.height, "width": grid.width, "patch_size": patch_size,
                                         "overlap": 0, "neighbourhood": 3},
                "generator": {"name": "synthetic", "options": {}, "settings": {}},
                "feature_version": "synthetic", "steps": {"segment": {"finished": "2026-01-01T00:00:00+00:00"}}}
    (root / "project.json").write_text(json.dumps(manifest, indent=1))
    rng = np.random.default_rng(seed)
    index = {p.id: i for i, p in enumerate(patches)}
    mask_writer = groups_writer = None
    groups_total = 0
    try:
        for hood, ids in by_hood.items():
            frames = [_patch_table(p, hood, counts[index[p]], per_patch, patch_size) for p in ids]
            frames = [f for f in frames if f["mask_id"].size]
            if not frames:
                continue
            table = {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}
            groups, n_groups = _groups(table, rng)
            groups_total += n_groups
            mask_batch = pa.table({k: table[k] for k in
                                   ("patch", "mask_id", "neighbourhood", "area", "core_area", "row0", "col0",
                                    "row1", "col1", "score", "stability", "source")})
            group_batch = pa.table({"patch": table["patch"], "mask_id": table["mask_id"],
                                    "neighbourhood": table["neighbourhood"], "area": table["area"], **groups})
            if mask_writer is None:
                mask_writer = pq.ParquetWriter(root / "masks.parquet", mask_batch.schema)
                groups_writer = pq.ParquetWriter(root / "groups.parquet", group_batch.schema)
            mask_writer.write_table(mask_batch)
            assert groups_writer is not None
            groups_writer.write_table(group_batch)
    finally:
        for writer in (mask_writer, groups_writer):
            if writer is not None:
                writer.close()
    return {"masks": masks, "patches": len(patches), "groups": groups_total, "neighbourhoods": len(by_hood),
            "raster_patches": [p.id for p, _ in with_rasters]}


def _split(masks: int, patches: int, per_patch: int) -> list[int]:
    out, left = [], masks
    for _ in range(patches):
        n = min(per_patch, left)
        out.append(n)
        left -= n
    return out


def _patch_table(patch_id: str, hood: str, n: int, per_patch: int, patch_size: int) -> dict[str, np.ndarray]:
    side, cell = lattice(per_patch, patch_size)
    ids = np.arange(1, n + 1, dtype=np.int64)
    r0 = ((ids - 1) // side * cell).astype(np.int64)
    c0 = ((ids - 1) % side * cell).astype(np.int64)
    return {"patch": np.full(n, patch_id, dtype=object), "mask_id": ids,
            "neighbourhood": np.full(n, hood, dtype=object), "area": np.full(n, cell * cell, dtype=np.int64),
            "core_area": np.full(n, cell * cell, dtype=np.int64), "row0": r0, "col0": c0, "row1": r0 + cell,
            "col1": c0 + cell, "score": np.ones(n), "stability": np.ones(n),
            "source": np.full(n, "synthetic", dtype=object)}


def _groups(table: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[dict[str, np.ndarray], int]:
    n = table["mask_id"].size
    cluster = rng.integers(0, CLUSTERS, n)
    dominant = rng.integers(1, len(MCAE) + 1, CLUSTERS)
    pred = np.where(rng.random(n) < 0.8, dominant[cluster], rng.integers(1, len(MCAE) + 1, n))
    logits = rng.normal(size=(n, len(MCAE)))
    logits[np.arange(n), pred - 1] += 3.0
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    keys = np.char.add(np.char.add(cluster.astype(str), "-"), pred.astype(str)).astype(object)
    out: dict[str, np.ndarray] = {"cluster": cluster.astype(np.int64), "pred_class": pred.astype(np.int64),
                                  "pred_score": proba.max(axis=1)}
    for i, col in enumerate(PROBA_COLUMNS):
        out[col] = proba[:, i]
    out["group"] = keys
    return out, len(set(zip(cluster.tolist(), pred.tolist(), strict=True)))


def _write_scene(root: Path, grid: PatchGrid, patches: list[tuple[Any, int]], per_patch: int) -> dict[str, Any]:
    """A sparse tiled RGB GeoTIFF of the grid; the given patches get imagery and mask rasters."""
    import rasterio
    from rasterio.transform import from_origin

    from mcae.inference.imagery import inspect_image

    transform = from_origin(500_000.0, 2_800_000.0, 0.6, 0.6)
    path = root / "scene.tif"
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 3, "dtype": "uint8",
               "crs": UTM, "transform": transform, "tiled": True, "blockxsize": 512, "blockysize": 512,
               "compress": "deflate", "sparse_ok": True, "BIGTIFF": "IF_SAFER"}
    side, cell = lattice(per_patch, grid.patch_size)
    with rasterio.open(path, "w", **profile) as dst:
        for patch, count in patches:
            w = patch.window
            rows, cols = np.mgrid[0:w.height, 0:w.width]
            cell_id = (rows // cell) * side + cols // cell + 1
            inside = (rows // cell < side) & (cols // cell < side) & (cell_id <= count)
            labels = np.where(inside, cell_id, 0).astype(np.uint32)
            rgb = np.stack([(labels * k % 251).astype(np.uint8) for k in (37, 91, 13)])
            dst.write(rgb, window=((w.row_off, w.row_end), (w.col_off, w.col_off + w.width)))
            mask_profile = {"driver": "GTiff", "width": w.width, "height": w.height, "count": 1, "dtype": "uint32",
                            "crs": UTM, "transform": rasterio.windows.transform(
                                rasterio.windows.Window(w.col_off, w.row_off, w.width, w.height), transform),
                            "compress": "deflate"}
            with rasterio.open(root / "patches" / f"{patch.id}.tif", "w", **mask_profile) as out:
                out.write(labels, 1)
    return inspect_image(path, target_gsd=0.6).to_dict()


if __name__ == "__main__":  # python -m benchmarks.city_service FOLDER MASKS
    import sys

    print(json.dumps(write_service_project(sys.argv[1], int(sys.argv[2]))))
