"""The viewer follows a rebuilt map without a reload: its tile URLs name the layer version
(``?v=``); once the map file is rewritten (a new version in the catalog) the page, polling the
catalog, asks for ``v=<new>`` tiles and draws the new classes, keeping view, mode and legends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from web_fixtures import (  # the fixtures come from tests/conftest.py (pytest_plugins)
    DIST,
    SECOND,
    VIEWPORTS,
    Site,
    Viewer,
    add_fixture_town,
    app_server,
    counts,
    hexes,
    present,
)

WATER = 6


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server of its own (this test rewrites a map file): Fixture Town alone in the catalog."""
    from mcae.platform.app import create_app
    from mcae.platform.settings import Settings
    from mcae.tiles.catalog import CatalogStore
    from mcae.tiles.settings import TileSettings

    root = tmp_path_factory.mktemp("webversions")
    store = CatalogStore(root / "catalog.json")
    add_fixture_town(store, root / "fixture-town")
    app = create_app(Settings(tiles=TileSettings(catalog_path=store.path, web_dist=DIST)))  # jobs: beside the catalog
    with app_server(app) as base:
        yield Site(base, root)


def versions(site: Site) -> dict[str, str]:
    return {layer["id"]: layer["version"] for layer in site.get(f"/api/cities/{SECOND}")["layers"]}


def rewrite_as_water(path: Path) -> None:
    """Rewrite the MCAE map in place, every pixel Water (what a rebuilt map with new classes is)."""
    import rasterio

    from mcae.inference.classes import MCAE
    from mcae.inference.cog import write_class_cog
    from mcae.inference.masks.base import PixelWindow

    with rasterio.open(path) as src:
        width, height, transform, crs = src.width, src.height, src.transform, src.crs
    data = np.full((height, width), WATER, np.uint8)
    write_class_cog(path, width=width, height=height, transform=transform, crs=crs.to_string(),
                    windows=[(PixelWindow(0, 0, width, height), data)], scheme=MCAE)


def test_viewer_follows_a_rebuilt_map_without_reload(browser: Any, town: Site) -> None:
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    viewer = Viewer(page, "desktop", town)
    tiles: list[str] = []
    statuses: list[tuple[int, str]] = []
    page.on("request", lambda r: tiles.append(r.url) if "/tiles/WebMercatorQuad/" in r.url else None)
    page.on("response", lambda r: statuses.append((r.status, r.url)) if r.status >= 400 else None)
    try:
        before_versions = versions(town)
        old = before_versions["mcae"]
        viewer.open(town.url(f"/#city={SECOND}&a=mcae&b=sinolc1&mode=swipe"))
        mcae_tiles = [u for u in tiles if "/layers/mcae/" in u]
        assert mcae_tiles and all(u.endswith(f".png?v={old}") for u in mcae_tiles), mcae_tiles[:3]
        assert all(f"v={before_versions['sinolc1']}" in u for u in tiles if "/layers/sinolc1/" in u)
        colours = hexes(town, SECOND, "mcae")
        maps = viewer.box("#maps")
        half = int(maps["width"] / 2) - 40
        before = viewer.shot("versions-before")[:, :half]
        assert len(present(before, colours)) >= 3, "Fixture Town's MCAE map has several classes"
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads
        hash_before = viewer.hash()
        legends_before = page.inner_text("#legends")

        rewrite_as_water(town.root / "fixture-town" / "mcae.tif")
        new = versions(town)["mcae"]
        assert new != old, "the rewritten file is a new version in the catalog"
        assert versions(town)["sinolc1"] == before_versions["sinolc1"]

        page.wait_for_function("v => window.mcaeViewer.pair.a.getSource('layer').tiles[0].endsWith('.png?v=' + v)",
                               arg=new, timeout=30_000)
        viewer.idle()
        assert any(u.endswith(f".png?v={new}") for u in tiles if "/layers/mcae/" in u), "tiles of the new version"
        after = viewer.shot("versions-after")[:, :half]
        found = counts(after)
        assert found.get(colours[WATER], 0) > 0.5 * after.shape[0] * after.shape[1], "the new map: Water"
        not_white = {k: v for k, v in colours.items() if v != "#FFFFFF"}  # Road is white, as the controls are
        assert present(after, not_white) == {WATER}, "no class of the old map is left on screen"
        assert page.evaluate("window.__sameDocument === true"), "followed without a reload"
        hash_after = viewer.hash()
        for key in ("city", "a", "b", "mode", "z", "ll", "pos"):
            assert hash_after.get(key) == hash_before.get(key), key
        assert page.inner_text("#legends") == legends_before, "the legends stay"
        assert page.evaluate("window.mcaeViewer.pair.mode") == "swipe"
        assert all(f"v={before_versions['sinolc1']}" in u for u in tiles if "/layers/sinolc1/" in u)
        assert new in page.inner_text("#subtitle"), "the subtitle names the new MCAE version"
        assert not statuses, f"no failed requests: {statuses[:5]}"
        assert not viewer.errors, viewer.errors
    finally:
        context.close()
