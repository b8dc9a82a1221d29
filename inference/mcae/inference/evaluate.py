"""Accuracy of a land-cover map against a reference raster, counted window by window.

The confusion matrix has rows = reference and columns = map, over the classes of a
scheme. Id 0 (and a raster's declared nodata value) is "no data" and is ignored on
either side; ids outside the scheme are counted as unknown and ignored too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from mcae.inference.classes import MCAE, ClassScheme
from mcae.inference.errors import InputError
from mcae.inference.gdal_cache import bounded_gdal_cache
from mcae.inference.report import AccuracyReport

__all__ = [
    "AccuracyReport",
    "confusion_matrix_from_arrays",
    "evaluate_rasters",
    "metrics_from_confusion",
    "scored_class_ids",
]

MergeGroups = Sequence[tuple[int, ...]]

_NODATA = -2  # lookup-table value of id 0
_UNKNOWN = -1  # lookup-table value of ids outside the scheme


def _check_merge(
    scheme: ClassScheme, merge: Iterable[Sequence[int]] | None
) -> list[tuple[int, ...]]:
    """Validate merge groups: known ids, each id in at most one group."""
    groups = [tuple(int(i) for i in g) for g in merge or ()]
    seen: set[int] = set()
    for group in groups:
        for cid in group:
            if cid not in scheme.ids:
                raise InputError(
                    f"merge group {group}: {cid} is not a class id of scheme {scheme.name!r} "
                    f"(known: {scheme.ids})"
                )
            if cid in seen:
                raise InputError(f"merge groups overlap: class id {cid} is in more than one group")
            seen.add(cid)
    return [g for g in groups if len(g) > 1]


def scored_class_ids(scheme: ClassScheme, merge: MergeGroups = ()) -> list[int]:
    """The ids that get a row and column: the scheme's, less those merged into another."""
    merged_away = {cid for group in merge for cid in group[1:]}
    return [cid for cid in scheme.ids if cid not in merged_away]


def _lookup_table(class_ids: Sequence[int], merge: MergeGroups) -> np.ndarray:
    """Raw id -> matrix index; 0 -> _NODATA; anything else (incl. the last entry) -> _UNKNOWN."""
    if not class_ids or min(class_ids) < 1:
        raise ValueError(f"class ids must be positive and non-empty, got {list(class_ids)}")
    top = max([*class_ids, *(cid for group in merge for cid in group)])
    lut = np.full(max(top + 2, 256), _UNKNOWN, dtype=np.intp)  # uint8 indexes it directly
    lut[0] = _NODATA
    lut[list(class_ids)] = np.arange(len(class_ids))
    for group in merge:
        if group[0] not in class_ids:
            raise ValueError(f"merge group {group}: its first id must be one of {list(class_ids)}")
        lut[list(group)] = lut[group[0]]
    return lut


