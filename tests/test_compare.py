"""MCAE against SinoLC-1: hand-computed tables on a tiny pair, mode resampling, the
agreement COG, the report files, the API and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from analysis_data import as_documented, box_polygon, client, geo_transform, make_store, write_classes
from rio_cogeo.cogeo import cog_validate
from test_pipeline import mcae

from mcae.inference.classes import AGREEMENT, MCAE, SINOLC1
from mcae.tiles.catalog import CatalogStore, Layer, LayerKind
from mcae.tiles.compare import sinolc1_lookup
from mcae.tiles.compare_report import run_comparison
from mcae.tiles.schemas_analysis import CompareReportOut

S = np.array([[1, 1, 2, 2, 9, 9],
              [6, 6, 2, 3, 10, 9],
              [5, 5, 4, 4, 7, 0],
              [5, 8, 11, 4, 7, 7]], np.uint8)
M = np.array([[4, 3, 5, 5, 6, 6],
              [8, 8, 5, 5, 6, 2],
              [7, 7, 2, 7, 1, 1],
              [0, 9, 2, 2, 1, 8]], np.uint8)
# Worked by hand (see the pairs above): rows SinoLC-1, columns MCAE, harmonised classes
# Built, Tree, Low vegetation, Agriculture, Water, Bare.
HARMONISED = [[4, 0, 0, 0, 0, 0],
              [0, 4, 0, 0, 0, 0],
              [0, 0, 3, 1, 1, 0],
              [0, 0, 0, 2, 0, 0],
              [0, 0, 1, 0, 2, 0],
              [1, 0, 0, 0, 0, 2]]
CONTINGENCY = {(1, 4): 1, (1, 3): 1, (2, 5): 3, (9, 6): 2, (6, 8): 2, (3, 5): 1, (10, 6): 1, (9, 2): 1,
               (5, 7): 2, (4, 2): 2, (4, 7): 1, (7, 1): 2, (8, 9): 1, (11, 2): 1, (7, 8): 1}
AGREEMENT_MAP = [[1, 1, 2, 2, 5, 5],
                 [1, 1, 2, 2, 11, 9],
                 [4, 4, 3, 10, 6, 0],
                 [0, 13, 3, 3, 6, 7]]


def pair(tmp_path: Path, fine: bool = False) -> CatalogStore:
    """SinoLC-1 on a 1e-5 degree grid; MCAE on the same grid or 3x finer (majority 6 of 9)."""
    sino = write_classes(tmp_path / "sinolc1.tif", S, crs="EPSG:4326", transform=geo_transform(),
                         scheme=SINOLC1)
    if fine:
        block = np.ones((3, 3), np.uint8)
        m = np.kron(M, block)
        minority = np.kron(np.where(M > 0, M % 9 + 1, 0), block)  # another class; no data stays
        spots = np.zeros(m.shape, bool)
        spots[0::3, 0::3] = spots[1::3, 1::3] = spots[2::3, 2::3] = True  # 3 of each 9
        m[spots] = minority[spots]
        transform = geo_transform(res=1e-5 / 3)
    else:
        m, transform = M, geo_transform()
    mcae_path = write_classes(tmp_path / "mcae.tif", m, crs="EPSG:4326", transform=transform, scheme=MCAE)
    t = geo_transform()
    (w, n), (e, s) = t @ (0, 0), t @ (3, 4)
    return make_store(tmp_path, {"mcae": (mcae_path, LayerKind.mcae), "sinolc1": (sino, LayerKind.sinolc1)},
                      districts={"west": box_polygon(w, s, e, n)})


@pytest.mark.parametrize("fine", [False, True], ids=["same-grid", "mode-from-3x-finer"])
def test_tables_match_the_hand_count(tmp_path: Path, fine: bool) -> None:
    store = pair(tmp_path, fine)
    result, paths = run_comparison(store, "testville")
    assert result.grid["mcae_resampling"] == ("mode" if fine else "none (same grid)")
    doc = json.loads(paths["compare.json"].read_text())
    city = doc["summary"]
    assert city["harmonised"]["counts"] == HARMONISED
    expected = np.zeros((11, 9), int)
    for (s, m), n in CONTINGENCY.items():
        expected[s - 1, m - 1] = n
    assert city["contingency"]["counts"] == expected.tolist()
    assert city["pixels"] == {"grid": 24, "nodata": 2, "compared": 21, "excluded": 1}
    assert city["overall_agreement"] == pytest.approx(17 / 21)
    assert city["kappa"] == pytest.approx(280 / 364)
    assert city["level_a"]["overall_agreement"] == pytest.approx(16 / 21)
    of_sinolc1 = [c["agreement_of_sinolc1"] for c in city["classes"]]
    of_mcae = [c["agreement_of_mcae"] for c in city["classes"]]
    assert of_sinolc1 == pytest.approx([1, 1, 3 / 5, 1, 2 / 3, 2 / 3])
    assert of_mcae == pytest.approx([4 / 5, 1, 3 / 4, 2 / 3, 2 / 3, 1])
    (west,) = doc["districts"]
    assert west["scope"] == "west" and west["pixels"]["compared"] == 10
    assert west["overall_agreement"] == 1.0
    with rasterio.open(paths["agreement.tif"]) as src:
        assert src.read(1).tolist() == AGREEMENT_MAP


def test_agreement_cog_and_layer(tmp_path: Path) -> None:
    store = pair(tmp_path)
    _, paths = run_comparison(store, "testville")
    path = paths["agreement.tif"]
    assert cog_validate(str(path), quiet=True)[0]
    with rasterio.open(path) as src:
        colours = src.colormap(1)
        assert src.tags()["CLASS_SCHEME"] == "agreement" and src.tags()["CLASS_1"] == "Agree: Built"
        assert src.crs.to_epsg() == 4326 and src.nodata == 0
    for c in AGREEMENT:
        assert colours[c.id][:3] == c.rgb
    layer = store.layer("testville", "agreement")
    assert layer.kind == LayerKind.agreement and layer.scheme == "agreement"
    assert layer.provenance == "synthetic"
    assert store.layer_path(layer) == path.resolve()


def test_report_files(tmp_path: Path) -> None:
    _, paths = run_comparison(pair(tmp_path), "testville")
    assert set(paths) == {"compare.json", "summary.csv", "per_class.csv", "contingency.csv",
                          "harmonised.csv", "compare.png", "agreement.tif"}
    assert paths["compare.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = list(csv.DictReader(paths["summary.csv"].open()))
    assert [r["scope"] for r in summary] == ["city", "west"]
    assert float(summary[0]["overall_agreement"]) == pytest.approx(17 / 21)
    contingency = list(csv.DictReader(paths["contingency.csv"].open()))
    assert len(contingency) == 2 * 11 * 9
    assert sum(int(r["pixels"]) for r in contingency if r["scope"] == "city") == 22
    per_class = list(csv.DictReader(paths["per_class.csv"].open()))
    assert len(per_class) == 2 * 6 and per_class[0]["class"] == "Built"


def test_legend_names_map_values_to_sinolc1() -> None:
    layer = Layer(id="s", kind=LayerKind.sinolc1, title="s", path="s.tif", bounds=(0, 0, 1, 1),
                  legend=[{"id": 1, "name": "WATER", "color": "#0064C8"},
                          {"id": 9, "name": "Traffic route", "color": "#FA0000"},
                          {"id": 12, "name": "Cloud", "color": "#FFFFFF"}])
    lut = sinolc1_lookup(layer)
    assert lut[1] == 9 and lut[9] == 1 and lut[2] == 2 and lut[0] == 0
    assert lut[12] == 255 and lut[200] == 255


def test_api_serves_the_report(tmp_path: Path) -> None:
    store = pair(tmp_path)
    api = client(store)
    missing = api.get("/api/cities/testville/compare")
    assert missing.status_code == 404 and "mcae compare --city testville" in missing.json()["detail"]
    assert api.get("/api/cities/nowhere/compare").status_code == 404
    run_comparison(store, "testville")
    doc = api.get("/api/cities/testville/compare").json()
    assert doc["summary"]["overall_agreement"] == pytest.approx(17 / 21)
    assert as_documented(CompareReportOut, doc) == doc  # the OpenAPI schema is what it answers
    assert str(tmp_path) not in json.dumps(doc)  # no server paths
    table = api.get("/api/cities/testville/compare", params={"format": "csv", "table": "harmonised"})
    assert table.status_code == 200 and table.text.startswith("scope,name,sinolc1_class,mcae_class,pixels")
    assert api.get("/api/cities/testville/compare", params={"format": "csv", "table": "x"}).status_code == 400
    png = api.get("/api/cities/testville/compare.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"


def test_cli(tmp_path: Path) -> None:
    store = pair(tmp_path)
    code, out = mcae("compare", "--city", "testville", "--catalog", store.path)
    assert code == 0, out
    assert "agreement 80.95%" in out and "kappa 0.769" in out
    store.remove("testville", "sinolc1")
    code, out = mcae("compare", "--city", "testville", "--catalog", store.path)
    assert code == 2 and "no sinolc1 layer" in out
    code, out = mcae("compare", "--city", "nowhere", "--catalog", store.path)
    assert code == 2 and "unknown city 'nowhere'" in out
