"""The demo's scene writer (``mcae.inference.demo.tiled``): a mosaic of seeded tiles, written
window by window, with the SinoLC-1 stand-in of each tile on the same grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from mcae.inference.demo.scene import make_city
from mcae.inference.demo.sinolc1_standin import SINOLC1_VALUES, sinolc1_standin
from mcae.inference.demo.tiled import write_city


def test_a_city_of_one_tile_is_make_city(tmp_path: Path) -> None:
    """``mcae demo`` at up to one tile is the coherent city ``make_city`` draws, seed for seed."""
    write_city(tmp_path, 256, tile=256, seed=3, sinolc1=True)
    city = make_city(256, 256, seed=3)
    with rasterio.open(tmp_path / "imagery.tif") as img, rasterio.open(tmp_path / "reference.tif") as ref, \
            rasterio.open(tmp_path / "sinolc1_utm.tif") as standin:
        assert np.array_equal(img.read(), city.image)
        assert np.array_equal(ref.read(1), city.labels)
        assert np.array_equal(standin.read(1), sinolc1_standin(city.labels, seed=3))


def test_tiles_are_seeded_by_position_and_fill_the_city(tmp_path: Path) -> None:
    write_city(tmp_path, 320, tile=128, seed=5, sinolc1=True)  # 3 x 3 tiles, the last ones 64 px
    with rasterio.open(tmp_path / "reference.tif") as ref, rasterio.open(tmp_path / "sinolc1_utm.tif") as standin:
        labels, values = ref.read(1), standin.read(1)
        assert ref.crs == standin.crs and ref.transform == standin.transform
    assert labels.shape == (320, 320) and labels.min() >= 1  # every pixel painted
    assert set(np.unique(values).tolist()) <= set(SINOLC1_VALUES)
    second = make_city(128, 128, seed=5 + 1)  # row 0, column 1
    assert np.array_equal(labels[:128, 128:256], second.labels)
    assert not np.array_equal(labels[:128, :128], second.labels)


def test_without_the_stand_in_no_file_is_left(tmp_path: Path) -> None:
    write_city(tmp_path, 128, tile=128)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["districts.geojson", "imagery.tif", "reference.tif"]
