"""Accuracy assessment: metrics, grid alignment, streaming, report files and errors."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import reproject
from sklearn.metrics import cohen_kappa_score

from mcae.inference.classes import MCAE
from mcae.inference.errors import InputError
from mcae.inference.evaluate import (
    confusion_matrix_from_arrays,
    evaluate_rasters,
    metrics_from_confusion,
)

UTM = CRS.from_epsg(32650)


def from_origin(west: float, north: float, xres: float, yres: float) -> Affine:
    """Like rasterio.transform.from_origin, without its PendingDeprecationWarning."""
    return Affine(xres, 0.0, west, 0.0, -yres, north)

# Hand-made 4x4 pair over classes 1-3 (Bareland, Rangeland, Developed).
REF = np.array([[1, 1, 1, 1], [1, 1, 2, 2], [2, 2, 2, 3], [3, 3, 3, 3]], dtype=np.uint8)
MAP = np.array([[1, 1, 1, 2], [1, 1, 2, 2], [2, 2, 3, 3], [3, 3, 3, 2]], dtype=np.uint8)
CM = np.array([[5, 1, 0], [0, 4, 1], [0, 1, 4]])


def write_raster(
    path: Path,
    arr: np.ndarray,
    *,
    crs: CRS | None = None,
    transform: Affine | None = None,
    block: int | None = None,
    nodata: float | None = None,
) -> Path:
    """A GTiff of ``arr`` (2-D: one band; 3-D: bands first), optionally tiled."""
    bands = arr[None] if arr.ndim == 2 else arr
    profile: dict = {"driver": "GTiff", "count": bands.shape[0], "dtype": arr.dtype.name,
                     "height": bands.shape[1], "width": bands.shape[2], "nodata": nodata}
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    if block:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(bands)
    return path


def blocky(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Random class ids 0-9 in square patches of ``cell`` px (so resampling is exact-ish)."""
    coarse = rng.integers(0, 10, size=(-(-shape[0] // cell), -(-shape[1] // cell)))
    return np.kron(coarse, np.ones((cell, cell), int))[: shape[0], : shape[1]].astype(np.uint8)


def test_metrics_match_hand_calculation() -> None:
    cm = confusion_matrix_from_arrays(MAP, REF, [1, 2, 3])
    np.testing.assert_array_equal(cm, CM)
    rep = metrics_from_confusion(cm, [1, 2, 3], MCAE)
    assert rep.overall_accuracy == pytest.approx(13 / 16, abs=1e-12)
    # p_e = (6*5 + 5*6 + 5*5) / 16^2 = 85/256; kappa = (208 - 85) / (256 - 85)
    assert rep.kappa == pytest.approx(123 / 171, abs=1e-9)
    assert rep.kappa == pytest.approx(cohen_kappa_score(REF.ravel(), MAP.ravel()), abs=1e-9)
    np.testing.assert_allclose(rep.precision, [5 / 5, 4 / 6, 4 / 5])
    np.testing.assert_allclose(rep.recall, [5 / 6, 4 / 5, 4 / 5])
    np.testing.assert_allclose(rep.f1, [10 / 11, 8 / 11, 8 / 10])
    np.testing.assert_allclose(rep.iou, [5 / 6, 4 / 7, 4 / 6])
    np.testing.assert_array_equal(rep.support, [6, 5, 5])
    assert rep.mean_f1 == pytest.approx((10 / 11 + 8 / 11 + 8 / 10) / 3)
    assert rep.class_names == ["Bareland", "Rangeland", "Developed"]


def test_absent_classes_give_nan_and_are_left_out_of_means() -> None:
    # Map predicts Road (4) where the reference has none; Tree (5) appears nowhere.
    ref = np.array([1, 1, 2, 2])
    mp = np.array([1, 4, 2, 2])
    rep = metrics_from_confusion(confusion_matrix_from_arrays(mp, ref, [1, 2, 4, 5]), [1, 2, 4, 5])
    assert rep.precision[2] == 0 and math.isnan(rep.recall[2]) and rep.f1[2] == 0
    assert all(math.isnan(v[3]) for v in (rep.precision, rep.recall, rep.f1, rep.iou))
    assert rep.mean_f1 == pytest.approx((2 / 3 + 1) / 2)  # only classes 1 and 2
    assert rep.miou == pytest.approx((1 / 2 + 1) / 2)
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["classes"][3]["precision"] is None


def test_zero_is_ignored_on_both_sides_and_unknown_ids_too() -> None:
    ref = np.array([[0, 1, 1], [2, 2, 0], [3, 3, 3]], dtype=np.uint8)
    mp = np.array([[1, 0, 1], [2, 2, 2], [3, 3, 200]], dtype=np.uint8)
    cm = confusion_matrix_from_arrays(mp, ref, MCAE.ids)
    assert cm.sum() == 5  # 2 pixels 0 on one side, 1 unknown id (200)
    assert cm[0, 0] == 1 and cm[1, 1] == 2 and cm[2, 2] == 2


def test_merge_groups_score_as_one(tmp_path: Path) -> None:
    ref = np.array([[2, 2, 5, 5], [1, 1, 6, 6]], dtype=np.uint8)
    mp = np.array([[5, 2, 2, 5], [1, 1, 6, 2]], dtype=np.uint8)
    write_raster(tmp_path / "map.tif", mp)
    write_raster(tmp_path / "ref.tif", ref)
    rep = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif", merge=[(2, 5)])
    assert 5 not in rep.class_ids and "Rangeland+Tree" in rep.class_names
    assert rep.overall_accuracy == pytest.approx(7 / 8)
    plain = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif")
    assert plain.overall_accuracy == pytest.approx(5 / 8)
    with pytest.raises(InputError, match="not a class id"):
        evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif", merge=[(2, 12)])


@pytest.mark.parametrize("window_size", [7, 1024])
def test_coarser_reference_is_read_with_nearest(tmp_path: Path, window_size: int) -> None:
    rng = np.random.default_rng(1)
    ref = rng.integers(1, 10, size=(20, 24), dtype=np.uint8)  # 1.2 m
    truth = np.kron(ref, np.ones((2, 2), np.uint8))  # the same on the 0.6 m grid
    mp = truth.copy()
    mp[rng.random(mp.shape) < 0.2] = rng.integers(1, 10)
    write_raster(tmp_path / "map.tif", mp, crs=UTM, transform=from_origin(5e5, 4e6, 0.6, 0.6))
    write_raster(tmp_path / "ref.tif", ref, crs=UTM, transform=from_origin(5e5, 4e6, 1.2, 1.2))
    rep = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif", window_size=window_size)
    assert rep.reference_resampled
    # bilinear would invent ids at patch edges; nearest reproduces the 2x2 upsampling exactly
    np.testing.assert_array_equal(rep.confusion, confusion_matrix_from_arrays(mp, truth, MCAE.ids))


def test_shifted_partial_reference_and_declared_nodata(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    mp = rng.integers(1, 10, size=(30, 30), dtype=np.uint8)
    ref = np.full((20, 40), 255, np.uint8)  # 255 = declared nodata
    ref[:, :20] = rng.integers(1, 10, size=(20, 20))
    # reference origin 5 px right and 10 px down of the map's: covers map rows 10-29, cols 5-29
    write_raster(tmp_path / "map.tif", mp, crs=UTM, transform=from_origin(5e5, 4e6, 1.0, 1.0))
    write_raster(tmp_path / "ref.tif", ref, crs=UTM, nodata=255,
                 transform=from_origin(5e5 + 5, 4e6 - 10, 1.0, 1.0))
    rep = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif")
    expected = confusion_matrix_from_arrays(mp[10:30, 5:25], ref[:, :20], MCAE.ids)
    np.testing.assert_array_equal(rep.confusion, expected)
    assert rep.n_scored == 400 and rep.n_nodata == 900 - 400 and rep.n_total == 900


def test_reference_in_another_crs(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    mp = blocky(rng, (120, 120), 12)
    transform = from_origin(5e5, 4e6, 1.0, 1.0)
    write_raster(tmp_path / "map.tif", mp, crs=UTM, transform=transform)
    geo = CRS.from_epsg(4326)
    ref = np.zeros((130, 150), np.uint8)
    ref_transform = from_origin(116.9998, 36.1449, 1.2e-5, 1.0e-5)  # around the map, in degrees
    reproject(mp, ref, src_transform=transform, src_crs=UTM, dst_transform=ref_transform,
              dst_crs=geo, resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)
    assert ref.any()
    write_raster(tmp_path / "ref.tif", ref, crs=geo, transform=ref_transform)
    rep = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif")
    assert rep.reference_resampled
    assert rep.n_scored > 5000 and rep.overall_accuracy > 0.9


def test_streaming_matches_one_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    mp = rng.integers(0, 10, size=(150, 137), dtype=np.uint8)
    ref = rng.integers(0, 10, size=(150, 137), dtype=np.uint8)
    write_raster(tmp_path / "map.tif", mp, block=32)
    write_raster(tmp_path / "ref.tif", ref)
    whole = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif", window_size=4096)
    for size in (5, 33, 64):
        part = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif", window_size=size)
        np.testing.assert_array_equal(part.confusion, whole.confusion)
        assert (part.n_nodata, part.n_unknown) == (whole.n_nodata, whole.n_unknown)
    np.testing.assert_array_equal(whole.confusion, confusion_matrix_from_arrays(mp, ref, MCAE.ids))
    assert whole.n_scored + whole.n_nodata == mp.size


def test_report_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ref = blocky(rng, (64, 64), 8)
    mp = np.where(rng.random(ref.shape) < 0.25, rng.integers(1, 10, ref.shape), ref)
    write_raster(tmp_path / "map.tif", mp.astype(np.uint8))
    write_raster(tmp_path / "ref.tif", ref)
    rep = evaluate_rasters(tmp_path / "map.tif", tmp_path / "ref.tif", merge=[(2, 5)])
    paths = rep.write(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "accuracy.json", "confusion.csv", "confusion.png", "per_class.csv"]  # no temp files left
    data = json.loads(paths["accuracy.json"].read_text())
    assert data["overall_accuracy"] == pytest.approx(rep.overall_accuracy)
    assert data["pixels"]["scored"] == rep.n_scored and data["merge"] == [[2, 5]]
    per_class = pd.read_csv(paths["per_class.csv"])
    assert "Rangeland+Tree" in set(per_class["name"]) and "Water" in set(per_class["name"])
    confusion = pd.read_csv(paths["confusion.csv"], index_col=0)
    assert list(confusion.columns) == rep.class_names
    assert confusion.to_numpy().sum() == rep.n_scored
    with Image.open(paths["confusion.png"]) as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[0] > 300 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    summary = rep.summary()
    assert "OA" in summary and "kappa" in summary and "Rangeland+Tree" in summary


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    good = write_raster(tmp_path / "good.tif", np.ones((4, 4), np.uint8))
    with pytest.raises(InputError, match="reference raster not found"):
        evaluate_rasters(good, tmp_path / "nope.tif")
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(np.random.default_rng(6).bytes(2000))
    with pytest.raises(InputError, match="cannot read map raster") as err:
        evaluate_rasters(corrupt, good)
    assert "\n" not in str(err.value)


def test_bad_rasters_are_input_errors(tmp_path: Path) -> None:
    good = write_raster(tmp_path / "good.tif", np.ones((4, 4), np.uint8))
    other = write_raster(tmp_path / "other.tif", np.ones((4, 5), np.uint8))
    with pytest.raises(InputError, match="must have the same size"):
        evaluate_rasters(good, other)
    bands = write_raster(tmp_path / "rgb.tif", np.ones((3, 4, 4), np.uint8))
    with pytest.raises(InputError, match="has 3 bands"):
        evaluate_rasters(bands, good)
    floats = write_raster(tmp_path / "float.tif", np.ones((4, 4), np.float32))
    with pytest.raises(InputError, match="dtype float32"):
        evaluate_rasters(good, floats)
    empty = write_raster(tmp_path / "empty.tif", np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="no overlapping valid pixels"):
        evaluate_rasters(good, empty)


def test_one_georeferenced_side_needs_the_same_size(tmp_path: Path) -> None:
    geo = write_raster(tmp_path / "geo.tif", MAP, crs=UTM, transform=from_origin(5e5, 4e6, 1, 1))
    rep = evaluate_rasters(geo, write_raster(tmp_path / "plain.tif", REF))
    np.testing.assert_array_equal(rep.confusion[:3, :3], CM)
    assert not rep.reference_resampled
    with pytest.raises(InputError, match="unless both are georeferenced"):
        evaluate_rasters(geo, write_raster(tmp_path / "wide.tif", np.ones((4, 6), np.uint8)))


def test_disjoint_grids_have_no_overlap(tmp_path: Path) -> None:
    arr = np.ones((8, 8), np.uint8)
    a = write_raster(tmp_path / "a.tif", arr, crs=UTM, transform=from_origin(5e5, 4e6, 1, 1))
    b = write_raster(tmp_path / "b.tif", arr, crs=UTM, transform=from_origin(6e5, 4e6, 1, 1))
    with pytest.raises(InputError, match="no overlapping valid pixels"):
        evaluate_rasters(a, b)


def _write_classes(path: Path, size: int, shift: int) -> None:
    """A ``size`` px class raster (blocks of classes 1-9), written strip by strip."""
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8", "crs": UTM,
               "transform": from_origin(500_000, 4_000_000, 0.6, 0.6), "tiled": True, "blockxsize": 512,
               "blockysize": 512, "compress": "deflate"}
    cols = (np.arange(size) // 64 + shift) % 9 + 1
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 1024):
            rows = np.arange(row, min(row + 1024, size)) // 64
            dst.write(((cols[None, :] + rows[:, None]) % 9 + 1).astype(np.uint8)[None],
                      window=rasterio.windows.Window(0, row, size, len(rows)))


def test_evaluate_runs_in_memory_bounded_by_its_windows(tmp_path: Path) -> None:
    """4x the area, at most 1.25x the peak memory of `mcae evaluate` (GDAL's block cache, left at
    its default, kept every block of both rasters: the whole city twice)."""
    from benchmarks.city import MCAE, measure

    peaks = {}
    for size in (4096, 8192):
        _write_classes(tmp_path / f"map{size}.tif", size, 0)
        _write_classes(tmp_path / f"ref{size}.tif", size, size // 1024)
        result = measure([MCAE, "evaluate", str(tmp_path / f"map{size}.tif"), str(tmp_path / f"ref{size}.tif")],
                         poll_s=0.02)
        assert result["rc"] == 0, result["output"]
        peaks[size] = result["peak_rss_mb"]
    assert peaks[8192] <= 1.25 * peaks[4096], peaks
