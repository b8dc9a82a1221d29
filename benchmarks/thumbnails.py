"""Mask thumbnails of the annotation tools: a page of 48, cold and warm.

``python -m benchmarks.thumbnails [--size 2048] [--patch-size 1024] [--keep DIR]``

Builds a synthetic city (``mcae.inference.demo.scene.make_city``), segments it with the
superpixel generator, then renders 48 thumbnails of masks from two patches: cold (a
fresh :class:`PatchImages`, so both patches are read from disk) and warm (the same
instance again). The target is a cold page in under 1 s on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from benchmarks._common import machine_info, write_results
from mcae.inference.compute import executor
from mcae.inference.demo.scene import make_city
from mcae.inference.segment import SegmentOptions, prepare_project, segment_patches
from mcae.platform.annotation.thumbnails import PatchImages, mask_thumbnail

PAGE = 48


def build_project(folder: Path, size: int, patch_size: int) -> Path:
    """A segmented synthetic city in ``folder`` (reused when already there)."""
    project = folder / "project"
    if (project / "masks.parquet").is_file():
        return project
    city = make_city(size, size, seed=7)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
               "crs": CRS.from_epsg(32650), "transform": Affine(0.6, 0, 668_000, 0, -0.6, 3_550_000),
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate"}
    with rasterio.open(folder / "city.tif", "w", **profile) as dst:
        dst.write(city.image)
    options = SegmentOptions(generator="superpixel", patch_size=patch_size)
    with executor("synchronous", None, True) as run:
        segment_patches(prepare_project(folder / "city.tif", project, options), run)
    return project


def page(project: Path) -> list[tuple[str, int]]:
    """48 masks from the first two patches, spread over their ids."""
    import pandas as pd

    masks = pd.read_parquet(project / "masks.parquet", columns=["patch", "mask_id"])
    patches = sorted(masks["patch"].unique())[:2]
    chosen = []
    for patch_id in patches:
        ids = masks.loc[masks["patch"] == patch_id, "mask_id"].to_numpy()
        picks = ids[np.linspace(0, len(ids) - 1, PAGE // len(patches)).astype(int)]
        chosen += [(str(patch_id), int(m)) for m in picks]
    return chosen


def render(images: PatchImages, masks: list[tuple[str, int]]) -> tuple[float, int]:
    start = time.perf_counter()
    total = sum(len(mask_thumbnail(images, p, m)) for p, m in masks)
    return time.perf_counter() - start, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--patch-size", type=int, default=1024)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the project here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        project = build_project(folder, args.size, args.patch_size)
        print(f"project: {args.size} px city, {args.patch_size} px patches, "
              f"built in {time.perf_counter() - start:.1f} s")
        masks = page(project)
        images = PatchImages(project)
        cold, size_bytes = render(images, masks)
        warm, _ = render(images, masks)
    n = len(masks)
    result = {"thumbnails": n, "patches": len({p for p, _ in masks}), "cold_s": cold,
              "warm_s": warm, "cold_per_s": n / cold, "warm_per_s": n / warm,
              "warm_over_cold": (n / warm) / (n / cold), "mean_png_bytes": size_bytes / n,
              "machine": machine_info()}
    print(f"{n} thumbnails from {result['patches']} patches: cold {cold:.3f} s "
          f"({n / cold:.0f}/s), warm {warm:.3f} s ({n / warm:.0f}/s), "
          f"warm/cold {result['warm_over_cold']:.1f}x, {size_bytes / n / 1024:.1f} KiB each")
    print(f"cold page under 1 s: {'yes' if cold < 1.0 else 'NO'}")
    print(f"results: {write_results('thumbnails.json', result)}")


if __name__ == "__main__":
    main()
