"""Two apps with different settings in one process: each has its own readers, its own
permissions (and GDAL options) and its own object store; building one changes nothing of
the other, nor the process's environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import morecantile
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rasterio.env import get_gdal_config
from tiles_data import CITY, TileWorld, make_tile_world

from mcae.inference.object_store import S3Settings
from mcae.platform.app import create_app
from mcae.platform.settings import Settings
from mcae.tiles.catalog import Layer, LayerKind
from mcae.tiles.gdal import NO_NETWORK_EXTENSION, SourceRefused
from mcae.tiles.settings import TileSettings

WMQ = morecantile.tms.get("WebMercatorQuad")
REMOTE = "https://example.invalid/map.tif"
OBJECT = "/vsis3/mcae-maps/city/map.tif"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> TileWorld:
    return make_tile_world(tmp_path_factory.mktemp("two-apps"))


@pytest.fixture(scope="module")
def apps(world: TileWorld) -> Iterator[tuple[FastAPI, FastAPI]]:
    """A: local files only, 2 readers. B, made after A: network and object storage allowed,
    5 readers. The process environment is the same before and after both are made."""
    before = dict(os.environ)
    local = create_app(Settings(tiles=TileSettings(catalog_path=world.store.path, dataset_cache_size=2)))
    remote = create_app(Settings(tiles=TileSettings(
        catalog_path=world.store.path, dataset_cache_size=5, gdal_allow_network=True,
        s3=S3Settings(enabled=True, endpoint="127.0.0.1:9", access_key_id="b-only",
                      secret_access_key="b-secret"))))  # type: ignore[arg-type]
    assert dict(os.environ) == before  # no app writes the process's environment
    yield local, remote


def test_each_app_has_its_own_reader_pool(world: TileWorld, apps: tuple[FastAPI, FastAPI]) -> None:
    local, remote = apps
    a, b = local.state.readers, remote.state.readers
    assert a is not b and (a.size, b.size) == (2, 5)
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    tile = next(iter(WMQ.tiles(w + (e - w) * 0.6, s, e, n, zooms=[18])))
    with TestClient(local) as client:
        r = client.get(f"/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}")
        assert r.status_code in (200, 204), r.text
        assert a.opened >= 1 and len(a) >= 1
        assert b.opened == 0 and len(b) == 0  # B saw none of A's readers
    assert len(a) == 0  # A's lifespan closed its pool
    assert remote.state.readers is b and b.opened == 0


def test_each_app_keeps_its_own_permissions(apps: tuple[FastAPI, FastAPI]) -> None:
    local, remote = apps
    for path in (REMOTE, OBJECT):  # A was made first: B's settings did not widen A's
        with pytest.raises(SourceRefused):
            local.state.sources.check(path)
        assert remote.state.sources.check(path) == path
    with local.state.sources.env():  # the GDAL options each app reads with (per thread)
        assert get_gdal_config("CPL_VSIL_CURL_ALLOWED_EXTENSIONS") == NO_NETWORK_EXTENSION
    with remote.state.sources.env():
        assert get_gdal_config("CPL_VSIL_CURL_ALLOWED_EXTENSIONS") == ".tif,.tiff"
        assert get_gdal_config("AWS_S3_ENDPOINT") == "127.0.0.1:9"
    with local.state.sources.env():  # B's options ended with B's block
        assert get_gdal_config("CPL_VSIL_CURL_ALLOWED_EXTENSIONS") == NO_NETWORK_EXTENSION


def test_each_app_has_its_own_object_store(world: TileWorld, apps: tuple[FastAPI, FastAPI],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from mcae.inference import object_store

    local, remote = apps
    assert local.state.store.sources.s3 is None
    assert remote.state.store.sources.s3.endpoint == "127.0.0.1:9"
    layer = Layer(id="remote", kind=LayerKind.mcae, title="Remote", path="s3://mcae-maps/city/map.tif",
                  bounds=(0, 0, 1, 1))
    asked: list[str | None] = []

    def head(url: str, settings: S3Settings | None = None) -> str:  # no network in this test
        assert settings is not None
        object_store.require(settings)  # StorageError while it is off, as the real one
        asked.append(settings.endpoint)
        return "etag:1:2"

    monkeypatch.setattr(object_store, "head", head)
    with pytest.raises(SourceRefused):  # A: object storage is off, whatever B configured
        local.state.store.source_token(layer)
    assert remote.state.store.source_token(layer) == "etag:1:2"
    assert asked == ["127.0.0.1:9"]  # B asked its own store


def test_an_app_of_the_environment_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``create_app()`` reads the environment through ``get_settings`` (one-line errors)."""
    from mcae.platform.settings import SettingsError

    monkeypatch.setenv("MCAE_TILES_DATASET_CACHE_SIZE", "not a number")
    with pytest.raises(SettingsError, match="dataset_cache_size"):
        create_app()
