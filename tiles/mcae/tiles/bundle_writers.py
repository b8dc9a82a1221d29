"""Bundle file writers: MBTiles 1.3 (SQLite), PMTiles v3 and a zip of ``z/x/y.png``.

Each writer takes PNG tiles addressed in XYZ (row 0 at the top) and writes one file;
the caller makes the file atomic (it writes to a temporary path, then renames it).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer as PMTilesWriter

EXTENSIONS = {"mbtiles": "mbtiles", "pmtiles": "pmtiles", "zip": "zip"}
MEDIA_TYPES = {"mbtiles": "application/vnd.sqlite3", "pmtiles": "application/vnd.pmtiles",
               "zip": "application/zip"}


@dataclass(frozen=True)
class BundleMeta:
    """What a bundle says about itself."""

    name: str
    description: str
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    center: tuple[float, float, int]  # lon, lat, zoom
    minzoom: int
    maxzoom: int
    version: str  # the layer's version
    provenance: str
    legend: list[dict[str, Any]] | None = None
    format: str = "png"


class BundleWriter(Protocol):
    def add(self, z: int, x: int, y: int, data: bytes) -> None: ...

    def close(self) -> None: ...


class MBTilesWriter:
    """MBTiles 1.3: ``metadata`` (name/value) and ``tiles`` with TMS rows (flipped y)."""

    def __init__(self, path: Path, meta: BundleMeta) -> None:
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(str(path))
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=4096;"
            "CREATE TABLE metadata (name TEXT, value TEXT);"
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
            " tile_data BLOB);"
            "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
            "CREATE UNIQUE INDEX name ON metadata (name);")
        w, s, e, n = meta.bounds
        rows = {"name": meta.name, "format": meta.format, "bounds": f"{w:.7f},{s:.7f},{e:.7f},{n:.7f}",
                "center": f"{meta.center[0]:.7f},{meta.center[1]:.7f},{meta.center[2]}",
                "minzoom": str(meta.minzoom), "maxzoom": str(meta.maxzoom), "type": "overlay",
                "description": meta.description, "attribution": f"MCAE ({meta.provenance} data)",
                "mcae_layer_version": meta.version}
        if meta.legend:
            rows["mcae_legend"] = json.dumps(meta.legend)
        self.db.executemany("INSERT INTO metadata (name, value) VALUES (?, ?)", rows.items())

    def add(self, z: int, x: int, y: int, data: bytes) -> None:
        self.db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))

    def close(self) -> None:
        self.db.commit()
        self.db.close()


class PMTilesBundle:
    """PMTiles v3 with the ``pmtiles`` package's writer (tiles added in tile-id order)."""

    def __init__(self, path: Path, meta: BundleMeta) -> None:
        self.file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.writer = PMTilesWriter(self.file)
        self.meta = meta
        self.count = 0

    def add(self, z: int, x: int, y: int, data: bytes) -> None:
        self.writer.write_tile(zxy_to_tileid(z, x, y), data)
        self.count += 1

    def close(self) -> None:
        try:
            if self.count:
                m = self.meta
                w, s, e, n = m.bounds
                header: dict[str, Any] = {
                    "tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                    "min_zoom": m.minzoom, "max_zoom": m.maxzoom,
                    "min_lon_e7": int(w * 1e7), "min_lat_e7": int(s * 1e7),
                    "max_lon_e7": int(e * 1e7), "max_lat_e7": int(n * 1e7),
                    "center_zoom": m.center[2], "center_lon_e7": int(m.center[0] * 1e7),
                    "center_lat_e7": int(m.center[1] * 1e7)}
                metadata = {k: v for k, v in asdict(m).items() if v is not None}
                self.writer.finalize(header, metadata)
        finally:
            self.file.close()


class ZipBundle:
    """A zip of ``z/x/y.png`` (stored: PNG is compressed already) and ``metadata.json``."""

    def __init__(self, path: Path, meta: BundleMeta) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED)
        self.meta = meta

    def add(self, z: int, x: int, y: int, data: bytes) -> None:
        self.zip.writestr(f"{z}/{x}/{y}.{self.meta.format}", data)

    def close(self) -> None:
        self.zip.writestr("metadata.json", json.dumps(asdict(self.meta), indent=2))
        self.zip.close()


@contextlib.contextmanager
def open_writer(fmt: str, path: Path, meta: BundleMeta) -> Iterator[BundleWriter]:
    """A writer for ``fmt`` on ``path``, closed (and finalised) on leaving."""
    kinds: dict[str, Callable[[Path, BundleMeta], BundleWriter]] = {
        "mbtiles": MBTilesWriter, "pmtiles": PMTilesBundle, "zip": ZipBundle}
    writer = kinds[fmt](path, meta)
    try:
        yield writer
    finally:
        writer.close()
