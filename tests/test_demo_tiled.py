"""The demo's scene writer (``mcae.inference.demo.tiled``): a mosaic of seeded tiles, written
window by window, with the SinoLC-1 stand-in of each tile on the same grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from mcae.inference.demo import tiled
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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".city.json", "districts.geojson", "imagery.tif",
                                                          "reference.tif"]


def _read_all(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for name in ("imagery", "reference", "sinolc1_utm"):
        with rasterio.open(folder / f"{name}.tif") as src:
            out[name] = src.read()
            assert src.tags()["MCAE_SYNTHETIC"]
    return out


def test_a_stopped_city_draws_only_the_rows_it_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A city stopped part way keeps its finished rows of tiles; the next call draws the rest,
    and the result is the city an uninterrupted call draws."""
    write_city(tmp_path / "whole", 320, tile=128, seed=5, sinolc1=True)
    drawn: list[int] = []
    stop_at = [5]  # the second tile of the second row, once

    def counted(height: int, width: int, seed: int) -> object:
        drawn.append(seed)
        if len(drawn) == stop_at[0]:
            stop_at[0] = 0
            raise KeyboardInterrupt
        return make_city(height, width, seed=seed)

    monkeypatch.setattr(tiled, "make_city", counted)
    with pytest.raises(KeyboardInterrupt):
        write_city(tmp_path / "stopped", 320, tile=128, seed=5, sinolc1=True)
    assert not (tmp_path / "stopped" / "imagery.tif").exists()
    drawn.clear()
    write_city(tmp_path / "stopped", 320, tile=128, seed=5, sinolc1=True)
    assert drawn == [5 + 1000 * i + j for i in (1, 2) for j in range(3)]  # row 0 was kept
    whole, resumed = _read_all(tmp_path / "whole"), _read_all(tmp_path / "stopped")
    assert all(np.array_equal(whole[name], resumed[name]) for name in whole)
    assert not (tmp_path / "stopped" / ".city-rows").exists()

    drawn.clear()  # the same city again: nothing to draw; another seed: drawn from the start
    write_city(tmp_path / "stopped", 320, tile=128, seed=5, sinolc1=True)
    assert drawn == []
    write_city(tmp_path / "stopped", 320, tile=128, seed=6, sinolc1=True)
    assert len(drawn) == 9
