"""STAC: a collection per city, an item per layer with projection, classification and
provenance; served hrefs are server URLs; the static export round-trips through pystac."""

from __future__ import annotations

import json
from pathlib import Path

import morecantile
import numpy as np
import pystac
import pytest
from analysis_data import UTM, client, geo_transform, make_store, utm_transform, write_classes
from pystac.extensions.classification import ClassificationExtension
from pystac.extensions.projection import ProjectionExtension
from test_pipeline import mcae

from mcae.inference.classes import MCAE, SINOLC1
from mcae.tiles.catalog import CatalogStore, LayerKind
from mcae.tiles.stac import build_catalog


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    data = np.arange(1, 10, dtype=np.uint8).repeat(4).reshape(6, 6)
    layers = {
        "mcae": (write_classes(tmp_path / "m.tif", data, crs=UTM, transform=utm_transform(), scheme=MCAE),
                 LayerKind.mcae),
        "sinolc1": (write_classes(tmp_path / "s.tif", data, crs="EPSG:4326", transform=geo_transform(),
                                  scheme=SINOLC1), LayerKind.sinolc1),
        "imagery": (write_classes(tmp_path / "i.tif", data, crs=UTM, transform=utm_transform(), nodata=None),
                    LayerKind.imagery),
    }
    return make_store(tmp_path, layers)


def test_served_catalog_round_trips_with_server_urls(store: CatalogStore, tmp_path: Path) -> None:
    api = client(store)
    root = api.get("/api/stac/catalog.json").json()
    catalog = pystac.Catalog.from_dict(root)
    assert catalog.id == "mcae"
    child = next(link["href"] for link in root["links"] if link["rel"] == "child")
    assert child == "http://testserver/api/stac/testville/collection.json"
    collection_json = api.get(child.removeprefix("http://testserver")).json()
    collection = pystac.Collection.from_dict(collection_json)
    assert collection.id == "testville" and collection_json["mcae:provenance"] == "synthetic"
    items = [link["href"] for link in collection_json["links"] if link["rel"] == "item"]
    assert len(items) == 3
    served = {}
    for href in items:
        response = api.get(href.removeprefix("http://testserver"))
        assert response.status_code == 200, href
        served[response.json()["id"]] = response.json()
        assert str(tmp_path) not in response.text  # never a server file path
    item = pystac.Item.from_dict(served["mcae"])
    assert item.properties["mcae:provenance"] == "synthetic" and item.properties["mcae:kind"] == "mcae"
    proj = ProjectionExtension.ext(item)
    assert proj.code == "EPSG:32650" and proj.shape == [6, 6]
    asset = item.assets["data"]
    assert asset.href.startswith("http://testserver/api/cities/testville/layers/mcae/clip?bbox=")
    assert asset.media_type == pystac.MediaType.GEOTIFF
    links = {x["rel"]: x["href"].removeprefix("http://testserver") for x in served["mcae"]["links"]}
    data = api.get(asset.href.removeprefix("http://testserver"))  # real routes of the server
    assert data.status_code == 200 and data.content[:2] in (b"II", b"MM")
    assert api.get(links["tilejson"]).status_code == 200
    tile = morecantile.tms.get("WebMercatorQuad").tile(*item.bbox[:2], 18)  # type: ignore[index]
    assert api.get(links["xyz"].format(z=tile.z, x=tile.x, y=tile.y)).status_code in (200, 204)
    classes = ClassificationExtension.ext(asset).classes
    assert [c.value for c in classes] == [0, *MCAE.ids]
    assert classes[1].title == "Bareland" and classes[1].color_hint == "800000" and classes[0].nodata
    assert any(link.rel == "xyz" for link in item.links)
    assert "classification:classes" not in json.dumps(served["imagery"])


def test_unknown_ids_are_404(store: CatalogStore) -> None:
    api = client(store)
    assert api.get("/api/stac/nowhere/collection.json").status_code == 404
    assert api.get("/api/stac/testville/nothing/nothing.json").status_code == 404
    assert api.get("/api/stac/testville/mcae/sinolc1.json").status_code == 404


def test_static_export_round_trips(store: CatalogStore, tmp_path: Path) -> None:
    out = tmp_path / "stac"
    code, text = mcae("catalog", "stac", "--out", out, "--catalog", store.path)
    assert code == 0, text
    catalog = pystac.Catalog.from_file(str(out / "catalog.json"))
    items = {item.id: item for item in catalog.get_items(recursive=True)}
    assert set(items) == {"mcae", "sinolc1", "imagery"}
    sinolc1 = items["sinolc1"]
    assert Path(sinolc1.assets["data"].href) == store.layer_path(store.layer("testville", "sinolc1"))
    names = [c.title for c in ClassificationExtension.ext(sinolc1.assets["data"]).classes]
    assert names[1:] == SINOLC1.names
    assert ProjectionExtension.ext(sinolc1).code == "EPSG:4326"
    again = pystac.Catalog.from_dict(catalog.to_dict())
    assert again.id == catalog.id
    for item in items.values():  # structure a validator would check, without its network schemas
        data = item.to_dict()
        assert data["type"] == "Feature" and data["stac_version"] and data["properties"]["datetime"]
        assert len(data["bbox"]) == 4 and data["geometry"]["type"] == "Polygon"


def test_base_url_export(store: CatalogStore, tmp_path: Path) -> None:
    catalog = build_catalog(store, "https://maps.example.org/")
    item = catalog.get_child("testville").get_item("mcae")  # type: ignore[union-attr]
    assert item is not None
    assert item.assets["data"].href.startswith("https://maps.example.org/api/cities/testville/")
    assert item.get_self_href() == "https://maps.example.org/api/stac/testville/mcae/mcae.json"
