"""The viewer's configuration route and the basemap setting: off by default (nothing from
outside, the content security policy unchanged), and when set, in the config and the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mcae.platform.app import create_app
from mcae.platform.headers import CSP
from mcae.platform.settings import BasemapSettings, Settings, SettingsError, get_settings
from mcae.tiles.settings import TileSettings

XYZ = "https://tiles.example.org/{z}/{x}/{y}.png"


def app_client(tmp_path: Path, **basemap: object) -> TestClient:
    tiles = TileSettings(catalog_path=tmp_path / "catalog.json", web_dist=tmp_path / "no-web")
    return TestClient(create_app(Settings(tiles=tiles, basemap=BasemapSettings(**basemap))))  # type: ignore[arg-type]


def test_no_basemap_by_default(tmp_path: Path) -> None:
    answer = app_client(tmp_path).get("/api/viewer/config")
    assert answer.status_code == 200 and answer.json() == {"basemap": None}
    assert answer.headers["content-security-policy"] == CSP
    assert "connect-src 'self';" in CSP and "img-src 'self' data: blob:;" in CSP


def test_an_xyz_basemap_is_in_the_config_and_the_policy(tmp_path: Path) -> None:
    client = app_client(tmp_path, url=XYZ, attribution="© Example contributors", maxzoom=18)
    answer = client.get("/api/viewer/config")
    assert answer.json() == {"basemap": {"kind": "xyz", "url": XYZ, "title": "Basemap",
                                         "attribution": "© Example contributors", "maxzoom": 18}}
    policy = client.get("/healthz").headers["content-security-policy"]
    assert "connect-src 'self' https://tiles.example.org;" in policy
    assert "img-src 'self' data: blob: https://tiles.example.org;" in policy
    assert "script-src 'self';" in policy  # nothing else widened


def test_a_style_url_and_its_extra_origins(tmp_path: Path) -> None:
    client = app_client(tmp_path, url="https://styles.example.org/style.json", attribution="© Styles",
                        extra_origins=["https://tiles.example.net"])
    assert client.get("/api/viewer/config").json()["basemap"]["kind"] == "style"
    policy = client.get("/healthz").headers["content-security-policy"]
    assert "connect-src 'self' https://styles.example.org https://tiles.example.net;" in policy


@pytest.mark.parametrize(("env", "message"), [
    ({"MCAE_BASEMAP__URL": XYZ}, "basemap.attribution is required"),
    ({"MCAE_BASEMAP__URL": "ftp://x/{z}/{x}/{y}", "MCAE_BASEMAP__ATTRIBUTION": "a"}, "http(s) URL"),
    ({"MCAE_BASEMAP__URL": "https://x/tiles/{z}.png", "MCAE_BASEMAP__ATTRIBUTION": "a"}, "needs {z}, {x} and {y}"),
])
def test_a_bad_basemap_setting_is_one_line(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                           message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        get_settings()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_env_sets_the_basemap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAE_BASEMAP__URL", XYZ)
    monkeypatch.setenv("MCAE_BASEMAP__ATTRIBUTION", "© Example")
    basemap = get_settings().basemap
    assert basemap.url == XYZ and basemap.resolved_kind == "xyz" and basemap.origins() == ["https://tiles.example.org"]
