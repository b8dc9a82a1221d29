"""Class names where GDAL and QGIS read them: beside every map written, and in clip downloads."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from downloads_fixtures import CITY, STEP, Downloads  # the `downloads` fixture: tests/conftest.py
from fastapi.testclient import TestClient
from gdal_classes import gdal_classes
from rasterio.crs import CRS
from rio_cogeo.cogeo import cog_validate

from mcae.inference.class_styles import aux_path, qml_path
from mcae.inference.classes import MCAE, SINOLC1
from mcae.inference.cog import write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.platform.app import create_app
from mcae.platform.settings import JobSettings, Settings
from mcae.tiles.legends import aux_classes
from mcae.tiles.settings import TileSettings

NAMES = {c.id: c.name for c in MCAE}


def small_map(path: Path, scheme=MCAE) -> Path:  # type: ignore[no-untyped-def]
    data = (np.arange(128 * 128).reshape(128, 128) % (len(scheme) + 1)).astype(np.uint8)
    return write_class_cog(path, width=128, height=128, transform=Affine(0.6, 0, 500000, 0, -0.6, 3500000),
                           crs=CRS.from_epsg(32650), windows=[(PixelWindow(0, 0, 128, 128), data)], scheme=scheme)


def assert_gdal_names(tif: Path, names: dict[int, str]) -> None:
    categories, rows = gdal_classes(tif)
    assert categories[0] == "no data"
    assert {i: n for i, n in categories.items() if i} == names
    assert {int(r["Value"]): r["Class"] for r in rows} == names


def test_a_written_map_names_its_classes_for_gdal_and_qgis(tmp_path: Path) -> None:
    tif = small_map(tmp_path / "city.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.qml", "city.tif", "city.tif.aux.xml"]
    assert_gdal_names(tif, NAMES)
    _, rows = gdal_classes(tif)
    assert {int(r["Value"]): (int(r["Red"]), int(r["Green"]), int(r["Blue"])) for r in rows} == \
        {c.id: c.rgb for c in MCAE}
    assert cog_validate(str(tif))[0]  # the sidecar changes nothing in the COG itself
    with rasterio.open(tif) as src:
        assert src.colormap(1)[5] == (*MCAE.get(5).rgb, 255)
    # the catalog's own legend reader (ingest) reads the same names back
    assert {i: e["name"] for i, e in aux_classes(tif).items()} == NAMES
    qml = qml_path(tif).read_text()
    assert 'type="paletted"' in qml and all(f'label="{n}"' in qml for n in NAMES.values())


def test_another_scheme_gets_its_own_names_and_a_rewrite_replaces_them(tmp_path: Path) -> None:
    tif = small_map(tmp_path / "m.tif", SINOLC1)
    assert_gdal_names(tif, {c.id: c.name for c in SINOLC1})
    small_map(tif, MCAE)
    assert_gdal_names(tif, NAMES)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


@pytest.fixture
def client(downloads: Downloads, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(tiles=TileSettings(catalog_path=downloads.catalog), jobs=JobSettings(dir=tmp_path / "jobs"))
    with TestClient(create_app(settings)) as running:
        yield running


def wgs_bbox(downloads: Downloads) -> str:
    west, north = downloads.wgs_origin
    return ",".join(repr(v) for v in (west + 10 * STEP, north - 90 * STEP, west + 130 * STEP, north - 10 * STEP))


def test_a_zipped_clip_carries_the_names_and_a_qgis_style(client: TestClient, downloads: Downloads,
                                                          tmp_path: Path) -> None:
    answer = client.get(f"/api/cities/{CITY}/layers/wgs/clip", params={"bbox": wgs_bbox(downloads), "package": "zip"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert f'filename="{CITY}-wgs-clip.zip"' in answer.headers["content-disposition"]
    name = f"{CITY}-wgs-clip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        assert sorted(bundle.namelist()) == sorted([f"{name}.tif", f"{name}.tif.aux.xml", f"{name}.qml"])
        bundle.extractall(tmp_path / "unzipped")
    tif = tmp_path / "unzipped" / f"{name}.tif"
    assert_gdal_names(tif, NAMES)
    plain = client.get(f"/api/cities/{CITY}/layers/wgs/clip", params={"bbox": wgs_bbox(downloads)})
    assert plain.headers["content-type"] == "image/tiff" and tif.read_bytes() == plain.content
    assert not list((tmp_path / "jobs").rglob("*.zip"))  # the scratch zip went once sent


def test_a_zipped_imagery_clip_holds_the_tif_alone(client: TestClient) -> None:
    answer = client.post(f"/api/cities/{CITY}/layers/imagery/clip", params={"package": "zip"},
                         json=_imagery_square(client))
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        assert bundle.namelist() == [f"{CITY}-imagery-clip.tif"]


def test_an_unknown_package_is_refused(client: TestClient, downloads: Downloads) -> None:
    answer = client.get(f"/api/cities/{CITY}/layers/wgs/clip", params={"bbox": wgs_bbox(downloads), "package": "rar"})
    assert answer.status_code == 422 and "detail" in answer.json()


def _imagery_square(client: TestClient) -> dict[str, object]:
    w, s, e, n = client.get(f"/api/cities/{CITY}").json()["layers"][-1]["bounds"]
    cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) / 4, (n - s) / 4
    return {"type": "Polygon", "coordinates": [[[cx - dx, cy - dy], [cx + dx, cy - dy], [cx + dx, cy + dy],
                                                [cx - dx, cy + dy], [cx - dx, cy - dy]]]}


QGIS_PYTHON = "/usr/bin/python3"


def _qgis() -> bool:
    try:
        return subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _qgis(), reason="QGIS (Debian's python3-qgis) is not installed (optional, as in CI)")
def test_qgis_shows_class_names_in_the_layer_legend(tmp_path: Path) -> None:
    tif = small_map(tmp_path / "city.tif")
    script = Path(__file__).with_name("qgis_legend.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPL_", "GDAL_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([QGIS_PYTHON, str(script), str(tif)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    labels = done.stdout.strip().splitlines()[-1].split("|")
    assert labels == [NAMES[i] for i in sorted(NAMES)]  # the .qml style
    qml_path(tif).unlink()  # the .aux.xml alone: QGIS labels the colour table with GDAL's category names
    done = subprocess.run([QGIS_PYTHON, str(script), str(tif)], env=env, capture_output=True, text=True, timeout=300)
    labels = done.stdout.strip().splitlines()[-1].split("|")
    assert labels[:10] == ["no data"] + [NAMES[i] for i in sorted(NAMES)]
    assert aux_path(tif).is_file()


def test_publishing_a_map_without_names_puts_them_beside_it_and_keeps_existing_ones(tmp_path: Path) -> None:
    from mcae.tiles.catalog import CatalogStore, LayerKind
    from mcae.tiles.layers import publish_layer

    tif = small_map(tmp_path / "made-elsewhere.tif")
    aux_path(tif).unlink()
    qml_path(tif).unlink()
    store = CatalogStore(tmp_path / "catalog.json")
    publish_layer(store, "town", tif, kind=LayerKind.mcae, layer_id="mcae", serving=False)
    assert_gdal_names(tif, NAMES)
    assert qml_path(tif).is_file()
    theirs = tmp_path / "theirs.tif"
    theirs.write_bytes(tif.read_bytes())
    aux_path(theirs).write_text("<PAMDataset/>\n")
    publish_layer(store, "town", theirs, kind=LayerKind.sinolc1, layer_id="sinolc1", serving=False)
    assert aux_path(theirs).read_text() == "<PAMDataset/>\n" and not qml_path(theirs).exists()
