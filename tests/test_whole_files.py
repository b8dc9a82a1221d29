"""Whole maps to download: the files a publish records (map, sidecars, district maps) with size
and SHA-256, served with HTTP Range requests at versioned immutable URLs, opened remotely by
GDAL (/vsicurl/), 410 once superseded, and as the STAC items' assets (one item per district)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from downloads_fixtures import CITY, build_downloads
from fastapi.testclient import TestClient
from gdal_classes import gdal_classes
from tiles_data import live_server

from mcae.platform.app import create_app
from mcae.platform.settings import Settings, TileSettings
from mcae.tiles import versions
from mcae.tiles.catalog import CatalogStore, LayerKind
from mcae.tiles.layers import publish_layer

FILES = f"/api/cities/{CITY}/layers/mcae/files"


@dataclass
class Published:
    store: CatalogStore
    client: TestClient


def _app(store: CatalogStore) -> TestClient:
    settings = Settings(tiles=TileSettings(catalog_path=store.path, web_dist=store.root / "no-web"))
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    """The download test city with its MCAE map published the way `mcae map --publish` does
    (districts "triangle", inside the map, and "far", outside it)."""
    found = build_downloads(tmp_path_factory.mktemp("whole"))
    publish_layer(found.store, CITY, found.utm, kind=LayerKind.mcae, layer_id="mcae", provenance="synthetic")
    with _app(found.store) as client:
        yield Published(found.store, client)


def listing(client: TestClient, url: str = FILES) -> dict:  # type: ignore[type-arg]
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_name(files: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {f["name"]: f for f in files}


def test_the_listing_names_the_map_its_sidecars_and_each_district_map(published: Published) -> None:
    body = listing(published.client)
    files = by_name(body["files"])
    assert set(files) == {f"{CITY}-mcae.tif", f"{CITY}-mcae.tif.aux.xml", f"{CITY}-mcae.qml",
                          f"{CITY}-mcae-triangle.tif", f"{CITY}-mcae-triangle.tif.aux.xml",
                          f"{CITY}-mcae-triangle.qml"}  # "far" lies outside the map: no file
    whole = files[f"{CITY}-mcae.tif"]
    assert whole["role"] == "data" and whole["district"] is None
    assert whole["url"].endswith(f"{FILES}/{body['version']}/{CITY}-mcae.tif")
    assert whole["vsicurl"] == "/vsicurl/" + whole["url"]
    assert files[f"{CITY}-mcae-triangle.tif"]["district_name"] == "Triangle"
    assert files[f"{CITY}-mcae.qml"]["role"] == "style" and files[f"{CITY}-mcae.qml"]["vsicurl"] is None
    assert "path" not in whole and str(published.store.root) not in published.client.get(FILES).text
    # the listing of the version itself is immutable, and says the same
    versioned = published.client.get(f"{FILES}/{body['version']}")
    assert versioned.json() == body and "immutable" in versioned.headers["cache-control"]


def test_sizes_and_sha256_are_those_of_the_files(published: Published) -> None:
    layer = published.store.layer(CITY, "mcae")
    assert layer.files is not None
    on_disk = {f.name: published.store.resolve(f.path) for f in layer.files.files}
    assert on_disk[f"{CITY}-mcae.tif"] == published.store.layer_path(layer)  # the map itself, not a copy
    for entry in listing(published.client)["files"]:
        data = on_disk[entry["name"]].read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        served = published.client.get(entry["url"])
        assert served.status_code == 200 and served.content == data
        assert served.headers["content-length"] == str(len(data))
        assert served.headers["etag"] == f'"sha256-{entry["sha256"][:32]}"'
        assert "immutable" in served.headers["cache-control"]
    district = rasterio.open(on_disk[f"{CITY}-mcae-triangle.tif"])
    with district, rasterio.open(published.store.layer_path(layer)) as city:
        assert district.width < city.width and district.crs == city.crs
        assert district.tags()["MCAE_DISTRICT"] == "Triangle"


def test_nothing_is_hashed_or_clipped_per_request(published: Published, monkeypatch: pytest.MonkeyPatch) -> None:
    """Size and SHA-256 come from the record made at publish time."""
    import mcae.tiles.whole_files as whole_files

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("computed per request")

    monkeypatch.setattr(whole_files, "sha256_of", refuse)
    monkeypatch.setattr(whole_files, "record_files", refuse)
    monkeypatch.setattr(whole_files, "clip_district", refuse)
    for entry in listing(published.client)["files"]:
        assert published.client.get(entry["url"], headers={"Range": "bytes=0-3"}).status_code == 206
    assert published.client.get(f"/api/stac/{CITY}/mcae__triangle/mcae__triangle.json").status_code == 200


def test_range_requests_answer_206_with_the_slice_and_416_outside(published: Published) -> None:
    entry = by_name(listing(published.client)["files"])[f"{CITY}-mcae.tif"]
    data = published.store.layer_path(published.store.layer(CITY, "mcae")).read_bytes()
    size = len(data)
    for header, part in [("bytes=0-15", data[0:16]), ("bytes=100-", data[100:]), ("bytes=-50", data[-50:]),
                         (f"bytes=10-{size + 99}", data[10:])]:
        answer = published.client.get(entry["url"], headers={"Range": header})
        assert answer.status_code == 206, header
        assert answer.content == part and answer.headers["content-length"] == str(len(part))
        assert answer.headers["accept-ranges"] == "bytes" and answer.headers["etag"].startswith('"sha256-')
        start = size - 50 if header == "bytes=-50" else int(header[6:].split("-")[0])
        assert answer.headers["content-range"] == f"bytes {start}-{start + len(part) - 1}/{size}"
    for bad in [f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=9-3", "items=0-10", "bytes=abc"]:
        answer = published.client.get(entry["url"], headers={"Range": bad})
        assert answer.status_code == 416, bad
        assert answer.headers["content-range"] == f"bytes */{size}" and answer.json()["detail"]
    head = published.client.head(entry["url"])
    assert head.status_code == 200 and head.headers["content-length"] == str(size) and not head.content
    again = published.client.get(entry["url"], headers={"If-None-Match": head.headers["etag"]})
    assert again.status_code == 304


def test_unknown_ids_and_names_are_refused(published: Published) -> None:
    version = listing(published.client)["version"]
    for url in ["/api/cities/nowhere/layers/mcae/files", f"/api/cities/{CITY}/layers/nope/files",
                f"{FILES}/{version}/{CITY}-mcae-far.tif", f"{FILES}/{version}/catalog.json",
                f"{FILES}/{version}/..%2Fcatalog.json", f"{FILES}/{version}/%2Fetc%2Fpasswd"]:
        answer = published.client.get(url)
        assert answer.status_code in (404, 422), url
        assert str(published.store.root) not in answer.text


def test_a_layer_published_before_whole_files_were_kept_says_so(published: Published) -> None:
    answer = published.client.get(f"/api/cities/{CITY}/layers/wgs/files")  # put into the catalog directly
    assert answer.status_code == 409 and "publish it again" in answer.json()["detail"]


def test_stac_assets_are_the_whole_files_and_each_district_is_an_item(published: Published) -> None:
    files = by_name(listing(published.client)["files"])
    item = published.client.get(f"/api/stac/{CITY}/mcae/mcae.json").json()
    data = item["assets"]["data"]
    assert data["href"] == files[f"{CITY}-mcae.tif"]["url"] and "/clip" not in data["href"]
    assert data["file:size"] == files[f"{CITY}-mcae.tif"]["size"]
    assert data["file:checksum"] == "1220" + files[f"{CITY}-mcae.tif"]["sha256"]
    assert item["assets"]["metadata"]["href"] == files[f"{CITY}-mcae.tif.aux.xml"]["url"]
    assert item["assets"]["style"]["href"] == files[f"{CITY}-mcae.qml"]["url"]
    collection = published.client.get(f"/api/stac/{CITY}/collection.json").json()
    items = {link["href"].rsplit("/", 1)[1] for link in collection["links"] if link["rel"] == "item"}
    assert "mcae__triangle.json" in items and "mcae__far.json" not in items
    district = published.client.get(f"/api/stac/{CITY}/mcae__triangle/mcae__triangle.json")
    assert district.status_code == 200
    body = district.json()
    assert body["properties"]["mcae:district"] == "triangle" and body["geometry"]["type"] == "Polygon"
    assert body["assets"]["data"]["href"] == files[f"{CITY}-mcae-triangle.tif"]["url"]
    assert body["assets"]["data"]["file:checksum"] == "1220" + files[f"{CITY}-mcae-triangle.tif"]["sha256"]
    assert published.client.get(f"/api/stac/{CITY}/mcae__nope/mcae__nope.json").status_code == 404


def test_gdal_opens_the_map_remotely_with_vsicurl(published: Published) -> None:
    layer = published.store.layer(CITY, "mcae")
    with live_server(published.store.path) as base, rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
                                                                  CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".tif,.xml"):
        import httpx

        files = by_name(httpx.get(base + FILES).json()["files"])
        url = files[f"{CITY}-mcae.tif"]["vsicurl"]
        assert url.startswith(f"/vsicurl/{base}")
        with rasterio.open(url) as remote, rasterio.open(published.store.layer_path(layer)) as local:
            assert (remote.width, remote.height, remote.crs) == (local.width, local.height, local.crs)
            assert remote.overviews(1) == local.overviews(1)
            window = rasterio.windows.Window(100, 200, 300, 150)
            assert np.array_equal(remote.read(1, window=window), local.read(1, window=window))
            assert np.array_equal(remote.read(1, out_shape=(64, 64)), local.read(1, out_shape=(64, 64)))
        names, table = gdal_classes(url)  # what QGIS shows of a remote map: the class names
        assert names[8] == "Building" and len(table) == 9


def test_a_superseded_version_answers_410_naming_the_current_one(tmp_path: Path) -> None:
    found = build_downloads(tmp_path)
    publish_layer(found.store, CITY, found.utm, kind=LayerKind.mcae, layer_id="mcae")
    with _app(found.store) as client:
        old = listing(client)
        staging = versions.staging_path(found.store, CITY, "mcae", "test")
        shutil.copyfile(found.utm, staging)
        versions.publish_version(found.store, CITY, "mcae", staging, by="test", note="rebuild")
        new = listing(client)
        assert new["version"] != old["version"]
        for entry in old["files"]:
            gone = client.get(entry["url"])
            assert gone.status_code == 410
            body = gone.json()
            assert body["version"] == new["version"] and new["version"] in body["detail"]
            assert body["url"] == by_name(new["files"])[entry["name"]]["url"]
        assert client.get(f"{FILES}/{old['version']}").status_code == 410
        for entry in new["files"]:
            assert client.get(entry["url"], headers={"Range": "bytes=0-9"}).status_code == 206
        # the earlier version's sidecars and district maps are pruned; the new ones are there
        folders = [p.name for p in (found.store.root / "downloads" / CITY / "mcae").iterdir() if p.is_dir()]
        assert len(folders) == 1


def test_mcae_catalog_files_records_a_layer_published_before(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mcae.platform.cli import get_app

    found = build_downloads(tmp_path)  # layers put into the catalog directly: no whole files
    assert found.store.layer(CITY, "wgs").files is None
    result = CliRunner().invoke(get_app(), ["catalog", "files", CITY, "wgs", "--catalog", str(found.store.path)])
    assert result.exit_code == 0, result.output
    with _app(found.store) as client:
        names = {f["name"] for f in listing(client, f"/api/cities/{CITY}/layers/wgs/files")["files"]}
    assert f"{CITY}-wgs.tif" in names and f"{CITY}-wgs-triangle.tif" in names
