"""Tile bundles: which tiles an area covers (counted exactly before any work), and building them.

Tiles are WebMercatorQuad, 256 px PNG, rendered in process by ``render_tile``. A bbox
covers the tiles morecantile's ``tms.tiles`` gives; a polygon (a district) covers only
the tiles whose interior overlaps it, found row by row, so counting never enumerates
the tiles of the polygon's bounding box. A bundle is built as a job of kind ``"bundle"``
of the app's registry: ``BundleSpec`` is what decides its bytes (its hash is the job id),
``bundle_work`` the work the registry runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import morecantile
import numpy as np
import shapely
from pmtiles.tile import zxy_to_tileid
from pydantic import BaseModel
from shapely.geometry.base import BaseGeometry

from mcae.inference.atomic import atomic_path
from mcae.inference.errors import InputError
from mcae.tiles.bundle_writers import EXTENSIONS, BundleMeta, open_writer
from mcae.tiles.catalog import Layer
from mcae.tiles.errors import CapExceeded
from mcae.tiles.jobs import JobContext, Work
from mcae.tiles.readers import ReaderPool
from mcae.tiles.render import render_tile

TMS_ID = "WebMercatorQuad"
TILESIZE = 256
MAX_ZOOM = 24
LL_EPSILON = 1e-11  # as morecantile: a bbox exactly on tile edges does not take the next tile
ROW_CHUNK = 4096
RENDER_THREADS = max(1, min(4, os.cpu_count() or 1))
SAMPLE_TILES = 8
OVERHEAD = {"mbtiles": (24_576, 64), "pmtiles": (16_384, 12), "zip": (512, 110)}  # fixed, per tile
TMS = morecantile.tms.get(TMS_ID)
KIND = "bundle"  # the job kind


class BundleSpec(BaseModel):
    """Everything that decides a bundle's bytes; with the kind, its hash is the job id."""

    city: str
    layer: str
    layer_version: str
    format: Literal["mbtiles", "pmtiles", "zip"]
    area: str  # fingerprint of the area's geometry (clipped to the layer)
    bbox: tuple[float, float, float, float] | None = None
    district: str | None = None
    minzoom: int
    maxzoom: int
    tms: str = "WebMercatorQuad"
    tilesize: int = 256

    def filename(self) -> str:
        """The name a downloaded bundle is saved as."""
        return f"{self.city}-{self.layer}-{self.district or 'bbox'}-z{self.minzoom}-{self.maxzoom}.{self.format}"


