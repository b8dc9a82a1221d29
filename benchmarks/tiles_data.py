"""Data of the tile benchmark: a synthetic city map (COG), its catalog, tile lists, static tiles.

The map is a believable categorical land-cover map at 0.6 m in UTM (EPSG:32650, around
Nanjing's coordinates), 40,000 x 40,000 px (24 x 24 km) by default, with the MCAE palette,
written by ``mcae.inference.cog.write_class_cog`` from 2048-row strips made procedurally:
hashed value noise and blocky noise on a 2.4 m cell grid (4 x 4 px), upsampled. It has an
urban core (street grid, building footprints, paved ground, parks), agricultural
periphery (fields, farm tracks, villages), a river, lakes, forest patches and bare land.
Every pixel is a function of its global position, so strips join without seams and the
same arguments always give the same file.

Generated once into ``/tmp/mcae-tiles-bench`` (``--data-dir``) and reused while its
parameters (recorded in ``<name>.json``) match. Its catalog layer gets the serving copy
every catalog layer gets (``mcae.tiles.serving``), kept beside the catalog and reused
while the map is unchanged.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

DATA_DIR = Path("/tmp/mcae-tiles-bench")
GSD = 0.6
CELL = 4  # px per cell of the generator (2.4 m)
STRIP = 2048  # rows per window handed to write_class_cog
CENTRE_LONLAT = (118.78, 32.05)
CRS = "EPSG:32650"
SEED = 20250611
GENERATOR_VERSION = 1

# MCAE ids
BARE, RANGE, DEVELOPED, ROAD, TREE, WATER, AGRI, BUILDING, OTHERS = range(1, 10)


# -- procedural noise on integer lattices ----------------------------------------------------
def _hash(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """A uint32 hash of integer lattice coordinates (wrapping arithmetic)."""
    h = (a.astype(np.uint32) * np.uint32(0x8DA6B343)) ^ (b.astype(np.uint32) * np.uint32(0xD8163841))
    h ^= np.uint32((seed * 0x9E3779B1) & 0xFFFFFFFF)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x2C1B3C6D)
    h ^= h >> np.uint32(12)
    h *= np.uint32(0x297A2D39)
    h ^= h >> np.uint32(15)
    return h


def _unit(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    return (_hash(a, b, seed) >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def blocky(rows: np.ndarray, cols: np.ndarray, size_r: int, size_c: int, seed: int) -> np.ndarray:
    """Uniform [0, 1) constant on blocks of size_r x size_c cells (rows: column vector)."""
    return _unit(rows // size_r, cols // size_c, seed)


def smooth(rows: np.ndarray, cols: np.ndarray, scale: float, seed: int) -> np.ndarray:
    """Value noise in [0, 1), smoothly interpolated between lattice points ``scale`` cells apart."""
    fr, fc = rows / scale, cols / scale
    r0, c0 = np.floor(fr).astype(np.int64), np.floor(fc).astype(np.int64)
    tr, tc = (fr - r0).astype(np.float32), (fc - c0).astype(np.float32)
    tr, tc = tr * tr * (3 - 2 * tr), tc * tc * (3 - 2 * tc)
    v00, v01 = _unit(r0, c0, seed), _unit(r0, c0 + 1, seed)
    v10, v11 = _unit(r0 + 1, c0, seed), _unit(r0 + 1, c0 + 1, seed)
    top = v00 + (v01 - v00) * tc
    return top + ((v10 + (v11 - v10) * tc) - top) * tr


def fractal(rows: np.ndarray, cols: np.ndarray, scale: float, seed: int, octaves: int = 3) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(rows.shape, cols.shape), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        out += np.float32(amp) * smooth(rows, cols, scale / 2 ** k, seed + 7 * k)
        total += amp
        amp *= 0.5
    return out / np.float32(total)


def _lines(coord: np.ndarray, period: np.ndarray | int, width: int, offset: np.ndarray | int) -> np.ndarray:
    return ((coord + offset) % period) < width


def classify_cells(r0: int, c0: int, n_rows: int, n_cols: int, total_cells: int, seed: int = SEED,
                   step: int = 1) -> np.ndarray:
    """Class ids of the cells [r0, r0 + n_rows) x [c0, c0 + n_cols) of the map (uint8);
    ``step`` > 1 samples every step-th cell (previews)."""
    rows = (r0 + step * np.arange(n_rows, dtype=np.int64))[:, None]
    cols = (c0 + step * np.arange(n_cols, dtype=np.int64))[None, :]
    half = total_cells / 2
    # urban intensity: radial falloff from the centre, broken up by noise
    dist = np.sqrt(((rows - half) / half) ** 2 + ((cols - half * 0.9) / half) ** 2).astype(np.float32)
    macro = fractal(rows, cols, 1200, seed + 1)
    urban = np.clip(1.25 - 1.1 * dist + 0.9 * (macro - 0.5), 0, 1)
    # land outside the city: fields (anisotropic blocks), meadows, forest, bare land, villages
    field = blocky(rows + (blocky(rows, cols, 300, 300, seed + 2) * 40).astype(np.int64), cols, 45, 90, seed + 3)
    out = np.full(urban.shape, AGRI, np.uint8)
    out[field < 0.16] = RANGE
    out[(field >= 0.16) & (field < 0.22)] = BARE
    out[(field >= 0.22) & (field < 0.27)] = TREE
    forest = fractal(rows, cols, 400, seed + 4)
    out[forest > 0.68] = TREE
    tracks = _lines(rows, 150, 2, 0) | _lines(cols, 190, 2, 37)
    out[tracks & (urban < 0.35)] = DEVELOPED
    # the city: parcels between streets, buildings, paved ground, parks
    city = urban >= 0.35
    sb_r, sb_c = rows // 420, cols // 420  # superblocks, each with its own street offsets and pitch
    pitch = 40 + (blocky(rows, cols, 420, 420, seed + 5) * 30).astype(np.int64)
    off = (_unit(sb_r, sb_c, seed + 6) * 60).astype(np.int64)
    streets = _lines(rows, pitch, 4, off) | _lines(cols, pitch + 9, 4, off * 3)
    # building footprints: one per lot of 9 x 11 cells (22 x 26 m), sized per lot
    lot_r, lot_c = rows // 9, cols // 11
    size_r = 3 + (_unit(lot_r, lot_c, seed + 7) * 5).astype(np.int64)
    size_c = 3 + (_unit(lot_r, lot_c, seed + 8) * 7).astype(np.int64)
    in_lot = ((rows % 9) >= 1) & ((rows % 9) < 1 + size_r) & ((cols % 11) >= 1) & ((cols % 11) < 1 + size_c)
    b2 = blocky(rows + 2, cols + 3, 4, 4, seed + 9)
    density = 0.35 + 0.55 * urban
    building = in_lot & (_unit(lot_r, lot_c, seed + 15) < density)
    ground = np.where(b2 < 0.7, DEVELOPED, np.where(b2 < 0.9, TREE, RANGE))
    parcel = np.where(building, BUILDING, ground)
    park = (smooth(rows, cols, 120, seed + 10) > 0.78) & ~streets
    parcel = np.where(park, np.where(b2 < 0.8, TREE, RANGE), parcel)
    parcel = np.where(streets, ROAD, parcel)
    out = np.where(city, parcel, out).astype(np.uint8)
    construction = (blocky(rows, cols, 90, 110, seed + 11) < 0.035) & city
    out = np.where(construction, np.where(b2 < 0.85, BARE, OTHERS), out).astype(np.uint8)
    others = (blocky(rows, cols, 12, 12, seed + 12) < 0.004)
    out[others] = OTHERS
    # arterials (every ~1 km) and a ring road, over everything but water
    arterial = _lines(rows, 420, 10, 200) | _lines(cols, 420, 10, 95)
    ring = np.abs(dist - 0.55) < 0.0025
    out[(arterial & (urban > 0.15)) | ring] = ROAD
    # water last: a river across the map, lakes in the countryside
    bend = (0.18 * half * np.sin(rows / (0.31 * half) + 0.7)
            + 0.07 * half * np.sin(rows / (0.07 * half))).astype(np.float32)
    river = np.abs(cols - (0.62 * total_cells + bend)) < 70 + 25 * smooth(rows, cols * 0, 300, seed + 13)
    lakes = (fractal(rows, cols, 500, seed + 14) > 0.74) & (urban < 0.5)
    bridges = _lines(rows, 1300, 8, 600)
    out[(river & ~bridges) | lakes] = WATER
    return out


def map_windows(size: int, seed: int = SEED) -> Iterator[tuple[Any, np.ndarray]]:
    """(PixelWindow, class ids) strips covering a ``size`` x ``size`` px map."""
    from mcae.inference.masks.base import PixelWindow

    total_cells = size // CELL
    for row_off in range(0, size, STRIP):
        height = min(STRIP, size - row_off)
        n_rows = -(-height // CELL)
        cells = classify_cells(row_off // CELL, 0, n_rows, total_cells, total_cells, seed)
        data = np.repeat(np.repeat(cells, CELL, axis=0), CELL, axis=1)[:height, :size]
        yield PixelWindow(row_off, 0, height, size), data


# -- files -------------------------------------------------------------------------------------
def _matches(meta_path: Path, params: dict[str, Any]) -> bool:
    try:
        return json.loads(meta_path.read_text()).get("params") == params
    except (OSError, ValueError):
        return False


def city_cog(size: int, data_dir: Path = DATA_DIR, log: Any = print) -> Path:
    """The UTM city map, generated when missing or made with other parameters."""
    from affine import Affine
    from rasterio.crs import CRS as RASTERIO_CRS
    from rasterio.warp import transform as warp_transform

    from mcae.inference.classes import MCAE
    from mcae.inference.cog import write_class_cog

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"city-{size}.tif"
    meta_path = path.with_suffix(".json")
    params = {"size": size, "gsd": GSD, "crs": CRS, "centre": list(CENTRE_LONLAT), "seed": SEED,
              "generator": GENERATOR_VERSION}
    if path.is_file() and _matches(meta_path, params):
        return path
    xs, ys = warp_transform("EPSG:4326", CRS, [CENTRE_LONLAT[0]], [CENTRE_LONLAT[1]])
    half = size * GSD / 2
    west, north = round((xs[0] - half) / GSD) * GSD, round((ys[0] + half) / GSD) * GSD
    transform = Affine(GSD, 0, west, 0, -GSD, north)
    log(f"generating {path} ({size:,} x {size:,} px at {GSD} m, {CRS}); once, then cached ...")
    t0 = time.perf_counter()
    write_class_cog(path, width=size, height=size, transform=transform, crs=RASTERIO_CRS.from_string(CRS),
                    windows=map_windows(size), scheme=MCAE,
                    tags={"PROVENANCE": "synthetic (MCAE tile benchmark)"})
    seconds = time.perf_counter() - t0
    meta_path.write_text(json.dumps({"params": params, "seconds": round(seconds, 1),
                                     "bytes": path.stat().st_size}, indent=2))
    log(f"  written in {seconds:.0f} s, {path.stat().st_size / 1e6:.0f} MB")
    return path


def make_catalog(layers: dict[str, Path], folder: Path, extra_cities: int = 0,
                 serving: set[str] | None = None, log: Any = print) -> Path:
    """A catalog with city ``bench`` holding the given MCAE layers (id -> file).

    Layers named in ``serving`` (default: all) get their serving copy, as ``mcae catalog
    add`` gives them; the others are served from their own file.

    ``extra_cities`` adds that many other cities (4 layers on the same files, 10 districts
    of 100-vertex polygons each), for a catalog of a realistic size.
    """
    from mcae.tiles.catalog import CatalogStore, City, District, LayerKind
    from mcae.tiles.layers import layer_from_file

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.json"
    path.unlink(missing_ok=True)
    store = CatalogStore(path)
    store.put_city(City(id="bench", name="Benchmark city", provenance="synthetic",
                        description="synthetic map of the MCAE tile benchmark"))
    for layer_id, file in layers.items():
        copy = serving is None or layer_id in serving
        t0 = time.perf_counter()
        store.put_layer("bench", layer_from_file(store, file, kind=LayerKind.mcae, layer_id=layer_id,
                                                 title=f"MCAE ({layer_id})", provenance="synthetic", serving=copy))
        if copy and time.perf_counter() - t0 > 5:
            log(f"  serving copy of {layer_id} written in {time.perf_counter() - t0:.0f} s")
    if extra_cities:
        catalog = store.load()
        base = next(iter(catalog.cities["bench"].layers.values()))
        w, s, e, n = base.bounds
        for c in range(extra_cities):
            districts = {}
            for k in range(10):
                cx, cy, r = w + (e - w) * (k + 0.5) / 10, (s + n) / 2, (e - w) / 25
                ring = [[cx + r * math.cos(2 * math.pi * a / 100), cy + r * math.sin(2 * math.pi * a / 100)]
                        for a in range(100)]
                districts[f"d{k}"] = District(id=f"d{k}", name=f"District {k}",
                                              geometry={"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
            layers_c = {lid: base.model_copy(update={"id": lid}) for lid in ("imagery", "mcae", "sinolc1", "agreement")}
            catalog.cities[f"city-{c}"] = City(id=f"city-{c}", name=f"City {c}", provenance="synthetic",
                                               layers=layers_c, districts=districts)
        store.save(catalog)
    return path


# -- tile lists ----------------------------------------------------------------------------------
def tiles_inside(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """Every WebMercatorQuad tile at ``z`` lying entirely inside the geographic bounds."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    w, s, e, n = bounds
    out = []
    for t in tms.tiles(w, s, e, n, [z]):
        b = tms.bounds(t)
        if b.left >= w and b.right <= e and b.bottom >= s and b.top <= n:
            out.append((z, t.x, t.y))
    return out


