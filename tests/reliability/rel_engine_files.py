"""Bad inputs for the engine's commands, the in-process CLI and the 'nothing left behind' check.

Shared by the reliability tests of the engine (``test_rel_bad_files.py`` and its neighbours).
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from click.testing import Result
from rasterio.crs import CRS
from typer.testing import CliRunner

from mcae.platform.cli import get_app

ORIGIN = (668000.0, 3550000.0)  # UTM 50N, near Nanjing
SMALL_SEGMENT = ["--patch-size", "32", "--neighbourhood", "2", "--scheduler", "synchronous", "-q"]


def mcae(*args: str | Path) -> Result:
    """Run ``mcae ARGS`` in this process (what hypothesis can repeat quickly)."""
    return CliRunner().invoke(get_app(), [str(a) for a in args])


def error_line(result: Result) -> str:
    """The single ``error:`` line of a refused command; fails on a traceback or several lines."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}")
    out = result.output
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, out
    assert lines[-1] == errors[0], f"output after the error line: {out!r}"
    assert len(errors[0]) > len("error: ") + 10, out
    return errors[0]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: relative path -> content hash ('dir' for folders)."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest()
    return out


# -- images ------------------------------------------------------------------------------------

def scene_array(height: int, width: int, seed: int, bands: int = 3) -> np.ndarray:
    """Seeded blocks of a few colours with noise (uint8, bands x h x w)."""
    rng = np.random.default_rng(seed)
    image = np.full((bands, height, width), 140.0)
    for _ in range(max(1, height * width // 200)):
        r, c = rng.integers(0, max(1, height - 4)), rng.integers(0, max(1, width - 4))
        h, w = rng.integers(3, 12), rng.integers(3, 12)
        image[:, r:r + h, c:c + w] = rng.integers(20, 235, size=(bands, 1, 1))
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ImageSpec:
    """One generated input image: what it holds and how it is georeferenced."""

    height: int
    width: int
    bands: int = 3
    dtype: str = "uint8"
    nodata: float | None = None
    nodata_share: float = 0.0  # share of pixels set to the nodata value (or NaN)
    angle: float = 0.0  # rotation of the pixel grid, degrees
    shear: float = 0.0
    crs: str | None = "EPSG:32650"
    seed: int = 0

    def transform(self) -> Affine:
        return (Affine.translation(*ORIGIN) @ Affine.rotation(self.angle) @ Affine.shear(self.shear, 0)
                @ Affine.scale(0.6, -0.6))


def image_bytes(spec: ImageSpec, compress: str | None = None) -> bytes:
    """The GeoTIFF of ``spec`` as bytes (``compress``: deflate, lzw ...; 16-row strips then)."""
    rng = np.random.default_rng(spec.seed)
    base = scene_array(spec.height, spec.width, spec.seed, spec.bands).astype(np.float64)
    if spec.dtype in ("uint16", "int32", "uint32"):
        base = base * 200 + (0 if spec.dtype != "int32" else -20000)
    elif spec.dtype.startswith("float"):
        base = base / 255.0
    elif spec.dtype == "int16":
        base = base * 50 - 5000
    hole = rng.random((spec.height, spec.width)) < spec.nodata_share
    data = base.astype(spec.dtype)
    if spec.nodata is not None and hole.any():
        data[:, hole] = np.asarray(spec.nodata).astype(spec.dtype)
    profile: dict[str, Any] = {
        "driver": "GTiff", "width": spec.width, "height": spec.height, "count": spec.bands,
        "dtype": spec.dtype, "transform": spec.transform(),
        "crs": CRS.from_string(spec.crs) if spec.crs else None}
    if spec.nodata is not None:
        profile["nodata"] = spec.nodata
    if compress:
        profile.update(compress=compress, blockysize=16)
    with rasterio.MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(data)
        return bytes(memfile.read())


def tiff_tags(data: bytes) -> dict[int, tuple[int, int, int]]:
    """Tags of the first IFD of a classic little-endian TIFF: tag -> (entry offset, type, count)."""
    assert data[:4] == b"II*\x00", "not a classic little-endian TIFF"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    out = {}
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, kind, n = struct.unpack_from("<HHI", data, at)
        out[tag] = (at, kind, n)
    return out


def set_tiff_tag(data: bytes, tag: int, value: int) -> bytes:
    """``data`` with the (single, inline) value of ``tag`` replaced; unchanged if absent."""
    entry = tiff_tags(data).get(tag)
    if entry is None:
        return data
    at, kind, _ = entry
    buf = io.BytesIO(data)
    buf.seek(at + 8)
    if kind == 3:  # SHORT
        buf.write(struct.pack("<H", value & 0xFFFF) + b"\x00\x00")
    else:  # LONG (or anything else: written as 4 bytes)
        buf.write(struct.pack("<I", value & 0xFFFFFFFF))
    return buf.getvalue()
