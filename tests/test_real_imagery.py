"""The engine on the real imagery of ../shared/data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.warp import transform_bounds
from rio_cogeo.cogeo import cog_validate
from test_pipeline import mcae

from mcae.inference.classes import MCAE

DUBAI_COLOURS = {(60, 16, 152): 8, (132, 41, 246): 1, (110, 193, 228): 4, (254, 221, 58): 5,
                 (226, 169, 41): 6}
RUN = ["--scheduler", "synchronous", "-q"]


def vegetation_reference(image: Path, out: Path) -> Path:
    """A rough reference on the image's own grid: green-dominant pixels Tree, else Developed."""
    with rasterio.open(image) as src:
        rgb = src.read([1, 2, 3]).astype(np.int32)
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": 1,
                   "dtype": "uint8", "crs": src.crs, "transform": src.transform}
    labels = np.where(rgb[1] > rgb[0] + 5, 5, 3).astype(np.uint8)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(labels, 1)
    return out


def dubai_reference(mask_png: Path, out: Path) -> Path:
    rgb = np.asarray(Image.open(mask_png).convert("RGB")).astype(np.int32)
    labels = np.zeros(rgb.shape[:2], np.uint8)
    for colour, cls in DUBAI_COLOURS.items():
        labels[(rgb == colour).all(axis=-1)] = cls
    Image.fromarray(labels).save(out)
    return out


def run_to_map(image: Path, reference: Path, tmp: Path, *extra: str) -> Path:
    project, out = tmp / "project", tmp / "map.tif"
    for args in (["segment", image, "--project", project, *extra],
                 ["label", "--project", project, "--reference", reference],
                 ["train", "--project", project]):
        code, text = mcae(*args, *RUN)
        assert code == 0, text
    code, text = mcae("map", "--project", project, "--out", out)
    assert code == 0, text
    assert cog_validate(str(out), quiet=True)[0]
    with rasterio.open(out) as dst:
        assert dst.colormap(1)[5][:3] == MCAE.get(5).rgb and dst.nodata == 0
        assert set(np.unique(dst.read(1))) <= set(range(10))
    return out


@pytest.mark.parametrize("name", ["oem_koeln_50.tif", "oem_adelaide_2.tif",
                                  "m_3211605_ne_11_060_20200415.tif",
                                  "m_4208701_ne_16_060_20200902.tif"])
def test_georeferenced_inputs_give_maps_in_the_same_place(shared_data: Path, tmp_path: Path,
                                                          name: str) -> None:
    image = shared_data / "imagery" / name
    reference = vegetation_reference(image, tmp_path / "ref.tif")
    out = run_to_map(image, reference, tmp_path)
    with rasterio.open(image) as src, rasterio.open(out) as dst:
        assert dst.res == (0.6, 0.6) and dst.crs.is_projected
        a = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        b = transform_bounds(dst.crs, "EPSG:4326", *dst.bounds)
        assert np.allclose(a, b, atol=2e-5)  # the same place, within about 2 m
    code, text = mcae("evaluate", out, reference)  # the reference is warped onto the map
    assert code == 0, text
    assert float(text.split("OA")[1].split("%")[0]) > 70


def test_plain_dubai_jpeg_with_gsd(shared_data: Path, tmp_path: Path) -> None:
    tile = shared_data / "labelled" / "dubai" / "tile_2"
    image = tile / "images" / "image_part_003.jpg"
    reference = dubai_reference(tile / "masks" / "image_part_003.png", tmp_path / "ref.png")
    out = run_to_map(image, reference, tmp_path, "--gsd", "0.6")
    with rasterio.open(out) as dst, Image.open(image) as src:
        assert dst.crs is None and (dst.width, dst.height) == src.size
    code, text = mcae("evaluate", out, reference, "--merge", "2,5")
    assert code == 0, text
    accuracy = float(text.split("OA")[1].split("%")[0])
    assert accuracy > 60
