"""Opening inputs and reading windows on the metric working grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from benchmarks.scenes import blocky_scene, write_tif
from mcae.inference.errors import InputError
from mcae.inference.imagery import inspect_image, open_scene
from mcae.inference.masks.base import PixelWindow


def test_projected_metre_input_keeps_its_crs_and_resamples_to_target(tmp_path: Path) -> None:
    image, _ = blocky_scene(100, 120)
    path = write_tif(tmp_path / "a.tif", image, transform=Affine(0.3, 0, 1000, 0, -0.3, 5000))
    info = inspect_image(path, target_gsd=0.6)
    assert rasterio.crs.CRS.from_wkt(info.crs).to_epsg() == 32650
    assert (info.width, info.height) == (60, 50)
    assert info.transform[0] == 0.6 and info.transform[4] == -0.6


def test_geographic_input_goes_to_its_utm_zone(tmp_path: Path) -> None:
    image, _ = blocky_scene(64, 64)
    t = Affine(5e-6, 0, 118.78, 0, -5e-6, 32.06)  # Nanjing, about 0.5 m
    info = inspect_image(write_tif(tmp_path / "g.tif", image, crs="EPSG:4326", transform=t))
    assert rasterio.crs.CRS.from_wkt(info.crs).to_epsg() == 32650
    assert 45 <= info.width <= 60


def test_window_reads_are_boundless_and_match_source(tmp_path: Path) -> None:
    image, _ = blocky_scene(64, 64)
    scene = open_scene(write_tif(tmp_path / "s.tif", image))
    data, valid = scene.read(PixelWindow(-8, -8, 32, 32))
    assert data.shape == (3, 32, 32) and valid.shape == (32, 32)
    assert not valid[:8].any() and not valid[:, :8].any() and valid[8:, 8:].all()
    np.testing.assert_array_equal(data[:, 8:, 8:], image[:, :24, :24])
    fine, fine_valid = scene.read(PixelWindow(0, 0, 16, 16), scale=2.0)
    assert fine.shape == (3, 32, 32) and fine_valid.all()


def test_rgba_alpha_is_validity_and_nir_is_a_band(tmp_path: Path) -> None:
    image, _ = blocky_scene(40, 40)
    alpha = np.full((1, 40, 40), 255, np.uint8)
    alpha[0, :, :10] = 0
    rgba = write_tif(tmp_path / "rgba.tif", np.concatenate([image, alpha]), photometric="RGB",
                     alpha="YES")
    info = inspect_image(rgba)
    assert info.band_names == ["red", "green", "blue"] and info.alpha_band == 4
    _, valid = open_scene(rgba).read(PixelWindow(0, 0, 40, 40))
    assert not valid[:, :9].any() and valid[:, 11:].all()
    nir = np.random.default_rng(1).integers(30, 200, (1, 40, 40), dtype=np.uint8)
    rgbn = write_tif(tmp_path / "rgbn.tif", np.concatenate([image, nir]), photometric="RGB",
                     alpha="YES")  # tagged alpha, like NAIP, but really near infrared
    assert inspect_image(rgbn).band_names == ["red", "green", "blue", "nir"]


def test_uint16_is_stretched_and_nodata_masked(tmp_path: Path) -> None:
    image, _ = blocky_scene(50, 50)
    data = image.astype(np.uint16) * 40 + 1000
    data[:, :5, :] = 0
    scene = open_scene(write_tif(tmp_path / "u16.tif", data, nodata=0))
    out, valid = scene.read(PixelWindow(0, 0, 50, 50))
    assert out.dtype == np.uint8 and out[:, 5:].max() >= 250 and out[:, 5:].min() <= 5
    assert not valid[:5].any() and valid[5:].all()


def test_plain_image_needs_gsd(tmp_path: Path) -> None:
    from PIL import Image

    image, _ = blocky_scene(30, 40)
    path = tmp_path / "plain.png"
    Image.fromarray(np.moveaxis(image, 0, -1)).save(path)
    with pytest.raises(InputError, match="--gsd"):
        inspect_image(path)
    info = inspect_image(path, gsd=1.2)
    assert info.crs is None and (info.width, info.height) == (80, 60)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"II*\x00garbage" * 50), "not a readable image"),
    (lambda p: write_tif(p, np.zeros((1, 8, 8), np.uint8)), "1-band"),
    (lambda p: write_tif(p, np.zeros((3, 8, 8), np.complex64)), "unsupported pixel type"),
])
def test_bad_inputs_give_one_line_errors(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "bad.tif"
    make(path)  # type: ignore[operator]
    with pytest.raises(InputError, match=message) as err:
        inspect_image(path)
    assert "\n" not in str(err.value)
