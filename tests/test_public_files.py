"""Public files carry no server paths; layers are served down to their own pixels."""

from __future__ import annotations

from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rio_tiler.io import Reader
from shapely.geometry import box

from mcae.tiles.catalog import CatalogStore, Layer, LayerKind
from mcae.tiles.clip import clip_layer, looks_like_path, public_tags
from mcae.tiles.geometry import native_maxzoom
from mcae.tiles.layers import layer_from_file

KOELN = (346000.0, 5648000.0)  # EPSG:25832, about 50.96 N


def class_raster(path: Path, gsd: float, size: int = 400, tags: dict[str, str] | None = None) -> Path:
    data = (np.arange(size * size).reshape(size, size) % 9 + 1).astype(np.uint8)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8",
               "crs": CRS.from_epsg(25832), "transform": Affine(gsd, 0, KOELN[0], 0, -gsd, KOELN[1]),
               "nodata": 0}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(**(tags or {}))
    return path


def test_public_tags_keep_names_and_drop_paths() -> None:
    tags = {"MCAE_PROJECT": "/srv/mcae/runs/koeln", "MCAE_IMAGE": "/data/in/oem_koeln_50.tif",
            "W": "C:\\data\\img.tif", "U": "file:///srv/x.tif", "ROOT": "/", "CLASS_8": "Building",
            "MCAE_GSD_M": "0.6", "NOTE": "a/b relative"}
    out = public_tags(tags)
    assert out["MCAE_PROJECT"] == "koeln" and out["MCAE_IMAGE"] == "oem_koeln_50.tif"
    assert out["W"] == "img.tif" and out["U"] == "x.tif" and "ROOT" not in out
    assert out["CLASS_8"] == "Building" and out["MCAE_GSD_M"] == "0.6" and out["NOTE"] == "a/b relative"
    assert not any(looks_like_path(v) for v in out.values())


def test_a_clip_of_a_map_with_server_paths_in_its_tags_carries_none(tmp_path: Path) -> None:
    """Maps written before the writer kept names only still hold absolute paths: the clip strips them."""
    src = class_raster(tmp_path / "map.tif", 0.6, tags={"MCAE_PROJECT": str(tmp_path / "runs" / "koeln"),
                                                         "MCAE_IMAGE": "/srv/images/koeln.tif"})
    with Reader(str(src)) as r:
        bounds = r.get_geographic_bounds(r.tms.rasterio_geographic_crs)
    layer = Layer(id="mcae", kind=LayerKind.mcae, title="MCAE", path=str(src), scheme="mcae", bounds=bounds)
    west, south, east, north = bounds
    area = box(west, south, (west + east) / 2, (south + north) / 2)
    out = clip_layer(str(src), layer, area, polygon=False, cap=10**7, scratch=tmp_path / "scratch",
                     tags={"MCAE_CITY": "koeln"})
    with rasterio.open(out) as clip:
        tags = clip.tags()
    assert tags["MCAE_PROJECT"] == "koeln" and tags["MCAE_IMAGE"] == "koeln.tif"
    assert str(tmp_path) not in "".join(tags.values()) and "/srv" not in "".join(tags.values())
    assert tags["MCAE_CITY"] == "koeln" and tags["CLASS_8"] == "Building"


@pytest.mark.parametrize(("gsd", "zoom"), [(0.6, 18), (0.5, 18), (0.3, 19), (1.2, 17), (0.15, 20)])
def test_maxzoom_shows_the_maps_own_pixels(gsd: float, zoom: int) -> None:
    tms = morecantile.tms.get("WebMercatorQuad")
    transform = Affine(gsd, 0, KOELN[0], 0, -gsd, KOELN[1])
    got = native_maxzoom(CRS.from_epsg(25832), transform, 400, 400, tms)
    assert got == zoom
    # a pixel of that zoom is no coarser than the map's own pixel on the ground at this latitude
    lat = 50.96
    ground = 2 * np.pi * 6378137 / (256 * 2**got) * np.cos(np.radians(lat))
    assert ground <= gsd * 1.0001


def test_a_published_06m_map_at_koeln_is_served_to_zoom_18(tmp_path: Path) -> None:
    """rio-tiler's nearest zoom stops at 17 (0.75 m a pixel there), coarser than the 0.6 m map."""
    path = class_raster(tmp_path / "map.tif", 0.6)
    with Reader(str(path)) as r:
        assert r.maxzoom == 17  # what the catalog used to record
    store = CatalogStore(tmp_path / "catalog.json")
    layer = layer_from_file(store, path, kind=LayerKind.mcae, serving=False)
    assert layer.maxzoom == 18
