"""A stratified random sample of pixels from a classified raster, in bounded memory.

Two passes over the raster, a strip of blocks at a time (never the whole map in memory):

1. count the pixels of every class in every block (``Strata``), and weigh each block's
   pixels by their area in an equal-area projection (``equal_area.block_pixel_area``);
2. draw, per stratum, ``n_h`` distinct ranks among its ``N_h`` pixels (numpy's
   ``Generator.choice`` without replacement), find the block of each rank from the
   cumulative block counts, and read only those blocks to find the pixel.

Pixels are ranked block by block (row-major blocks, row-major pixels within a block), so
the same seed on the same raster always gives the same sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from mcae.inference.assessment.allocation import allocate
from mcae.inference.assessment.equal_area import block_pixel_area

BLOCK = 512
GDAL_CACHE_MB = 64  # GDAL keeps decoded blocks (5 % of RAM by default): a full pass must not fill it


@dataclass
class Strata:
    """Per-block class counts of a raster (classes 1..255; 0 and nodata are no stratum)."""

    block: int
    rows: int                 # blocks down
    cols: int                 # blocks across
    counts: np.ndarray        # (rows * cols, 256) pixels of each class in each block
    pixel_area: np.ndarray    # (rows * cols,) m² of one pixel of each block, equal area
    width: int = 0
    height: int = 0
    crs: str = ""
    transform: tuple[float, ...] = field(default_factory=tuple)

    @property
    def classes(self) -> list[int]:
        return [int(c) for c in np.flatnonzero(self.counts.sum(axis=0)) if c != 0]

    def pixels(self, class_id: int) -> int:
        return int(self.counts[:, class_id].sum())

    def area_m2(self, class_id: int) -> float:
        return float(np.dot(self.counts[:, class_id], self.pixel_area))


def _count_rows(path: str, block: int, bands: range, counts: np.ndarray, cols: int) -> None:
    """Count the strips ``bands`` (strip numbers) of the raster into ``counts`` (one reader per thread)."""
    known: set[int] = {0}
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(path) as src:
        nodata = src.nodata
        for r in bands:
            top = r * block
            strip = src.read(1, window=Window(0, top, src.width, min(block, src.height - top)))
            if nodata is not None and 0 < nodata < 256:
                strip[strip == int(nodata)] = 0
            known |= _count_strip(strip, block, counts[r * cols:(r + 1) * cols], known)


def count_strata(path: str, block: int = BLOCK, threads: int | None = None) -> Strata:
    """Pass 1: pixels of each class in each ``block``-sized square of the raster, a strip of
    blocks at a time; ``threads`` readers (default: up to 4, the cores) take every n-th strip
    (GDAL's decoding and numpy's comparisons release the GIL). Memory: about 3 strips a thread."""
    from concurrent.futures import ThreadPoolExecutor

    with rasterio.open(path) as src:
        if src.count < 1 or np.dtype(src.dtypes[0]).kind not in "ui" or np.dtype(src.dtypes[0]).itemsize > 1:
            raise ValueError("the map must be a single-band 8-bit classified raster")
        width, height, crs, transform = src.width, src.height, src.crs, src.transform
    rows, cols = -(-height // block), -(-width // block)
    counts = np.zeros((rows * cols, 256), dtype=np.int64)
    n = max(1, min(threads or min(4, os.cpu_count() or 1), rows))
    with ThreadPoolExecutor(n) as pool:
        for done in [pool.submit(_count_rows, path, block, range(i, rows, n), counts, cols) for i in range(n)]:
            done.result()
    counts[:, 0] = 0
    area = block_pixel_area(crs, transform, width, height, block)
    return Strata(block=block, rows=rows, cols=cols, counts=counts, pixel_area=area, width=width,
                  height=height, crs=crs.to_string() if crs else "", transform=tuple(transform)[:6])


def _count_strip(strip: np.ndarray, block: int, out: np.ndarray, known: set[int]) -> set[int]:
    """Add the class counts of each block of a strip to ``out`` (blocks, 256); returns the classes
    seen. Fast path: one comparison per class already seen (numpy's ufuncs, no int64 copy of
    the strip); exact, since a strip whose counts do not add up is counted again by bincount."""
    h, w = strip.shape
    full = (w // block) * block
    nb = w // block
    candidates = sorted(known | set(np.unique(strip[::16, ::16]).tolist()))
    if full:
        blocks = strip[:, :full].reshape(h, nb, block)
        got = np.zeros((nb, 256), dtype=np.int64)
        for c in candidates:
            got[:, c] = (blocks == c).sum(axis=2, dtype=np.uint16).sum(axis=0, dtype=np.int64)
        if int(got.sum()) != h * full:  # a class the candidates missed: count the slow, sure way
            got = np.stack([np.bincount(blocks[:, i, :].ravel(), minlength=256) for i in range(nb)])
        out[:nb] += got
    if full < w:
        out[nb] += np.bincount(strip[:, full:].ravel(), minlength=256)
    return {int(c) for c in np.flatnonzero(out.sum(axis=0))}


@dataclass(frozen=True)
class SamplePoint:
    """One sample unit: a pixel, its stratum (= its map class) and where it is."""

    id: int
    row: int
    col: int
    x: float
    y: float
    lon: float
    lat: float
    stratum: int

    @property
    def map_class(self) -> int:
        return self.stratum


def draw_sample(path: str, allocation: dict[int, int], seed: int, strata: Strata) -> list[SamplePoint]:
    """Pass 2: ``allocation[class]`` distinct random pixels of each stratum."""
    rng = np.random.default_rng(seed)
    wanted: dict[int, list[tuple[int, int, int]]] = {}  # block -> [(class, rank in block, order)]
    order = 0
    for class_id in sorted(allocation):
        n_h = allocation[class_id]
        size = strata.pixels(class_id)
        if n_h <= 0:
            continue
        if n_h > size:
            raise ValueError(f"stratum {class_id} has {size} pixels, fewer than {n_h} points")
        ranks = np.sort(rng.choice(size, size=n_h, replace=False))
        cum = np.cumsum(strata.counts[:, class_id])
        blocks = np.searchsorted(cum, ranks, side="right")
        starts = np.concatenate([[0], cum])[blocks]
        for b, r in zip(blocks.tolist(), (ranks - starts).tolist(), strict=True):
            wanted.setdefault(b, []).append((class_id, r, order))
            order += 1
    found: list[tuple[int, int, int, int]] = []  # (order, row, col, class)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(path) as src:
        nodata = src.nodata
        for b in sorted(wanted):
            r0, c0 = (b // strata.cols) * strata.block, (b % strata.cols) * strata.block
            window = Window(c0, r0, min(strata.block, src.width - c0), min(strata.block, src.height - r0))
            data = src.read(1, window=window)
            for class_id, rank, o in wanted[b]:
                if nodata is not None and int(nodata) == class_id:
                    raise ValueError("the map's nodata value cannot be a stratum")
                flat = np.flatnonzero(data.ravel() == class_id)[rank]
                found.append((o, r0 + int(flat // window.width), c0 + int(flat % window.width), class_id))
        transform = src.transform
        crs = src.crs
    found.sort()
    rows = np.array([f[1] for f in found], dtype=float)
    cols = np.array([f[2] for f in found], dtype=float)
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center") if found else ([], [])
    xs, ys = np.atleast_1d(np.asarray(xs, dtype=float)), np.atleast_1d(np.asarray(ys, dtype=float))
    if found and crs is not None and crs.to_epsg() != 4326:
        lons, lats = warp_transform(crs, "EPSG:4326", xs.tolist(), ys.tolist())
    else:
        lons, lats = xs.tolist(), ys.tolist()
    return [SamplePoint(id=i + 1, row=int(f[1]), col=int(f[2]), x=float(x), y=float(y), lon=float(lon),
                        lat=float(lat), stratum=f[3])
            for i, (f, x, y, lon, lat) in enumerate(zip(found, xs, ys, lons, lats, strict=True))]


@dataclass(frozen=True)
class Design:
    """What was drawn and how: the numbers a report and ``design.json`` state."""

    method: str                      # "proportional-with-minimum" | "target-se"
    seed: int
    n: int
    min_per_class: int
    target_se: float | None
    expected_ua: dict[int, float]
    strata: dict[int, dict[str, float]]  # class -> {pixels, area_m2, n}

    def to_json(self) -> dict[str, object]:
        return {"method": self.method, "seed": self.seed, "n": self.n, "min_per_class": self.min_per_class,
                "target_se": self.target_se, "expected_ua": {str(k): v for k, v in self.expected_ua.items()},
                "strata": {str(k): v for k, v in self.strata.items()}}


def design_sample(path: str, *, seed: int, points: int | None = None, target_se: float | None = None,
                  min_per_class: int = 50, expected_ua: dict[int, float] | None = None,
                  default_ua: float = 0.85, block: int = BLOCK) -> tuple[Design, list[SamplePoint]]:
    """Count the strata, size and allocate the sample, draw it: the design and its points."""
    from mcae.inference.assessment.allocation import size_for_target_se

    if (points is None) == (target_se is None):
        raise ValueError("give either a number of points or a target standard error")
    strata = count_strata(path, block)
    classes = strata.classes
    if not classes:
        raise ValueError("the map has no classified pixel")
    pixels = np.array([strata.pixels(c) for c in classes])
    areas = np.array([strata.area_m2(c) for c in classes])
    ua = {c: float((expected_ua or {}).get(c, default_ua)) for c in classes}
    if target_se is not None:
        n = size_for_target_se(areas / areas.sum(), np.array([ua[c] for c in classes]), target_se)
        method = "target-se"
    else:
        n = int(points or 0)
        method = "proportional-with-minimum"
    n = min(n, int(pixels.sum()))
    alloc = allocate(n, pixels, min_per_class)
    allocation = {c: int(a) for c, a in zip(classes, alloc, strict=True)}
    drawn = draw_sample(path, allocation, seed, strata)
    design = Design(method=method, seed=seed, n=len(drawn), min_per_class=min_per_class, target_se=target_se,
                    expected_ua=ua if target_se is not None else {},
                    strata={c: {"pixels": int(p), "area_m2": float(a), "n": allocation[c]}
                            for c, p, a in zip(classes, pixels, areas, strict=True)})
    return design, drawn