def _indices(arr: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Matrix index (or _NODATA / _UNKNOWN) of every pixel."""
    if arr.dtype == np.uint8:
        return lut[arr]
    # Ids beyond the table (or negative) land on its last entry, which is _UNKNOWN.
    return lut[np.clip(arr.astype(np.intp, copy=False), -1, lut.size - 1)]


def _count(
    map_arr: np.ndarray, ref_arr: np.ndarray, lut: np.ndarray, n: int
) -> tuple[np.ndarray, int, int]:
    """Confusion counts of one window, plus its no-data and unknown-id pixel counts."""
    if map_arr.shape != ref_arr.shape:
        raise ValueError(f"shape mismatch: map {map_arr.shape}, reference {ref_arr.shape}")
    m, r = _indices(map_arr, lut), _indices(ref_arr, lut)
    nodata = (m == _NODATA) | (r == _NODATA)
    ok = (m >= 0) & (r >= 0)
    cm = np.bincount(r[ok] * n + m[ok], minlength=n * n).reshape(n, n).astype(np.int64)
    n_nodata = int(nodata.sum())
    return cm, n_nodata, int(m.size - n_nodata - ok.sum())


def confusion_matrix_from_arrays(
    map_arr: np.ndarray,
    ref_arr: np.ndarray,
    class_ids: Sequence[int],
    merge: MergeGroups = (),
) -> np.ndarray:
    """Confusion matrix (rows reference, columns map, int64) of two class-id arrays.

    0 on either side is ignored, as are ids not in ``class_ids``; ``merge`` maps each
    group's ids to its first id (which must be in ``class_ids``) before counting.
    """
    lut = _lookup_table(class_ids, merge)
    cm, _, _ = _count(np.asarray(map_arr), np.asarray(ref_arr), lut, len(class_ids))
    return cm


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_from_confusion(
    cm: np.ndarray,
    class_ids: Sequence[int],
    scheme: ClassScheme = MCAE,
    *,
    merge: MergeGroups = (),
) -> AccuracyReport:
    """Overall accuracy, kappa and per-class metrics of a confusion matrix.

    Zero denominators give NaN. Mean F1 and mIoU average the classes present in the
    reference. ``merge`` only names merged classes ("Rangeland+Tree").
    """
    cm = np.asarray(cm, dtype=np.int64)
    n = len(class_ids)
    if cm.shape != (n, n):
        raise ValueError(f"confusion matrix is {cm.shape}, expected {(n, n)} for {n} classes")
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)  # reference pixels per class
    predicted = cm.sum(axis=0)  # map pixels per class
    total = float(cm.sum())
    oa = float(tp.sum() / total) if total else float("nan")
    # float: the products of row and column sums overflow int64 for big maps
    pe = float(np.dot(support.astype(float), predicted.astype(float)) / total**2) if total else 1.0
    kappa = (oa - pe) / (1.0 - pe) if pe < 1.0 else float("nan")
    f1 = _ratio(2 * tp, support + predicted)
    iou = _ratio(tp, support + predicted - tp)
    present = support > 0
    groups = {g[0]: g for g in merge}
    return AccuracyReport(
        scheme=scheme.name,
        class_ids=[int(c) for c in class_ids],
        class_names=["+".join(scheme.name_of(i) for i in groups.get(c, (c,))) for c in class_ids],
        class_colors=[scheme.get(c).rgb for c in class_ids],
        confusion=cm,
        overall_accuracy=oa,
        kappa=float(kappa),
        precision=_ratio(tp, predicted),
        recall=_ratio(tp, support),
        f1=f1,
        iou=iou,
        support=support,
        predicted=predicted,
        mean_f1=float(f1[present].mean()) if present.any() else float("nan"),
        miou=float(iou[present].mean()) if present.any() else float("nan"),
        n_scored=int(total),
        n_total=int(total),
        merge=list(merge),
    )


def _open(path: str | Path, label: str, stack: ExitStack) -> Any:
    """Open a single-band integer raster, or raise InputError saying what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{label} raster not found: {p}")
    try:
        ds = stack.enter_context(rasterio.open(p))
    except RasterioError as exc:
        lines = str(exc).replace(f"'{p}' ", "").splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise InputError(f"cannot read {label} raster {p}: {reason}") from exc
    if ds.count != 1:
        raise InputError(f"{label} raster {p} has {ds.count} bands; expected 1 band of class ids")
    if not np.issubdtype(np.dtype(ds.dtypes[0]), np.integer):
        raise InputError(
            f"{label} raster {p} has dtype {ds.dtypes[0]}; expected integer class ids (uint8)"
        )
    return ds


def _reference_on_map_grid(map_ds: Any, ref_ds: Any, stack: ExitStack) -> tuple[Any, bool]:
    """The reference as read on the map's grid, and whether it had to be resampled."""
    same_shape = (map_ds.height, map_ds.width) == (ref_ds.height, ref_ds.width)
    if map_ds.crs is None or ref_ds.crs is None:
        if not same_shape:
            raise InputError(
                f"map is {map_ds.height}x{map_ds.width} px and reference "
                f"{ref_ds.height}x{ref_ds.width} px; unless both are georeferenced "
                "they must have the same size"
            )
        return ref_ds, False
    if same_shape and map_ds.crs == ref_ds.crs and map_ds.transform.almost_equals(ref_ds.transform):
        return ref_ds, False
    try:
        vrt = WarpedVRT(
            ref_ds,
            crs=map_ds.crs,
            transform=map_ds.transform,
            width=map_ds.width,
            height=map_ds.height,
            resampling=Resampling.nearest,  # class ids: never interpolate
            nodata=0,
        )
    except RasterioError as exc:
        raise InputError(
            f"cannot resample reference {ref_ds.name} onto the map grid: {exc}"
        ) from exc
    return stack.enter_context(vrt), True


def _windows(ds: Any, size: int) -> Iterator[Window]:
    """Windows of about ``size`` px covering ``ds``, aligned to its blocks where they fit."""
    block_h, block_w = ds.block_shapes[0]
    step_h = size // block_h * block_h if size >= block_h else size
    step_w = size // block_w * block_w if size >= block_w else size
    for row in range(0, ds.height, step_h):
        for col in range(0, ds.width, step_w):
            yield Window(col, row, min(step_w, ds.width - col), min(step_h, ds.height - row))


def _read(ds: Any, window: Window, label: str) -> np.ndarray:
    """One window of band 1, with the declared nodata value (if not 0) turned into 0."""
    try:
        arr = ds.read(1, window=window)
    except RasterioError as exc:
        raise InputError(f"error reading {label} raster {ds.name}: {exc}") from exc
    if ds.nodata is not None and ds.nodata != 0:
        arr[arr == ds.nodata] = 0
    return np.asarray(arr)


def evaluate_rasters(
    map_path: str | Path,
    reference_path: str | Path,
    *,
    scheme: ClassScheme = MCAE,
    merge: Iterable[Sequence[int]] | None = None,
    window_size: int = 1024,
) -> AccuracyReport:
    """Score a class-id map against a reference raster, streaming window by window.

    Georeferenced rasters on different grids are compared on the map's grid (the
    reference is read through a nearest-neighbour WarpedVRT); otherwise both must
    have the same size. ``merge`` groups are scored as their first id.
    """
    if window_size < 1:
        raise ValueError(f"window_size must be positive, got {window_size}")
    groups = _check_merge(scheme, merge)
    class_ids = scored_class_ids(scheme, groups)
    lut = _lookup_table(class_ids, groups)
    n = len(class_ids)
    cm = np.zeros((n, n), dtype=np.int64)
    n_nodata = n_unknown = 0
    with warnings.catch_warnings(), ExitStack() as stack:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        stack.enter_context(bounded_gdal_cache())  # else GDAL keeps every block read: both whole rasters
        map_ds = _open(map_path, "map", stack)
        ref_ds = _open(reference_path, "reference", stack)
        ref_src, resampled = _reference_on_map_grid(map_ds, ref_ds, stack)
        for window in _windows(map_ds, window_size):
            part, nodata, unknown = _count(
                _read(map_ds, window, "map"), _read(ref_src, window, "reference"), lut, n
            )
            cm += part
            n_nodata += nodata
            n_unknown += unknown
        n_total = map_ds.height * map_ds.width
    if not cm.any():
        raise InputError(
            f"no overlapping valid pixels between map {map_path} and reference "
            f"{reference_path}: no pixel has a {scheme.name} class id on both sides "
            "(do they cover the same area and use the same class scheme?)"
        )
    report = metrics_from_confusion(cm, class_ids, scheme, merge=groups)
    return replace(
        report,
        n_total=n_total,
        n_nodata=n_nodata,
        n_unknown=n_unknown,
        map_path=str(map_path),
        reference_path=str(reference_path),
        reference_resampled=resampled,
    )