def random_tiles(bounds: tuple[float, float, float, float], z: int, n: int, rng: random.Random,
                 exclude: set[tuple[int, int, int]] | None = None) -> list[tuple[int, int, int]]:
    """``n`` distinct random tiles at ``z`` inside the bounds (none of ``exclude``)."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    w, s, e, n_ = bounds
    ul, lr = tms.tile(w, n_, z), tms.tile(e, s, z)
    x0, x1, y0, y1 = ul.x + 1, lr.x - 1, ul.y + 1, lr.y - 1  # whole tiles only
    capacity = (x1 - x0 + 1) * (y1 - y0 + 1)
    exclude = exclude or set()
    if n > capacity - len(exclude):
        raise ValueError(f"only {capacity} tiles at z{z}; asked for {n}")
    picked: list[tuple[int, int, int]] = []
    seen = set(exclude)
    while len(picked) < n:
        t = (z, rng.randint(x0, x1), rng.randint(y0, y1))
        if t not in seen:
            seen.add(t)
            picked.append(t)
    return picked


def split_disjoint(pool: list[tuple[int, int, int]], parts: int, per_part: int,
                   rng: random.Random) -> list[list[tuple[int, int, int]]]:
    """``parts`` disjoint lists of ``per_part`` tiles from ``pool`` (shuffled, seeded)."""
    pool = list(pool)
    rng.shuffle(pool)
    if parts * per_part > len(pool):
        per_part = len(pool) // parts
    return [pool[i * per_part:(i + 1) * per_part] for i in range(parts)]


def low_zoom_pool(bounds: tuple[float, float, float, float], zooms: list[int]) -> list[tuple[int, int, int]]:
    """Every whole tile at the low zooms."""
    return [t for z in zooms for t in tiles_inside(bounds, z)]


def pixel_scale(bounds: tuple[float, float, float, float]) -> float:
    """Ground metres per web-mercator metre at the map's latitude."""
    return math.cos(math.radians((bounds[1] + bounds[3]) / 2))
