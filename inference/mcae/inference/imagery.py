"""Opening any input image and reading it window by window on the working grid.

The working grid is the scene resampled to the target GSD (0.6 m by default) in a
metric CRS: the input's own CRS when it is projected in metres, else the UTM zone
of the scene's centre. Images without georeferencing are accepted when the user
gives their GSD; they keep a local metric frame without a CRS.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from mcae.inference.errors import InputError
from mcae.inference.masks.base import PixelWindow

SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "uint32", "int32", "float32", "float64")
MIN_SIDE = 16  # px of the working grid: anything narrower holds no mask worth labelling
MAX_UPSAMPLE = 10.0  # working-grid px per source px, along a side: beyond it, pixels are invented


@dataclass
class SceneInfo:
    """Everything needed to reopen and resample a scene (stored in project.json)."""

    path: str
    src_width: int
    src_height: int
    src_dtype: str
    bands: list[int]  # 1-based source bands used, in band_names order
    band_names: list[str]
    alpha_band: int | None
    nodata: float | None
    src_crs: str | None  # WKT, None when not georeferenced
    src_transform: list[float]  # 6 affine coefficients (GDAL order a, b, c, d, e, f)
    gsd: float  # working GSD in metres
    crs: str | None  # working CRS (WKT)
    transform: list[float]
    width: int
    height: int
    stretch: list[list[float]] = field(default_factory=list)  # per band [low, high] -> 0..255

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform)

    @property
    def rio_crs(self) -> CRS | None:
        return CRS.from_wkt(self.crs) if self.crs else None

    def window_transform(self, window: PixelWindow, scale: float = 1.0) -> Affine:
        """Affine transform of a working-grid window read at ``scale``."""
        t = self.affine @ Affine.translation(window.col_off, window.row_off)
        return t @ Affine.scale(1 / scale)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_image(path: str | Path, *, gsd: float | None = None, target_gsd: float = 0.6,
                  band_names: list[str] | None = None) -> SceneInfo:
    """Validate an input image and plan its working grid.

    Raises :class:`InputError` with a one-line reason for anything unusable.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    if target_gsd <= 0 or (gsd is not None and gsd <= 0):
        raise InputError("the ground sampling distance must be a positive number of metres")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return _plan(src, path, gsd, target_gsd, band_names)
    except RasterioError as exc:
        raise InputError(f"{path}: not a readable image ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    """The first line of GDAL's own reason (rasterio's 'Read failed' wraps it)."""
    if exc.__cause__ is not None and "previous exception" in str(exc):
        exc = exc.__cause__
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _plan(src: Any, path: Path, gsd: float | None, target_gsd: float,
          band_names: list[str] | None) -> SceneInfo:
    if src.count == 0 or src.width == 0 or src.height == 0:
        raise InputError(f"{path}: the image has no bands or no pixels")
    if src.dtypes[0] not in SUPPORTED_DTYPES:
        raise InputError(f"{path}: unsupported pixel type {src.dtypes[0]}")
    bands, names, alpha = _choose_bands(src, band_names)
    georef = src.crs is not None
    if georef:
        crs, transform, width, height = _metric_grid(src, target_gsd)
        src_crs: str | None = src.crs.to_wkt()
        src_transform = src.transform
    else:
        if gsd is None:
            raise InputError(f"{path}: the image is not georeferenced; give its GSD with --gsd")
        crs = None
        src_transform = Affine(gsd, 0, 0, 0, -gsd, 0)
        src_crs = None
        transform = Affine(target_gsd, 0, 0, 0, -target_gsd, 0)
        width = max(1, round(src.width * gsd / target_gsd))
        height = max(1, round(src.height * gsd / target_gsd))
    upsample = math.sqrt(width * height / (src.width * src.height))  # per side, rotation aside
    if upsample > MAX_UPSAMPLE:
        raise InputError(f"{path}: its pixels are about {upsample:.0f} times coarser than the working GSD "
                         f"({target_gsd} m, {width} x {height} px); give a coarser --target-gsd")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{path}: {width} x {height} px at {target_gsd} m is too small to segment; "
                         f"MCAE needs at least {MIN_SIDE} px on each side")
    nodata = src.nodata if alpha is None else None
    return SceneInfo(
        path=str(path.resolve()), src_width=src.width, src_height=src.height,
        src_dtype=src.dtypes[0], bands=bands, band_names=names, alpha_band=alpha,
        nodata=None if nodata is None else float(nodata), src_crs=src_crs,
        src_transform=list(src_transform)[:6], gsd=target_gsd,
        crs=None if crs is None else crs.to_wkt(), transform=list(transform)[:6],
        width=width, height=height, stretch=_stretch(src, bands, nodata, alpha),
    )


def _choose_bands(src: Any, band_names: list[str] | None) -> tuple[list[int], list[str], int | None]:
    """Pick RGB (+ NIR) bands and an alpha band, if any."""
    if band_names:
        if len(band_names) != src.count:
            raise InputError(f"--bands names {len(band_names)} bands but the image has {src.count}")
        lowered = [n.strip().lower() for n in band_names]
        alpha = lowered.index("alpha") + 1 if "alpha" in lowered else None
        wanted: list[str] = [n for n in ("red", "green", "blue", "nir") if n in lowered]
        if wanted[:3] != ["red", "green", "blue"]:
            raise InputError("--bands must name red, green and blue")
        return [lowered.index(n) + 1 for n in wanted], wanted, alpha
    if src.count in (1, 2):
        raise InputError(f"{src.name}: {src.count}-band images are not supported; "
                         "give an RGB, RGBA or RGB+NIR image")
    if src.count == 3:
        return [1, 2, 3], ["red", "green", "blue"], None
    fourth = 4
    if src.colorinterp[3] == ColorInterp.alpha and _looks_like_alpha(src, fourth):
        return [1, 2, 3], ["red", "green", "blue"], fourth
    # A 4th band that is not a true 0/255 alpha is near infrared (NAIP tags it alpha).
    return [1, 2, 3, 4], ["red", "green", "blue", "nir"], None


def _looks_like_alpha(src: Any, band: int) -> bool:
    sample = _overview(src, [band])[0]
    return bool(np.isin(sample, (0, 255, 65535)).mean() > 0.98)


def _overview(src: Any, bands: list[int], size: int = 512) -> np.ndarray:
    factor = max(1, math.ceil(max(src.width, src.height) / size))
    shape = (len(bands), max(1, src.height // factor), max(1, src.width // factor))
    return np.asarray(src.read(bands, out_shape=shape, resampling=Resampling.nearest))


def _stretch(src: Any, bands: list[int], nodata: float | None,
             alpha: int | None) -> list[list[float]]:
    """Per-band [low, high] mapped to 0..255 (identity for uint8 input).

    An image whose overview holds no valid pixel (all no data, transparent, or beyond what
    float32 holds) is refused.
    """
    sample = _overview(src, bands).astype(np.float64)
    valid = np.all(np.isfinite(sample.astype(np.float32)), axis=0)
    if nodata is not None:
        valid &= ~np.all(sample == nodata, axis=0)
    if alpha is not None:
        valid &= _overview(src, [alpha])[0] > 0
    if not valid.any():
        raise InputError(f"{src.name}: the image holds no valid pixels (all no data, transparent or not finite)")
    if src.dtypes[0] == "uint8":
        return [[0.0, 255.0] for _ in bands]
    out = []
    for band in sample:
        values = band[valid & np.isfinite(band)]
        if values.size == 0:
            raise InputError(f"{src.name}: the image holds no valid pixels")
        low, high = np.percentile(values, [1, 99])
        out.append([float(low), float(max(high, low + 1e-6))])
    return out


def _metric_grid(src: Any, gsd: float) -> tuple[CRS, Affine, int, int]:
    """The working grid: a metric CRS and a transform at ``gsd`` covering the scene."""
    crs = src.crs
    if not (crs.is_projected and abs(crs.linear_units_factor[1] - 1.0) < 1e-9):
        crs = utm_crs_for(src.crs, src.bounds)
    left, bottom, right, top = transform_bounds(src.crs, crs, *src.bounds, densify_pts=21)
    # The grid starts at the scene's corner: an input already at the target GSD in a
    # metric CRS is then read pixel for pixel, without resampling.
    width = max(1, math.ceil((right - left) / gsd - 1e-6))
    height = max(1, math.ceil((top - bottom) / gsd - 1e-6))
    return crs, Affine(gsd, 0, left, 0, -gsd, top), width, height


def utm_crs_for(crs: CRS, bounds: tuple[float, float, float, float]) -> CRS:
    """The UTM zone (WGS 84) of the centre of ``bounds`` given in ``crs``."""
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds)
    lon, lat = (west + east) / 2, (south + north) / 2
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


class RasterScene:
    """A :class:`~mcae.inference.masks.base.SceneReader` over a file, on the working grid.

    Picklable (it reopens the file lazily in each process) so Dask workers can use it.
    Every read touches only the source pixels under the window.
    """

    def __init__(self, info: SceneInfo) -> None:
        self.info = info
        self._src: Any = None
        self._last: tuple[Any, tuple[np.ndarray, np.ndarray]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"info": self.info, "_src": None, "_last": None}

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(self.info.band_names)

    def close(self) -> None:
        if self._src is not None:
            self._src.close()
            self._src = None

    def _dataset(self) -> Any:
        if self._src is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._src = rasterio.open(self.info.path)
        return self._src

    def read(self, window: PixelWindow, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Image (uint8, bands x h x w) and validity of a working-grid window.

        The last read is kept, so a generator and the feature step share one read.
        """
        key = (window, scale)
        if self._last is None or self._last[0] != key:
            self._last = (key, self.read_source(window, scale, Resampling.bilinear))
        image, valid = self._last[1]
        return image.copy(), valid.copy()

    def read_source(self, window: PixelWindow, scale: float,
                    resampling: Resampling) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`read`, uncached; a file that cannot be read is an :class:`InputError`."""
        try:
            return self._read_source(window, scale, resampling)
        except RasterioError as exc:
            raise InputError(f"{self.info.path}: cannot read its pixels near row {window.row_off}, "
                             f"column {window.col_off} ({_first_line(exc)})") from None

    def _read_source(self, window: PixelWindow, scale: float,
                     resampling: Resampling) -> tuple[np.ndarray, np.ndarray]:
        info, src = self.info, self._dataset()
        if scale == 1.0 and self._on_source_grid():
            return self._read_aligned(src, window)
        shape = (round(window.height * scale), round(window.width * scale))
        dst_transform = info.window_transform(window, scale)
        image = np.zeros((len(info.bands), *shape), np.float32)
        valid = np.zeros(shape, np.uint8)
        src_window = self._source_window(dst_transform, shape)
        if src_window is None:
            return image.astype(np.uint8), valid.astype(bool)
        if resampling == Resampling.bilinear and src_window.width > 1.5 * shape[1]:
            resampling = Resampling.average  # downsampling: average, don't alias
        data = src.read(info.bands, window=src_window).astype(np.float32)
        mask = self._validity(src, src_window, data)
        src_transform = Affine(*info.src_transform) @ Affine.translation(
            src_window.col_off, src_window.row_off)
        crs_kw = self._crs_kwargs()
        reproject(data, image, src_transform=src_transform, dst_transform=dst_transform,
                  resampling=resampling, src_nodata=None, dst_nodata=None, **crs_kw)
        reproject(mask, valid, src_transform=src_transform, dst_transform=dst_transform,
                  resampling=Resampling.nearest, src_nodata=None, dst_nodata=None, **crs_kw)
        return self._to_uint8(image), valid.astype(bool)

    def _on_source_grid(self) -> bool:
        """Whether the working grid is the source's own (same CRS, same pixels): no warp needed."""
        info = self.info
        if not info.georeferenced or info.src_crs != info.crs:
            return False
        return all(math.isclose(a, b, rel_tol=0, abs_tol=1e-9) for a, b in zip(info.src_transform, info.transform,
                                                                              strict=True))

    def _read_aligned(self, src: Any, window: PixelWindow) -> tuple[np.ndarray, np.ndarray]:
        """A plain windowed read (what the warp gives on the source's own grid, several times faster)."""
        info = self.info
        image = np.zeros((len(info.bands), window.height, window.width), np.uint8)
        valid = np.zeros((window.height, window.width), bool)
        row0, col0 = max(window.row_off, 0), max(window.col_off, 0)
        row1 = min(window.row_off + window.height, info.src_height)
        col1 = min(window.col_off + window.width, info.src_width)
        if row1 <= row0 or col1 <= col0:
            return image, valid
        part = Window(col0, row0, col1 - col0, row1 - row0)
        data = src.read(info.bands, window=part)
        if data.dtype != np.uint8:  # 8-bit pixels are the working type already: no float round trip
            data = data.astype(np.float32)
        r, c = row0 - window.row_off, col0 - window.col_off
        image[:, r:r + part.height, c:c + part.width] = data if data.dtype == np.uint8 else self._to_uint8(data)
        valid[r:r + part.height, c:c + part.width] = self._validity(src, part, data).astype(bool)
        return image, valid

    def _crs_kwargs(self) -> dict[str, Any]:
        if self.info.georeferenced:
            return {"src_crs": CRS.from_wkt(self.info.src_crs or ""), "dst_crs": self.info.rio_crs}
        # A local frame: both grids share one arbitrary metric CRS, only scale differs.
        local = CRS.from_epsg(3857)
        return {"src_crs": local, "dst_crs": local}

    def _source_window(self, dst_transform: Affine, shape: tuple[int, int]) -> Window | None:
        info = self.info
        left, top = dst_transform @ (0, 0)
        right, bottom = dst_transform @ (shape[1], shape[0])
        if info.georeferenced:
            left, bottom, right, top = transform_bounds(
                info.rio_crs, CRS.from_wkt(info.src_crs or ""), left, bottom, right, top,
                densify_pts=5)
        # The source pixels under the box's four corners: right for rotated or sheared
        # source grids too (rasterio's from_bounds assumes a north-up one).
        inverse = ~Affine(*info.src_transform)
        corners = [inverse @ (x, y) for x in (left, right) for y in (bottom, top)]
        cols, rows = [c for c, _ in corners], [r for _, r in corners]
        row0 = max(math.floor(min(rows)) - 2, 0)
        col0 = max(math.floor(min(cols)) - 2, 0)
        row1 = min(math.ceil(max(rows)) + 2, info.src_height)
        col1 = min(math.ceil(max(cols)) + 2, info.src_width)
        if row1 <= row0 or col1 <= col0:
            return None
        return Window(col0, row0, col1 - col0, row1 - row0)

    def _validity(self, src: Any, window: Window, data: np.ndarray) -> np.ndarray:
        info = self.info
        valid = np.ones(data.shape[1:], np.uint8)
        if info.alpha_band is not None:
            valid &= (src.read(info.alpha_band, window=window) > 0).astype(np.uint8)
        if info.nodata is not None:
            valid &= (~np.all(data == info.nodata, axis=0)).astype(np.uint8)
        valid &= np.all(np.isfinite(data), axis=0).astype(np.uint8)
        return valid

    def _to_uint8(self, image: np.ndarray) -> np.ndarray:
        if self.info.src_dtype == "uint8":
            return np.clip(np.rint(image), 0, 255).astype(np.uint8)
        out = np.empty(image.shape, np.uint8)
        for i, (low, high) in enumerate(self.info.stretch):
            scaled = (np.nan_to_num(image[i]) - low) * (255.0 / (high - low))
            out[i] = np.clip(np.rint(scaled), 0, 255)
        return out


def open_scene(path: str | Path, **kwargs: Any) -> RasterScene:
    """Inspect ``path`` and return a reader on its working grid."""
    return RasterScene(inspect_image(path, **kwargs))
