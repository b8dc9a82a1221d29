"""The whole engine through the command line, on a small seeded scene."""

from __future__ import annotations

import json
from pathlib import Path

import morecantile
import numpy as np
import pandas as pd
import pytest
import rasterio
from fastapi.testclient import TestClient
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

from mcae.inference.classes import MCAE
from mcae.platform.app import create_app
from mcae.platform.cli import get_app
from mcae.platform.settings import Settings
from mcae.tiles.catalog import CatalogStore
from mcae.tiles.settings import TileSettings

SMALL = ["--patch-size", "64", "--neighbourhood", "2", "--scheduler", "synchronous", "-q"]


def mcae(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(get_app(), [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def segmented(scene_files: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    image, labels = scene_files
    project = tmp_path / "project"
    code, out = mcae("segment", image, "--project", project, *SMALL)
    assert code == 0, out
    return image, labels, project


def test_segment_writes_documented_state(segmented: tuple[Path, Path, Path]) -> None:
    _, _, project = segmented
    manifest = json.loads((project / "project.json").read_text())
    assert manifest["format"] == "mcae-project" and manifest["version"] == 1
    assert manifest["generator"]["name"] == "superpixel"
    assert manifest["grid"]["patch_size"] == 64 and manifest["image"]["gsd"] == 0.6
    masks = pd.read_parquet(project / "masks.parquet")
    groups = pd.read_parquet(project / "groups.parquet")
    assert set(masks["patch"]) == {f"{r}-{c}" for r in range(3) for c in range(4)}
    assert (groups["pred_class"] == 0).all()  # no model yet: y is unknown
    assert groups["group"].str.endswith("-0").all()
    # Per neighbourhood, several clusters, each named x-y.
    assert groups.groupby("neighbourhood")["cluster"].nunique().max() > 1
    with rasterio.open(project / "patches" / "1-2.tif") as src:
        ids = src.read(1)
        assert src.crs.to_epsg() == 32650 and ids.max() == masks.query("patch == '1-2'")["mask_id"].max()


def test_map_is_refused_before_a_model(segmented: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, _, project = segmented
    code, out = mcae("map", "--project", project, "--out", tmp_path / "map.tif")
    assert code == 3 and "no trained model" in out and "mcae label" in out
    assert not (tmp_path / "map.tif").exists()


def test_label_train_map_evaluate_export(segmented: tuple[Path, Path, Path], tmp_path: Path) -> None:
    image, labels, project = segmented
    code, out = mcae("label", "--project", project, "--reference", labels, "--budget", "40",
                     "--scheduler", "synchronous", "-q")
    assert code == 0, out
    decisions = (project / "decisions.jsonl").read_text().splitlines()
    assert 0 < len(decisions) <= 40
    code, out = mcae("train", "--project", project, "--scheduler", "synchronous", "-q")
    assert code == 0, out
    groups = pd.read_parquet(project / "groups.parquet")
    assert (groups["pred_class"] > 0).all()  # every group now carries a predicted class
    out_map = tmp_path / "map.tif"
    code, out = mcae("map", "--project", project, "--out", out_map)
    assert code == 0, out
    assert cog_validate(str(out_map), quiet=True)[0]
    with rasterio.open(out_map) as dst, rasterio.open(image) as src:
        assert dst.crs == src.crs and dst.transform.almost_equals(src.transform)
        assert dst.shape == src.shape and dst.nodata == 0
        assert dst.colormap(1)[8][:3] == MCAE.get(8).rgb
        assert dst.tags()["CLASS_5"] == "Tree" and dst.tags()["CLASS_SCHEME"] == "mcae"
        produced = dst.read(1)
    with rasterio.open(labels) as ref:
        truth = ref.read(1)
    assert (produced == truth).mean() > 0.85
    catalog = tmp_path / "site" / "catalog.json"
    code, out = mcae("map", "--project", project, "--out", out_map, "--publish", "Test Town", "--catalog", catalog)
    assert code == 0 and "published" in out and "test-town/mcae" in out, out
    store = CatalogStore(catalog)
    layer = store.layer("test-town", "mcae")
    assert store.layer_path(layer) == out_map.resolve() and store.serving_copy(layer) is not None
    client = TestClient(create_app(Settings(tiles=TileSettings(catalog_path=catalog))))
    lon, lat = (layer.bounds[0] + layer.bounds[2]) / 2, (layer.bounds[1] + layer.bounds[3]) / 2
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, layer.maxzoom)
    r = client.get(f"/cities/test-town/layers/mcae/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    point = client.get(f"/api/cities/test-town/identify?lon={lon}&lat={lat}").json()["layers"][0]
    assert point["layer"] == "mcae" and 1 <= point["value"] <= 9
    report_dir = tmp_path / "report"
    code, out = mcae("evaluate", out_map, labels, "--out", report_dir)
    assert code == 0 and "kappa" in out.lower()
    report = json.loads((report_dir / "accuracy.json").read_text())
    assert abs(report["overall_accuracy"] - (produced == truth).mean()) < 1e-9
    assert (report_dir / "confusion.png").stat().st_size > 1000
    code, out = mcae("export-dataset", "--project", project, "--out", tmp_path / "ds", "-q")
    assert code == 0, out
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert len(manifest["items"]) == 12 and manifest["modes"] == ["dense", "sparse"]
    first = manifest["items"][0]
    with rasterio.open(tmp_path / "ds" / first["label_dense"]) as d, \
            rasterio.open(tmp_path / "ds" / first["label_sparse"]) as s:
        dense, sparse = d.read(1), s.read(1)
        assert d.shape == (64, 64) and d.crs.to_epsg() == 32650
    assert ((sparse == dense) | (sparse == 0)).all() and (dense > 0).mean() > (sparse > 0).mean() - 1e-9
    footprints = json.loads((tmp_path / "ds" / "footprints.geojson").read_text())
    lon, lat = footprints["features"][0]["geometry"]["coordinates"][0][0]
    assert 118 < lon < 119 and 32 < lat < 33  # EPSG:4326, near Nanjing


def test_results_do_not_depend_on_workers(scene_files: tuple[Path, Path], tmp_path: Path) -> None:
    image, _ = scene_files
    one, two = tmp_path / "one", tmp_path / "two"
    assert mcae("segment", image, "--project", one, *SMALL)[0] == 0
    args = [a for a in SMALL if a not in ("--scheduler", "synchronous")]
    code, out = mcae("segment", image, "--project", two, *args, "--workers", "2")
    assert code == 0, out
    for name in ("masks.parquet", "groups.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(one / name), pd.read_parquet(two / name))
    for tif in (one / "patches").glob("*.tif"):
        with rasterio.open(tif) as a, rasterio.open(two / "patches" / tif.name) as b:
            np.testing.assert_array_equal(a.read(), b.read())


def test_resume_skips_finished_patches(segmented: tuple[Path, Path, Path]) -> None:
    image, _, project = segmented
    patch = project / "patches" / "0-0.parquet"
    before = patch.stat().st_mtime_ns
    (project / "patches" / "2-3.parquet").unlink()
    code, out = mcae("segment", image, "--project", project, *SMALL)
    assert code == 0, out
    assert patch.stat().st_mtime_ns == before and (project / "patches" / "2-3.parquet").exists()


def test_scheduler_address_runs_on_an_existing_cluster(scene_files: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    from distributed import LocalCluster

    image, _ = scene_files
    args = [a for a in SMALL if a not in ("--scheduler", "synchronous")]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        code, out = mcae("segment", image, "--project", tmp_path / "p", *args,
                         "--scheduler", cluster.scheduler_address)
    assert code == 0, out
    manifest = json.loads((tmp_path / "p" / "project.json").read_text())
    assert manifest["steps"]["segment"]["workers"] == 1
    assert (tmp_path / "p" / "groups.parquet").is_file()
