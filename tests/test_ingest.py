"""Ingest: a SinoLC-1-like prefecture file (EPSG:4326, palette, values 1-11) clipped to
the city as a valid COG with mode overviews; its own colour table and attribute table win
over the defaults; a legend file overrides ids, names and colours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from analysis_data import GEO_RES, box_polygon, client, geo_transform, make_store, write_classes
from rio_cogeo.cogeo import cog_validate
from test_pipeline import mcae

from mcae.inference.classes import SINOLC1
from mcae.inference.errors import InputError
from mcae.tiles.catalog import CatalogStore, LayerKind
from mcae.tiles.ingest import ingest_map, ingest_sinolc1

SIZE = 900  # source pixels per side; the city is 600 x 600 of them
CITY = (150, 200, 750, 800)  # rows 150-749, cols 200-799 of the source


def prefecture(tmp_path: Path, colours: dict[int, tuple[int, int, int, int]] | None = None) -> Path:
    """A SinoLC-1-like file: 30 px blocks of values 1-11, a no-data margin, a colour table."""
    rng = np.random.default_rng(1)
    data = np.kron(rng.integers(1, 12, (SIZE // 30, SIZE // 30)), np.ones((30, 30))).astype(np.uint8)
    data[:, :20] = 0
    cmap = {**SINOLC1.colormap(), **(colours or {})}
    return write_classes(tmp_path / "East_Jiangsu_Testville.tif", data, crs="EPSG:4326",
                         transform=geo_transform(), colormap=cmap)


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    t = geo_transform()
    r0, c0, r1, c1 = CITY
    (w, n), (e, s) = t @ (c0, r0), t @ (c1, r1)
    return make_store(tmp_path, {}, districts={"all": box_polygon(w, s, e, n)}, provenance="real")


def test_clipped_valid_cog_with_mode_overviews(tmp_path: Path, store: CatalogStore) -> None:
    source = prefecture(tmp_path)
    done = ingest_sinolc1(store, source, city="testville")
    assert done.size == (600, 600) and done.clipped_to is not None
    assert cog_validate(str(done.path), quiet=True)[0]
    with rasterio.open(done.path) as out, rasterio.open(source) as src:
        r0, c0, r1, c1 = CITY
        assert out.read(1).tolist() == src.read(1)[r0:r1, c0:c1].tolist()
        assert out.bounds.left == pytest.approx(geo_transform().c + c0 * GEO_RES)
        assert out.overviews(1) and out.tags()["OVERVIEW_RESAMPLING"] == "MODE"
        assert out.crs.to_epsg() == 4326 and out.nodata == 0
    layer = store.layer("testville", "sinolc1")
    assert layer.kind == LayerKind.sinolc1 and layer.scheme == "sinolc1" and layer.provenance == "real"
    assert [e["name"] for e in layer.legend or []] == SINOLC1.names
    assert store.layer_path(layer) == done.path.resolve()


def test_own_colour_table_wins(tmp_path: Path, store: CatalogStore) -> None:
    source = prefecture(tmp_path, {1: (1, 2, 3, 255), 5: (9, 8, 7, 255)})
    done = ingest_sinolc1(store, source, city="testville")
    legend = {e["id"]: e for e in store.layer("testville", "sinolc1").legend or []}
    assert legend[1] == {"id": 1, "name": "Traffic route", "color": "#010203"}
    assert legend[5]["color"] == "#090807" and legend[2]["color"] == SINOLC1.get(2).hex
    assert "colour table" in done.legend_sources
    with rasterio.open(done.path) as out:
        assert out.colormap(1)[1] == (1, 2, 3, 255)


def test_attribute_table_names_win(tmp_path: Path, store: CatalogStore) -> None:
    source = prefecture(tmp_path)
    rows = "".join(f"<Row index=\"{i}\"><F>{v}</F><F>{name}</F><F>{r}</F><F>{g}</F><F>{b}</F></Row>"
                   for i, (v, name, (r, g, b)) in enumerate([(1, "Road (OSM)", (10, 20, 30)),
                                                             (12, "Cloud", (255, 255, 255))]))
    fields = "".join(f"<FieldDefn index=\"{i}\"><Name>{n}</Name><Type>{t}</Type><Usage>{u}</Usage></FieldDefn>"
                     for i, (n, t, u) in enumerate([("Value", 0, 5), ("Class", 2, 2), ("Red", 0, 6),
                                                    ("Green", 0, 7), ("Blue", 0, 8)]))
    Path(f"{source}.aux.xml").write_text(
        "<PAMDataset><PAMRasterBand band=\"1\"><GDALRasterAttributeTable tableType=\"thematic\">"
        f"{fields}{rows}</GDALRasterAttributeTable></PAMRasterBand></PAMDataset>")
    done = ingest_sinolc1(store, source, city="testville")
    legend = {e["id"]: e for e in done.layer.legend or []}
    assert legend[1] == {"id": 1, "name": "Road (OSM)", "color": "#0A141E"}
    assert legend[12]["name"] == "Cloud" and legend[2]["name"] == "Tree cover"


def test_legend_file_overrides(tmp_path: Path, store: CatalogStore) -> None:
    legend = [{"id": 1, "name": "Built-up", "color": "#ff0000"}, {"id": 2, "name": "Trees", "color": [0, 128, 0]}]
    path = tmp_path / "legend.json"
    path.write_text(json.dumps(legend))
    done = ingest_sinolc1(store, prefecture(tmp_path), city="testville", legend_path=path)
    assert done.layer.legend == [{"id": 1, "name": "Built-up", "color": "#FF0000"},
                                 {"id": 2, "name": "Trees", "color": "#008000"}]
    assert done.legend_sources == ["legend file"]
    with rasterio.open(done.path) as out:
        assert out.tags()["CLASS_1"] == "Built-up" and out.colormap(1)[2] == (0, 128, 0, 255)
    stats = client(store).get("/api/cities/testville/layers/sinolc1/statistics").json()
    names = {row["id"]: row["name"] for row in stats["classes"]}
    assert names[1] == "Built-up" and "not in the legend" in names[3]


def test_whole_file_for_a_new_city_and_errors(tmp_path: Path, store: CatalogStore) -> None:
    source = prefecture(tmp_path)
    done = ingest_sinolc1(store, source, city="elsewhere")
    assert done.clipped_to is None and done.size == (SIZE, SIZE)
    far = write_classes(tmp_path / "far.tif", np.ones((10, 10), np.uint8), crs="EPSG:4326",
                        transform=geo_transform(west=10.0, north=10.0))
    with pytest.raises(InputError, match="does not overlap"):
        ingest_sinolc1(store, far, city="testville")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": 0, "name": "x", "color": "#000000"}]))
    with pytest.raises(InputError, match="1-255"):
        ingest_map(store, source, city="testville", layer_id="x", kind=LayerKind.other, legend_path=bad)


def test_cli(tmp_path: Path, store: CatalogStore) -> None:
    source = prefecture(tmp_path)
    code, out = mcae("ingest", "sinolc1", source, "--city", "testville", "--catalog", store.path)
    assert code == 0, out
    assert "600 x 600 px, clipped to the city" in out
    legend = tmp_path / "legend.json"
    legend.write_text(json.dumps([{"id": i, "name": f"Class {i}", "color": "#123456"} for i in range(1, 12)]))
    code, out = mcae("ingest", "layer", source, "--city", "testville", "--layer", "esa", "--legend", legend,
                     "--catalog", store.path)
    assert code == 0, out
    layer = store.layer("testville", "esa")
    assert layer.kind == LayerKind.other and layer.scheme is None and len(layer.legend or []) == 11
    legend.write_text("[{\"id\": 1}]")
    code, out = mcae("ingest", "layer", source, "--city", "testville", "--layer", "esa2", "--legend", legend,
                     "--catalog", store.path)
    assert code == 2 and "legend entry 1" in out
