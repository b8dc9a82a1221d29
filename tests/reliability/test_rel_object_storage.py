"""Maps and catalog layers in S3-compatible object storage, on a real endpoint (moto's server
on loopback): the same map served from a local file and from ``s3://`` gives the same tile
bytes, identify and statistics; ``mcae map --out s3://`` writes a valid COG there; bad
object storage settings are one clear line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from rasterio.crs import CRS
from rel_s3 import BIN, S3Server, moto_server, object_storage_env
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

from benchmarks.scenes import blocky_scene
from mcae.inference.classes import MCAE
from mcae.inference.cog import write_class_cog
from mcae.inference.masks.base import PixelWindow
from mcae.platform.app import create_app
from mcae.platform.cli import get_app
from mcae.platform.settings import get_settings
from mcae.tiles.gdal import configure_gdal

BUCKET = "mcae-maps"
CITY = "s3-town"
pytestmark = [pytest.mark.slow]
TMS_IDS = ("WebMercatorQuad", "WorldCRS84Quad")  # from the serving copies; straight from the files


def mcae(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(get_app(), [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server, object_storage_env(server):
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def city_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 520 x 400 px class map (0.6 m, UTM 50N) with the MCAE palette."""
    _, labels = blocky_scene(400, 520, seed=11, objects=160)
    labels[:40, :60] = 0  # some no data
    out = tmp_path_factory.mktemp("map") / "city.tif"
    return write_class_cog(out, width=520, height=400, transform=Affine(0.6, 0, 668000, 0, -0.6, 3550000),
                           crs=CRS.from_epsg(32650), windows=[(PixelWindow(0, 0, 400, 520), labels)],
                           scheme=MCAE)


