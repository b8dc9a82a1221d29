"""The basemap setting in a real browser: off by default (no basemap layer, no attribution, nothing
fetched from elsewhere); when set to an XYZ template on another local server, its tiles are drawn
under the layers (the page's CSP lets exactly that origin in), its attribution is on the map and
the layer info says where it comes from."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Response
from PIL import Image
from web_fixtures import DIST, VIEWPORTS, Site, Viewer, app_server  # fixtures: tests/conftest.py

ATTRIBUTION = "© Test Tiles contributors"
LAYERS = "() => window.mcaeViewer.pair.a.getStyle().layers.map((l) => l.id)"


def tile_server_app(asked: list[str]) -> FastAPI:
    """An XYZ server on its own port (another origin): one grey tile for every address."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 210, 190)).save(buffer, format="PNG")
    png = buffer.getvalue()
    tiles = FastAPI()

    @tiles.get("/{z}/{x}/{y}.png")
    def tile(z: int, x: int, y: int) -> Response:
        asked.append(f"{z}/{x}/{y}")
        return Response(png, media_type="image/png", headers={"Access-Control-Allow-Origin": "*"})

    return tiles


@pytest.fixture(scope="module")
def with_basemap(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str, list[str]]]:
    from mcae.platform.app import create_app
    from mcae.platform.settings import BasemapSettings, JobSettings, Settings
    from mcae.tiles.settings import TileSettings

    asked: list[str] = []
    with app_server(tile_server_app(asked)) as tiles:
        basemap = BasemapSettings(url=tiles + "/{z}/{x}/{y}.png", attribution=ATTRIBUTION, title="Test basemap")
        jobs = Path(tmp_path_factory.mktemp("basemap-jobs"))
        app = create_app(Settings(tiles=TileSettings(catalog_path=site.root / "catalog.json", web_dist=DIST),
                                  jobs=JobSettings(dir=jobs), basemap=basemap))
        with app_server(app) as base:
            yield Site(base, site.root), tiles, asked


def open_desktop(browser: Any, site: Site) -> tuple[Any, Viewer]:
    context = browser.new_context(**VIEWPORTS["desktop"])
    found = Viewer(context.new_page(), "desktop", site)
    found.open()
    return context, found


def test_no_basemap_unless_configured(browser: Any, site: Site) -> None:
    assert site.get("/api/viewer/config") == {"basemap": None}
    context, viewer = open_desktop(browser, site)
    try:
        assert not [i for i in viewer.page.evaluate(LAYERS) if i.startswith("basemap")]
        assert viewer.page.locator(".maplibregl-ctrl-attrib").count() == 0
        viewer.page.click("#info-a")
        assert viewer.page.locator("#basemap-info").count() == 0
        assert not viewer.errors, viewer.errors
    finally:
        context.close()


def test_a_configured_basemap_is_drawn_under_the_layers(browser: Any,
                                                        with_basemap: tuple[Site, str, list[str]]) -> None:
    site, tiles, asked = with_basemap
    config = site.get("/api/viewer/config")["basemap"]
    assert config["kind"] == "xyz" and config["url"].startswith(tiles) and config["attribution"] == ATTRIBUTION
    context, viewer = open_desktop(browser, site)
    try:
        ids = viewer.page.evaluate(LAYERS)
        assert "basemap-xyz" in ids and "layer" in ids
        assert ids.index("basemap-xyz") < ids.index("layer"), "the basemap is under the map layers"
        assert asked, "the browser asked the configured tile server (its origin is in the page's CSP)"
        assert ATTRIBUTION in viewer.page.inner_text(".maplibregl-ctrl-attrib")
        viewer.page.click("#info-a")
        info = viewer.page.inner_text("#basemap-info")
        assert ATTRIBUTION in info and tiles.removeprefix("http://") in info
        viewer.shot("basemap", clip=None)
        assert not viewer.errors, viewer.errors
    finally:
        context.close()
