"""Class statistics: full-resolution hand counts in a projected CRS and in EPSG:4326,
bbox / polygon / district areas, CSV, the pixel cap (413) and malformed requests (4xx)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from analysis_data import (
    UTM,
    as_documented,
    box_polygon,
    client,
    geo_transform,
    geodesic_row_areas,
    make_store,
    utm_transform,
    write_classes,
)
from pyproj import Transformer

from mcae.inference.classes import MCAE
from mcae.tiles.catalog import CatalogStore, LayerKind
from mcae.tiles.geometry import PixelAreas
from mcae.tiles.schemas_analysis import StatisticsOut

H, W = 40, 50


def labels() -> np.ndarray:
    """1 in rows 0-9; 2 in rows 10-39 cols 0-24; 3 elsewhere; a no-data block; some 7s."""
    data = np.full((H, W), 3, np.uint8)
    data[:10] = 1
    data[10:, :25] = 2
    data[30:, 40:] = 0
    data[20:24, 30:36] = 7
    return data


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    utm = write_classes(tmp_path / "utm.tif", labels(), crs=UTM, transform=utm_transform(2.0), scheme=MCAE)
    geo = write_classes(tmp_path / "geo.tif", labels(), crs="EPSG:4326", transform=geo_transform(), scheme=MCAE)
    image = write_classes(tmp_path / "image.tif", labels(), crs=UTM, transform=utm_transform(2.0))
    t = geo_transform()
    (w, n), (e, s) = t @ (10, 5), t @ (30, 15)  # pixel edges: rows 5-14, cols 10-29
    return make_store(tmp_path, {"utm": (utm, LayerKind.mcae), "geo": (geo, LayerKind.mcae),
                                 "image": (image, LayerKind.imagery)},
                      districts={"centre": box_polygon(w, s, e, n)})


def by_id(document: dict) -> dict[int, dict]:
    return {row["id"]: row for row in document["classes"]}


def close(a: float, b: float, tol: float = 0.005) -> bool:
    return abs(a - b) <= tol * abs(b)


def test_projected_layer_matches_a_hand_count(store: CatalogStore) -> None:
    doc = client(store).get("/api/cities/testville/layers/utm/statistics").json()
    data = labels()
    rows = by_id(doc)
    for cid in (1, 2, 3, 7):
        assert rows[cid]["pixels"] == int((data == cid).sum())
        assert close(rows[cid]["area_m2"], 4.0 * (data == cid).sum())  # 2 m pixels
    assert rows[5]["pixels"] == 0 and rows[5]["name"] == "Tree"  # every class of the scheme listed
    assert doc["pixels"]["nodata"] == int((data == 0).sum())
    assert doc["pixels"]["classified"] == int((data > 0).sum())
    assert sum(r["percent"] for r in doc["classes"]) == pytest.approx(100.0)
    assert rows[1]["percent"] == pytest.approx(100 * (data == 1).sum() / (data > 0).sum(), rel=1e-3)
    # UTM is not equal-area: the true area differs a little from the grid's 4 m².
    assert doc["area_m2"]["classified"] != pytest.approx(4.0 * (data > 0).sum(), rel=1e-6)


def test_geographic_layer_matches_geodesic_row_areas(store: CatalogStore) -> None:
    doc = client(store).get("/api/cities/testville/layers/geo/statistics").json()
    data = labels()
    row_area = geodesic_row_areas(geo_transform(), H, W)
    for cid, row in by_id(doc).items():
        expected = float(((data == cid) * row_area[:, None]).sum())
        assert close(row["area_m2"], expected, 1e-4) if expected else row["area_m2"] == 0
    assert 1.0 < row_area.mean() < 1.1  # 1e-5 degrees at 32 N: about 1.11 m x 0.94 m


def test_pixel_areas_are_equal_area_exact() -> None:
    transform = geo_transform(res=1e-4)
    areas = PixelAreas(__import__("rasterio").crs.CRS.from_epsg(4326), transform, (118.8, 32.0))
    from rasterio.windows import Window

    got = areas.window(Window(0, 0, 300, 300))
    expected = geodesic_row_areas(transform, 300, 300)
    np.testing.assert_allclose(got, np.repeat(expected[:, None], 300, axis=1), rtol=1e-6)


def test_bbox_and_district_in_geographic_layer(store: CatalogStore) -> None:
    api = client(store)
    t = geo_transform()
    (w, n), (e, s) = t @ (10, 5), t @ (30, 15)
    by_bbox = api.get("/api/cities/testville/layers/geo/statistics", params={"bbox": f"{w},{s},{e},{n}"}).json()
    by_district = api.get("/api/cities/testville/layers/geo/statistics", params={"district": "centre"}).json()
    window = labels()[5:15, 10:30]
    row_area = geodesic_row_areas(t, H, W)[5:15]
    for doc in (by_bbox, by_district):
        rows = by_id(doc)
        assert doc["pixels"]["inside"] == window.size
        for cid in (1, 2, 3):
            assert rows[cid]["pixels"] == int((window == cid).sum())
            assert close(rows[cid]["area_m2"], float(((window == cid) * row_area[:, None]).sum()), 1e-4)
    assert by_district["area"] == {"type": "district", "id": "centre", "name": "Centre",
                                   "bbox": pytest.approx([w, s, e, n])}
    whole = api.get("/api/cities/testville/layers/geo/statistics").json()
    for doc in (by_bbox, by_district, whole):  # the OpenAPI schema is what the route answers
        assert as_documented(StatisticsOut, doc) == doc


def test_polygon_in_projected_layer(store: CatalogStore) -> None:
    """A rectangle of UTM pixel edges (inset a quarter pixel) sent as a 4326 polygon."""
    to_geo = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    t = utm_transform(2.0)
    corners = [t @ (10.25, 5.25), t @ (29.75, 5.25), t @ (29.75, 24.75), t @ (10.25, 24.75)]
    ring = [list(to_geo.transform(x, y)) for x, y in corners]
    feature = {"type": "Feature", "properties": {},
               "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}}
    response = client(store).post("/api/cities/testville/layers/utm/statistics", json=feature)
    assert response.status_code == 200, response.text
    rows = by_id(response.json())
    assert as_documented(StatisticsOut, response.json()) == response.json()
    window = labels()[5:25, 10:30]
    for cid in (1, 2, 3):
        assert rows[cid]["pixels"] == int((window == cid).sum())
        assert close(rows[cid]["area_m2"], 4.0 * (window == cid).sum())


def test_csv(store: CatalogStore) -> None:
    response = client(store).get("/api/cities/testville/layers/geo/statistics",
                                 params={"format": "csv", "district": "centre"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["id", "name", "color", "pixels", "area_m2", "percent"]
    assert [r["name"] for r in rows] == MCAE.names
    assert sum(float(r["percent"]) for r in rows) == pytest.approx(100.0)


def test_pixel_cap_is_413_with_count_and_cap(store: CatalogStore) -> None:
    response = client(store, max_image_pixels=1000).get("/api/cities/testville/layers/geo/statistics")
    assert response.status_code == 413
    body = response.json()
    assert body["count"] == H * W and body["cap"] == 1000
    assert "2,000" in body["detail"] and "1,000" in body["detail"]


@pytest.mark.parametrize("params, status, message", [
    ({"bbox": "a,b,c,d"}, 400, "four numbers"),
    ({"bbox": "1,2,3"}, 400, "four numbers"),
    ({"bbox": "119,32,118,33"}, 400, "w<e"),
    ({"bbox": "0,0,1,1", "district": "centre"}, 400, "not both"),
    ({"district": "nowhere"}, 404, "unknown district"),
    ({"format": "xml"}, 422, ""),
])
def test_malformed_get(store: CatalogStore, params: dict, status: int, message: str) -> None:
    response = client(store).get("/api/cities/testville/layers/utm/statistics", params=params)
    assert response.status_code == status
    assert message in str(response.json()["detail"])


bowtie = {"type": "Polygon", "coordinates": [[[118.78, 32.07], [118.79, 32.08], [118.79, 32.07],
                                              [118.78, 32.08], [118.78, 32.07]]]}


@pytest.mark.parametrize("body, status, message", [
    ({"type": "Point", "coordinates": [118.78, 32.07]}, 400, "not supported"),
    (bowtie, 400, "invalid Polygon"),
    ({"type": "Polygon", "coordinates": [[[1, 2]]]}, 400, "malformed Polygon"),
    ({"type": "Polygon", "coordinates": [[[700000, 3500000], [700010, 3500000], [700010, 3500010],
                                          [700000, 3500000]]]}, 400, "EPSG:4326"),
    ({"type": "FeatureCollection", "features": []}, 400, "no features"),
    ([1, 2], 422, ""),
])
def test_malformed_post(store: CatalogStore, body: object, status: int, message: str) -> None:
    response = client(store).post("/api/cities/testville/layers/utm/statistics", json=body)
    assert response.status_code == status, response.text
    assert message in str(response.json()["detail"])


def test_not_json_and_not_categorical(store: CatalogStore) -> None:
    api = client(store)
    response = api.post("/api/cities/testville/layers/utm/statistics", content=b"{not json",
                        headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]
    response = api.get("/api/cities/testville/layers/image/statistics")
    assert response.status_code == 400 and "not a categorical" in response.json()["detail"]


def test_world_bbox_on_a_projected_layer_counts_the_layer(store: CatalogStore) -> None:
    doc = client(store).get("/api/cities/testville/layers/utm/statistics",
                            params={"bbox": "-180,-90,180,90"}).json()
    assert doc["pixels"]["inside"] == H * W


def test_area_outside_the_layer_counts_nothing(store: CatalogStore) -> None:
    doc = client(store).get("/api/cities/testville/layers/geo/statistics",
                            params={"bbox": "10,10,11,11"}).json()
    assert doc["pixels"]["inside"] == 0 and all(r["percent"] is None for r in doc["classes"])