@dataclass(frozen=True)
class TilePlan:
    """The tiles of an area as rectangles ``(z, y0, y1, x0, x1)`` (inclusive)."""

    rects: np.ndarray  # int64, shape (n, 5)

    @property
    def sizes(self) -> np.ndarray:
        r = self.rects
        return (r[:, 2] - r[:, 1] + 1) * (r[:, 4] - r[:, 3] + 1)

    @property
    def count(self) -> int:
        return int(self.sizes.sum()) if len(self.rects) else 0

    def per_zoom(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for z, n in zip(self.rects[:, 0].tolist(), self.sizes.tolist(), strict=True):
            out[z] = out.get(z, 0) + n
        return out

    def tiles(self) -> Iterator[morecantile.Tile]:
        for z, y0, y1, x0, x1 in self.rects.tolist():
            for y in range(y0, y1 + 1):
                for x in range(x0, x1 + 1):
                    yield morecantile.Tile(x, y, z)

    def tile_at(self, index: int) -> morecantile.Tile:
        """The ``index``-th tile (rectangle by rectangle, row by row)."""
        ends = np.cumsum(self.sizes)
        i = int(np.searchsorted(ends, index, side="right"))
        z, y0, _y1, x0, x1 = self.rects[i].tolist()
        offset = index - (int(ends[i - 1]) if i else 0)
        width = x1 - x0 + 1
        return morecantile.Tile(x0 + offset % width, y0 + offset // width, z)

    def sample(self, n: int = SAMPLE_TILES) -> list[morecantile.Tile]:
        """Up to ``n`` tiles spread evenly over the plan."""
        count = self.count
        picks = sorted({int((k + 0.5) * count / n) for k in range(min(n, count))})
        return [self.tile_at(i) for i in picks]


def _tile_range(bounds: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """Column and row range ``(x0, x1, y0, y1)`` of a geographic bbox, as ``tms.tiles`` has it."""
    w, s, e, n = bounds
    left, bottom, right, top = TMS.bbox
    w, s, e, n = max(left, w), max(bottom, s), min(right, e), min(top, n)
    nw = TMS.tile(w + LL_EPSILON, n - LL_EPSILON, z)
    se = TMS.tile(e - LL_EPSILON, s + LL_EPSILON, z)
    return min(nw.x, se.x), max(nw.x, se.x), min(nw.y, se.y), max(nw.y, se.y)


def _polygon_rects(geom: BaseGeometry, z: int) -> list[tuple[int, int, int, int, int]]:
    """Runs of tiles at ``z`` whose interior overlaps ``geom``, one strip of tiles at a time."""
    x0, x1, y0, y1 = _tile_range(geom.bounds, z)
    west, _s, east, _n = geom.bounds
    n = 2 ** z
    shapely.prepare(geom)
    out: list[tuple[int, int, int, int, int]] = []
    for start in range(y0, y1 + 1, ROW_CHUNK):
        rows = np.arange(start, min(y1 + 1, start + ROW_CHUNK))
        tops = np.array([TMS.bounds(morecantile.Tile(x0, int(y), z)).top for y in rows])
        bottoms = np.array([TMS.bounds(morecantile.Tile(x0, int(y), z)).bottom for y in rows])
        strips = shapely.box(west, bottoms, east, tops)
        pieces = shapely.intersection(geom, strips)
        parts, owner = shapely.get_parts(pieces, return_index=True)
        areas = shapely.area(parts)
        strip_area = (east - west) * (tops - bottoms)
        keep = areas > strip_area[owner] * 1e-9  # touching (zero area) is not covering
        spans: dict[int, list[tuple[int, int]]] = {}
        for (a, _, b, _), row in zip(shapely.bounds(parts[keep]).tolist(), owner[keep].tolist(), strict=True):
            c0 = max(x0, math.floor((a + 180) / 360 * n + 1e-9))
            c1 = min(x1, math.ceil((b + 180) / 360 * n - 1e-9) - 1)
            if c1 >= c0:
                spans.setdefault(row, []).append((c0, c1))
        for row, runs in sorted(spans.items()):
            y = int(rows[row])
            merged: list[list[int]] = []
            for c0, c1 in sorted(runs):
                if merged and c0 <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], c1)
                else:
                    merged.append([c0, c1])
            out.extend((z, y, y, c0, c1) for c0, c1 in merged)
    return out


def plan_tiles(geom: BaseGeometry, rectangular: bool, minzoom: int, maxzoom: int) -> TilePlan:
    """The exact tiles of an area at ``minzoom..maxzoom``."""
    if not 0 <= minzoom <= maxzoom <= MAX_ZOOM:
        raise InputError(f"zooms must satisfy 0 <= minzoom <= maxzoom <= {MAX_ZOOM}")
    rects: list[tuple[int, int, int, int, int]] = []
    for z in range(minzoom, maxzoom + 1):
        if rectangular:
            x0, x1, y0, y1 = _tile_range(geom.bounds, z)
            rects.append((z, y0, y1, x0, x1))
        else:
            rects.extend(_polygon_rects(geom, z))
    return TilePlan(np.array(rects, np.int64).reshape(-1, 5))


def check_cap(plan: TilePlan, cap: int) -> None:
    """CapExceeded (413) when the plan holds more tiles than ``cap``."""
    if plan.count > cap:
        raise CapExceeded(plan.count, cap, what="bundle", unit="tiles", setting="max_bundle_tiles",
                          advice="ask for a smaller area or fewer zooms")


def estimate(path: str, layer: Layer, plan: TilePlan, fmt: str, source: str | None = None,
             readers: ReaderPool | None = None) -> dict[str, Any]:
    """Tile count and an estimated file size, from a few rendered sample tiles."""
    samples = plan.sample()
    sizes = [len(render_tile(path, layer, TMS_ID, t.z, t.x, t.y, tilesize=TILESIZE, source=source,
                                 readers=readers) or b"")
             for t in samples]
    with_data = sum(1 for s in sizes if s)
    mean = sum(sizes) / len(sizes) if sizes else 0.0
    fixed, per_tile = OVERHEAD[fmt]
    tiles_with_data = round(plan.count * with_data / len(sizes)) if sizes else 0
    return {"count": plan.count, "per_zoom": {str(z): n for z, n in plan.per_zoom().items()},
            "estimated_bytes": int(fixed + plan.count * mean + tiles_with_data * per_tile),
            "sampled_tiles": len(sizes), "sampled_with_data": with_data}


Progress = Callable[[int, int, int], None]  # tiles done, tiles written, bytes written


def build_bundle(path: str, layer: Layer, plan: TilePlan, fmt: str, out: Path, meta: BundleMeta,
                 progress: Progress | None = None, threads: int = RENDER_THREADS,
                 source: str | None = None, readers: ReaderPool | None = None) -> tuple[int, int]:
    """Render every tile of ``plan`` into a bundle at ``out`` (atomically): (tiles written, bytes).
    ``path`` is what tiles are read from, ``source`` the layer's own file (see ``render_tile``)."""
    if fmt not in EXTENSIONS:
        raise InputError(f"unknown bundle format {fmt!r}")
    order = sorted(plan.tiles(), key=lambda t: zxy_to_tileid(t.z, t.x, t.y))
    done = written = nbytes = 0

    def render(tile: morecantile.Tile) -> bytes | None:
        return render_tile(path, layer, TMS_ID, tile.z, tile.x, tile.y, tilesize=TILESIZE, source=source,
                           readers=readers)

    batch = max(16, threads * 8)
    with atomic_path(out) as tmp, open_writer(fmt, tmp, meta) as writer, \
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bundle-render") as pool:
        for start in range(0, len(order), batch):
            chunk = order[start:start + batch]
            for tile, data in zip(chunk, pool.map(render, chunk), strict=True):
                done += 1
                if data:
                    writer.add(tile.z, tile.x, tile.y, data)
                    written += 1
                    nbytes += len(data)
                if progress is not None:
                    progress(done, written, nbytes)
        if written == 0:
            raise InputError("no tile of the area holds data of this layer")
    return written, nbytes


def bundle_meta(layer: Layer, city_name: str, geom: BaseGeometry, minzoom: int, maxzoom: int,
                version: str, legend: list[dict[str, Any]] | None) -> BundleMeta:
    """Metadata every bundle format records."""
    w, s, e, n = geom.bounds
    centre = geom.representative_point()
    return BundleMeta(name=f"{city_name}: {layer.title}", description=layer.description or layer.title,
                      bounds=(w, s, e, n), center=(centre.x, centre.y, minzoom), minzoom=minzoom,
                      maxzoom=maxzoom, version=version, provenance=layer.provenance, legend=legend)


def bundle_work(path: str, layer: Layer, plan: TilePlan, fmt: str, meta: BundleMeta,
                source: str | None = None, readers: ReaderPool | None = None) -> Work:
    """The job that builds a bundle at its context's ``out_path``, reporting tiles as it goes.

    Progress and result carry what the viewer shows: ``tiles_done``, ``tiles_total``,
    ``tiles_written`` and ``bytes``.
    """
    total = plan.count

    def work(ctx: JobContext) -> dict[str, Any]:
        def progress(done: int, written: int, nbytes: int) -> None:
            ctx.progress(done, tiles_done=done, tiles_total=total, tiles_written=written, bytes=nbytes)

        written, _ = build_bundle(path, layer, plan, fmt, ctx.out_path, meta, progress, source=source,
                                  readers=readers)
        size = ctx.out_path.stat().st_size
        ctx.progress(total, tiles_done=total, tiles_total=total, tiles_written=written, bytes=size)
        return {"tiles_written": written, "bytes": size}

    return work