@pytest.fixture(scope="module")
def site(s3: S3Server, city_map: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A catalog with the map twice: layer ``local`` (the file) and ``remote`` (its s3 copy)."""
    catalog = tmp_path_factory.mktemp("site") / "catalog.json"
    code, out = mcae("catalog", "add", CITY, city_map, "--kind", "mcae", "--layer", "local", "--catalog", catalog)
    assert code == 0, out
    code, out = mcae("publish", CITY, city_map, "--to", f"s3://{BUCKET}/{CITY}/mcae.tif", "--layer", "remote",
                     "--catalog", catalog)
    assert code == 0 and "published" in out, out
    settings = get_settings()
    settings.tiles.catalog_path = catalog
    with TestClient(create_app(settings)) as client:  # its own reader pool, closed with it
        yield client


def _stored_paths(client: TestClient) -> dict[str, str]:
    catalog = json.loads(Path(client.app.state.settings.tiles.catalog_path).read_text())  # type: ignore[attr-defined]
    return {k: v["path"] for k, v in catalog["cities"][CITY]["layers"].items()}


def test_the_catalog_holds_an_s3_location_and_the_object_is_there(site: TestClient, s3: S3Server) -> None:
    assert _stored_paths(site)["remote"] == f"s3://{BUCKET}/{CITY}/mcae.tif"
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert f"{CITY}/mcae.tif" in keys and f"{CITY}/mcae.tif.aux.xml" in keys  # class names beside it


def _tiles(layer: dict[str, object]) -> list[tuple[str, int, int, int]]:
    """Tiles over the map at three zooms on both matrix sets (edges and centre)."""
    west, south, east, north = layer["bounds"]  # type: ignore[misc]
    out = []
    for tms_id in TMS_IDS:
        tms = morecantile.tms.get(tms_id)
        for z in (15, 17, 19):
            for lon, lat in ((west, north), ((west + east) / 2, (south + north) / 2), (east, south)):
                t = tms.tile(lon, lat, z)
                out.append((tms_id, t.z, t.x, t.y))
    return sorted(set(out))


def test_tiles_from_s3_are_byte_identical_to_tiles_from_the_file(site: TestClient) -> None:
    layer = site.get(f"/api/cities/{CITY}").json()["layers"]
    remote = next(la for la in layer if la["id"] == "remote")
    tiles = _tiles(remote)
    compared = 0
    for tms_id, z, x, y in tiles:
        for suffix in (".png", ".webp"):
            want = site.get(f"/cities/{CITY}/layers/local/tiles/{tms_id}/{z}/{x}/{y}{suffix}")
            got = site.get(f"/cities/{CITY}/layers/remote/tiles/{tms_id}/{z}/{x}/{y}{suffix}")
            assert want.status_code == got.status_code == 200, (tms_id, z, x, y, got.text)
            assert got.content == want.content, (tms_id, z, x, y, suffix)
            compared += 1
    assert compared == len(tiles) * 2 >= 24
    print(f"{compared} tiles compared byte for byte")


def test_identify_and_statistics_agree(site: TestClient, city_map: Path) -> None:
    with rasterio.open(city_map) as src:
        from rasterio.warp import transform as warp

        rows, cols = np.meshgrid([5, 100, 222, 350], [7, 130, 300, 500])
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
        lons, lats = warp(src.crs, "EPSG:4326", xs, ys)
        truth = src.read(1)[rows.ravel(), cols.ravel()]
    for lon, lat, value in zip(lons, lats, truth, strict=True):
        found = {la["layer"]: la["value"] for la in site.get(f"/api/cities/{CITY}/identify?lon={lon}&lat={lat}")
                 .json()["layers"]}
        assert found["remote"] == found["local"] == (int(value) or None), (lon, lat)
    west, south, east, north = site.get(f"/api/cities/{CITY}").json()["layers"][0]["bounds"]
    bbox = f"{west},{south},{(west + east) / 2},{(south + north) / 2}"
    stats = [site.get(f"/api/cities/{CITY}/layers/{la}/statistics?bbox={bbox}") for la in ("local", "remote")]
    assert stats[0].status_code == stats[1].status_code == 200
    assert stats[0].json()["classes"] == stats[1].json()["classes"] and stats[0].json()["classes"]


def test_stac_describes_the_s3_layer(site: TestClient) -> None:
    item = site.get(f"/api/stac/{CITY}/remote/remote.json")
    assert item.status_code == 200, item.text
    local = site.get(f"/api/stac/{CITY}/local/local.json").json()
    assert item.json()["bbox"] == local["bbox"] and BUCKET not in item.text  # assets point at the server
    assert site.get("/api/stac/catalog.json").status_code == 200


def test_a_request_can_never_name_a_location(site: TestClient) -> None:
    tile = "tiles/WebMercatorQuad/17/106368/53203.png"
    for query in (f"url=s3://{BUCKET}/{CITY}/mcae.tif", "path=/vsis3/x/y.tif", "AWS_S3_ENDPOINT=evil:1"):
        r = site.get(f"/cities/{CITY}/layers/remote/{tile}?{query}")
        assert r.status_code == 400 and BUCKET not in r.text and "/vsis3/" not in r.text, r.text


def test_a_rewritten_object_is_a_new_version_and_a_deleted_one_a_404(
        site: TestClient, s3: S3Server, city_map: Path) -> None:
    key = f"{CITY}/other.tif"
    s3.client().upload_file(str(city_map), BUCKET, key)
    code, out = mcae("publish", CITY, city_map, "--to", f"s3://{BUCKET}/{key}", "--layer", "other",
                     "--no-serving-copy", "--catalog", site.app.state.settings.tiles.catalog_path)  # type: ignore[attr-defined]
    assert code == 0, out

    def version() -> str:
        return next(la["version"] for la in site.get(f"/api/cities/{CITY}").json()["layers"] if la["id"] == "other")

    before = version()
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=city_map.read_bytes() + b"\0")  # new ETag and size
    assert version() != before
    s3.client().delete_object(Bucket=BUCKET, Key=key)
    for url in (f"/cities/{CITY}/layers/other/tiles/WebMercatorQuad/17/106368/53203.png",
                f"/api/cities/{CITY}/layers/other/statistics?bbox=118.0,32.0,118.1,32.1"):
        r = site.get(url)
        assert r.status_code == 404 and "detail" in r.json() and "/vsis3/" not in r.text, (url, r.text)


@pytest.fixture(scope="module")
def trained(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained project (segment, simulated expert, train; synchronous)."""
    from benchmarks.scenes import write_tif

    root = tmp_path_factory.mktemp("project")
    image, labels = blocky_scene(160, 200, seed=3, objects=90)
    scene, truth = write_tif(root / "scene.tif", image), write_tif(root / "labels.tif", labels)
    small = ["--scheduler", "synchronous", "-q"]
    for args in (["segment", scene, "--patch-size", "64", "--neighbourhood", "2"],
                 ["label", "--reference", truth, "--budget", "40"], ["train"]):
        code, out = mcae(*args, "--project", root / "p", *small)
        assert code == 0, out
    return root / "p"


def test_map_out_s3_writes_a_valid_cog(trained: Path, s3: S3Server, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/maps/town.tif"
    code, out = mcae("map", "--project", trained, "--out", url, "--publish", "Map Town",
                     "--catalog", tmp_path / "catalog.json")
    assert code == 0 and url in out and "published" in out, out
    fetched = tmp_path / "fetched.tif"
    s3.client().download_file(BUCKET, "maps/town.tif", str(fetched))
    assert cog_validate(str(fetched), quiet=True)[0]
    code, out = mcae("map", "--project", trained, "--out", tmp_path / "local.tif")
    assert code == 0, out
    with rasterio.open(fetched) as got, rasterio.open(tmp_path / "local.tif") as want:
        assert got.profile == want.profile and (got.read() == want.read()).all()
        assert got.colormap(1)[8][:3] == MCAE.get(8).rgb
    layer = json.loads((tmp_path / "catalog.json").read_text())["cities"]["map-town"]["layers"]["mcae"]
    assert layer["path"] == url and layer["serving_path"]
    assert not list(tmp_path.glob("mcae-map-*"))  # the local scratch copy is gone


def _cli(env: dict[str, str], *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "mcae"), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.timeout(90)
def test_bad_object_storage_settings_are_one_clear_line(
        s3: S3Server, city_map: Path, tmp_path: Path) -> None:
    base = {**os.environ, **s3.env(), "MCAE_S3_TIMEOUT_S": "2", "MCAE_S3_MAX_RETRY": "0"}
    to = f"s3://{BUCKET}/bad/x.tif"
    cases = [
        ({"MCAE_S3_ENABLED": "false"}, to, "object storage is off"),
        ({"MCAE_S3_ENDPOINT": "127.0.0.1:99999"}, to, "MCAE_S3_ENDPOINT"),
        ({"MCAE_S3_ENDPOINT": "ftp://127.0.0.1:9"}, to, "MCAE_S3_ENDPOINT"),
        ({"MCAE_S3_ENDPOINT": "a b"}, to, "MCAE_S3_ENDPOINT"),
        ({"MCAE_S3_HTTPS": "perhaps"}, to, "MCAE_S3_HTTPS"),
        ({"MCAE_S3_ENDPOINT": "127.0.0.1:1"}, to, "cannot be reached"),
        ({}, "s3://no-such-bucket-here/x.tif", "no such bucket"),
        ({}, "s3://UPPER/x.tif", "not an s3://bucket/key"),
    ]
    saved = dict(os.environ)
    try:
        for extra, target, message in cases:  # in this process (fast): the CLI's one-line errors
            result = CliRunner().invoke(get_app(), ["publish", "c", str(city_map), "--to", target, "--catalog",
                                                    str(tmp_path / "c.json")], env={**base, **extra})
            assert result.exit_code == 2 and message in result.output, (extra, target, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            assert result.output.count("error:") == 1, result.output
            os.environ.clear()
            os.environ.update(saved)  # what the command configured for GDAL goes too
    finally:
        os.environ.clear()
        os.environ.update(saved)
        configure_gdal(get_settings().tiles)
    assert not (tmp_path / "c.json").exists()  # nothing registered
    # the server refuses to start on invalid settings, with the same one line
    done = _cli({**base, "MCAE_S3_ENDPOINT": "127.0.0.1:99999"}, "serve", "--port", "0", timeout=30)
    assert done.returncode == 2 and "MCAE_S3_ENDPOINT" in done.stderr and "Traceback" not in done.stderr


def _left_half(city_map: Path, out: Path) -> Path:
    """A GeoJSON district over the left half of ``city_map`` (EPSG:4326)."""
    from rasterio.warp import transform_bounds

    with rasterio.open(city_map) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    mid = (west + east) / 2
    ring = [[west, south], [mid, south], [mid, north], [west, north], [west, south]]
    out.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "West"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    return out


def test_an_s3_map_is_offered_whole_from_the_object_with_ranges(
        site: TestClient, s3: S3Server, city_map: Path, tmp_path: Path) -> None:
    """A map published to object storage is downloaded whole from there (never copied to the
    server's disk), answers Range requests (206) as GDAL's /vsicurl/ asks, and its district maps
    and sidecars come with it."""
    import hashlib

    catalog = site.app.state.settings.tiles.catalog_path  # type: ignore[attr-defined]
    code, out = mcae("publish", CITY, city_map, "--to", f"s3://{BUCKET}/{CITY}/whole.tif", "--layer", "whole",
                     "--districts", _left_half(city_map, tmp_path / "d.geojson"), "--catalog", catalog)
    assert code == 0, out
    files = {f["name"]: f for f in site.get(f"/api/cities/{CITY}/layers/whole/files").json()["files"]}
    assert set(files) == {f"{CITY}-whole{suffix}" for suffix in (
        ".tif", ".tif.aux.xml", ".qml", "-west.tif", "-west.tif.aux.xml", "-west.qml")}
    body = city_map.read_bytes()
    data = files[f"{CITY}-whole.tif"]
    assert data["size"] == len(body) and data["sha256"] == hashlib.sha256(body).hexdigest()
    stored = json.loads(Path(catalog).read_text())["cities"][CITY]["layers"]["whole"]["files"]["files"]
    assert next(f["path"] for f in stored if f["name"] == data["name"]) == f"s3://{BUCKET}/{CITY}/whole.tif"
    assert not list(Path(catalog).parent.glob(f"downloads/{CITY}/whole/*/{CITY}-whole.tif"))  # not copied

    whole = site.get(data["url"])
    assert whole.status_code == 200 and whole.content == body
    assert whole.headers["accept-ranges"] == "bytes" and "attachment" in whole.headers["content-disposition"]
    part = site.get(data["url"], headers={"Range": "bytes=100-4195"})
    assert part.status_code == 206 and part.content == body[100:4196]
    assert part.headers["content-range"] == f"bytes 100-4195/{len(body)}"
    assert site.get(data["url"], headers={"Range": "bytes=-50"}).content == body[-50:]
    assert site.get(data["url"], headers={"Range": f"bytes={len(body) - 10}-"}).content == body[-10:]
    head = site.head(data["url"])
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(body) and not head.content
    refused = site.get(data["url"], headers={"Range": f"bytes={len(body)}-"})
    assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{len(body)}"
    assert site.get(data["url"], headers={"If-None-Match": whole.headers["etag"]}).status_code == 304

    district = site.get(files[f"{CITY}-whole-west.tif"]["url"])
    assert district.status_code == 200
    clipped = tmp_path / "west.tif"
    clipped.write_bytes(district.content)
    with rasterio.open(clipped) as got, rasterio.open(city_map) as src:
        assert 0 < got.width < src.width and got.height == src.height
    assert "Building" in site.get(files[f"{CITY}-whole.tif.aux.xml"]["url"]).text
    # recorded again from the object itself (read once; districts clipped through /vsis3/): the same files
    code, out = mcae("catalog", "files", CITY, "whole", "--catalog", catalog)
    assert code == 0 and "6 whole files" in out, out
    again = {f["name"]: f for f in site.get(f"/api/cities/{CITY}/layers/whole/files").json()["files"]}
    assert {k: (v["size"], v["sha256"]) for k, v in again.items() if not k.endswith("-west.tif")} == \
        {k: (v["size"], v["sha256"]) for k, v in files.items() if not k.endswith("-west.tif")}
    assert again[f"{CITY}-whole-west.tif"]["size"] > 0
    # the object gone: a clear 404 naming no bucket, never a half answer
    s3.client().delete_object(Bucket=BUCKET, Key=f"{CITY}/whole.tif")
    gone = site.get(data["url"])
    assert gone.status_code == 404 and BUCKET not in gone.text, gone.text
