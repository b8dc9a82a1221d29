"""The web viewer's panels in a real browser (chromium + Playwright): class areas of drawn boxes,
polygons and districts against the API, the agreement report and tile bundle downloads."""

from __future__ import annotations

import csv
import json
import sqlite3
import urllib.parse
import urllib.request
from typing import Any

import pytest
from web_fixtures import (  # the fixtures come from tests/conftest.py (pytest_plugins)
    ARTIFACTS,
    CITY,
    SECOND,
    Site,
    Viewer,
)


def start_drawing(viewer: Viewer, kind: str) -> Any:
    """Open the viewer on the Areas tab and start drawing a ``rect`` or ``polygon``: the page."""
    viewer.open()
    page = viewer.page
    viewer.tab("areas")
    page.wait_for_selector("#stats[data-ready]")
    page.click(f"#pane-areas [data-area={kind}]")
    page.wait_for_selector("#draw-overlay:not([hidden])")
    return page


def test_statistics_of_a_drawn_box_match_the_api(viewer: Viewer, site: Site) -> None:
    site.require(f"/api/cities/{CITY}/layers/mcae/statistics", "statistics")
    page = start_drawing(viewer, "rect")
    maps = viewer.box("#maps")
    start = (maps["x"] + maps["width"] * 0.3, maps["y"] + maps["height"] * 0.4)
    end = (maps["x"] + maps["width"] * 0.7, maps["y"] + maps["height"] * 0.65)
    viewer.drag(start, end)
    page.wait_for_selector("#draw-overlay", state="hidden")
    page.wait_for_function("document.getElementById('area-desc').dataset.query?.startsWith('bbox=')"
                           " && document.getElementById('area-desc').textContent.includes('drawn rectangle')"
                           " && !document.getElementById('stats').classList.contains('loading')")
    query = page.get_attribute("#area-desc", "data-query")
    bbox = [float(v) for v in urllib.parse.parse_qs(query)["bbox"][0].split(",")]
    assert bbox[0] < bbox[2] and bbox[1] < bbox[3]
    shown = page.locator("#stats .stats-column")
    assert shown.count() == 2
    for layer in ("mcae", "sinolc1"):
        api = site.get(f"/api/cities/{CITY}/layers/{layer}/statistics?{query}")
        expected = {c["id"]: c for c in api["classes"] if c["pixels"] > 0}
        rows = page.locator(f"#stats .stats-column[data-layer={layer}] tbody tr")
        got = {int(r.get_attribute("data-class")): (float(r.get_attribute("data-area-m2")),
                                                    float(r.get_attribute("data-percent")))
               for r in rows.all()}
        assert set(got) == set(expected), layer
        for cid, (area, percent) in got.items():
            assert area == pytest.approx(expected[cid]["area_m2"])
            assert percent == pytest.approx(expected[cid]["percent"])
        assert page.locator(f"#stats .stats-column[data-layer={layer}] svg rect").count() >= 2 * len(expected)
    # the CSV holds the same numbers
    with page.expect_download() as download:
        page.click("#stats-csv")
    path = ARTIFACTS / f"{viewer.name}-class-areas.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert {r["layer"] for r in rows} == {"mcae", "sinolc1"}
    api = site.get(f"/api/cities/{CITY}/layers/mcae/statistics?{query}")
    building = next(r for r in rows if r["layer"] == "mcae" and r["class_id"] == "8")
    assert float(building["area_m2"]) == pytest.approx(api["classes"][7]["area_m2"], abs=0.01)
    viewer.shot("statistics", clip=None)


def test_statistics_of_a_drawn_polygon_match_the_api(desktop: Viewer, site: Site) -> None:
    viewer = desktop
    page = start_drawing(viewer, "polygon")
    maps = viewer.box("#maps")
    corners = [(0.25, 0.3), (0.6, 0.35), (0.7, 0.7), (0.3, 0.6)]
    for fx, fy in corners:
        page.mouse.click(maps["x"] + maps["width"] * fx, maps["y"] + maps["height"] * fy)
        page.wait_for_timeout(80)
    page.click("#draw-finish")
    page.wait_for_function("document.getElementById('area-desc').textContent.includes('drawn polygon')"
                           " && !document.getElementById('stats').classList.contains('loading')")
    geometry = json.loads(page.get_attribute("#area-desc", "data-geometry"))
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"][0]) == len(corners) + 1
    for layer in ("mcae", "sinolc1"):
        request = urllib.request.Request(site.url(f"/api/cities/{CITY}/layers/{layer}/statistics"),
                                         data=json.dumps(geometry).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            api = json.loads(response.read())
        expected = {c["id"]: c["area_m2"] for c in api["classes"] if c["pixels"] > 0}
        rows = page.locator(f"#stats .stats-column[data-layer={layer}] tbody tr").all()
        got = {int(r.get_attribute("data-class")): float(r.get_attribute("data-area-m2")) for r in rows}
        assert got == pytest.approx(expected), layer
    viewer.shot("polygon", clip=None)


def test_district_search_and_statistics(viewer: Viewer, site: Site) -> None:
    viewer.open()
    page = viewer.page
    if viewer.phone:
        page.click("#search-toggle")
    page.fill("#district-search", "old")
    page.wait_for_selector("#district-results li[data-district=old-town]")
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash.includes('district=old-town')")
    viewer.idle()
    assert page.eval_on_selector("#district", "s => s.value") == "old-town"
    viewer.tab("areas")
    page.wait_for_function("document.getElementById('area-desc').textContent.includes('Old Town')"
                           " && !document.getElementById('stats').classList.contains('loading')")
    api = site.get(f"/api/cities/{CITY}/layers/mcae/statistics?district=old-town")
    total = sum(float(r.get_attribute("data-area-m2"))
                for r in page.locator("#stats .stats-column[data-layer=mcae] tbody tr").all())
    assert total == pytest.approx(api["area_m2"]["classified"], rel=1e-6)
    viewer.shot("district", clip=None)


def test_agreement_report(desktop: Viewer, site: Site) -> None:
    site.require(f"/api/cities/{CITY}/compare", "agreement report")
    viewer = desktop
    viewer.open()
    viewer.tab("agreement")
    viewer.page.wait_for_selector("#agreement-overall")
    report = site.get(f"/api/cities/{CITY}/compare")
    overall = report["summary"]["overall_agreement"]
    assert viewer.page.inner_text("#agreement-overall") == f"{overall * 100:.1f} %"
    assert viewer.page.inner_text("#agreement-kappa") == f"{report['summary']['kappa']:.3f}"
    assert viewer.page.locator(".confusion tbody tr").count() == 6
    viewer.shot("agreement", clip=None)
    viewer.page.select_option("#city", SECOND)
    viewer.page.wait_for_function("document.getElementById('agreement').textContent.includes('No comparison report')")


def test_tile_bundle_download(viewer: Viewer, site: Site) -> None:
    site.require(f"/api/cities/{CITY}/layers/mcae/bundles/estimate?minzoom=15&maxzoom=15&bbox=0,0,1,1",
                 "tile bundles")
    viewer.open()
    page = viewer.page
    viewer.tab("download")
    layer = next(x for x in site.get(f"/api/cities/{CITY}")["layers"] if x["id"] == "mcae")
    page.select_option("#dl-layer", "mcae")
    page.select_option("#dl-minzoom", str(layer["minzoom"]))
    page.select_option("#dl-maxzoom", str(layer["minzoom"] + 1))
    fmt = "mbtiles"
    page.select_option("#dl-format", fmt)
    page.wait_for_selector("#dl-count")
    estimate = int(page.get_attribute("#dl-estimate", "data-count"))
    assert estimate > 0 and "tiles" in page.inner_text("#dl-estimate")
    assert "kB" in page.inner_text("#dl-estimate") or "MB" in page.inner_text("#dl-estimate")
    with page.expect_download(timeout=60_000) as download:
        page.click("#dl-start")
    path = ARTIFACTS / f"{viewer.name}-bundle.{fmt}"
    download.value.save_as(path)
    job = site.get(f"/api/jobs/{page.get_attribute('#dl-job', 'data-job')}")
    assert job["state"] == "done" and job["tiles_total"] == estimate
    assert page.locator("#dl-progress").evaluate("p => p.value") == 1
    with sqlite3.connect(path) as db:
        tiles = db.execute("select count(*) from tiles").fetchone()[0]
        zooms = {z for (z,) in db.execute("select distinct zoom_level from tiles")}
        meta = dict(db.execute("select name, value from metadata").fetchall())
    assert tiles == job["tiles_written"] > 0
    assert zooms <= {layer["minzoom"], layer["minzoom"] + 1}
    assert meta.get("format") == "png"
    # the clipped GeoTIFF of the same area
    site.require(f"/api/cities/{CITY}/layers/mcae/clip?bbox=0,0,1,1", "clipped GeoTIFF")
    with page.expect_download(timeout=60_000) as download:
        page.click("#dl-clip")  # by default a zip: the GeoTIFF with its class names for QGIS and GDAL
    bundle = ARTIFACTS / f"{viewer.name}-clip.zip"
    download.value.save_as(bundle)
    assert download.value.suggested_filename == f"{CITY}-mcae-clip.zip"
    import zipfile

    import rasterio

    with zipfile.ZipFile(bundle) as files:
        names = sorted(files.namelist())
        assert names == sorted(f"{CITY}-mcae-clip{ext}" for ext in (".tif", ".tif.aux.xml", ".qml"))
        assert "Building" in files.read(f"{CITY}-mcae-clip.tif.aux.xml").decode()
        tif = ARTIFACTS / f"{viewer.name}-clip.tif"
        tif.write_bytes(files.read(f"{CITY}-mcae-clip.tif"))
    with rasterio.open(tif) as src:
        assert src.count == 1 and src.width > 10 and src.colormap(1)[8][:3] == (222, 31, 7)
    page.screenshot(path=str(ARTIFACTS / f"{viewer.name}-downloads.png"))
    page.uncheck("#dl-clip-zip")  # the GeoTIFF alone
    with page.expect_download(timeout=60_000) as download:
        page.click("#dl-clip")
    assert download.value.suggested_filename == f"{CITY}-mcae-clip.tif"
    # QGIS addresses answer
    wmts = page.locator("#service-links input").first.input_value()
    assert wmts.endswith("/WMTSCapabilities.xml")
    assert site.status(urllib.parse.urlparse(wmts).path) == 200


def test_whole_maps_are_listed_with_sha256_and_a_vsicurl_path(viewer: Viewer, site: Site) -> None:
    """The Download tab lists the layer's whole files (city map, each district map) as the API does;
    a saved map has the SHA-256 shown."""
    import hashlib

    listing = site.get(f"/api/cities/{CITY}/layers/mcae/files")
    maps = [f for f in listing["files"] if f["role"] == "data"]
    assert any(f["district"] for f in maps) and any(not f["district"] for f in maps)
    viewer.open()
    page = viewer.page
    viewer.tab("download")
    page.select_option("#dl-layer", "mcae")
    page.wait_for_selector("#whole-files .whole-file")
    page.click("#whole-files details.whole-districts summary")  # the district maps fold away
    page.screenshot(path=str(ARTIFACTS / f"{viewer.name}-whole-maps.png"))
    rows = page.locator("#whole-files .whole-file")
    assert rows.count() == len(maps)
    for i, entry in enumerate(maps):
        row = rows.nth(i)
        assert row.get_attribute("data-file") == entry["name"]
        assert row.locator(".sha256-value").inner_text() == entry["sha256"]
        assert row.locator(".copy-field input").input_value() == entry["vsicurl"]
        assert row.locator("a.sidecar").count() == 2
    city_map = maps[0]
    with page.expect_download(timeout=60_000) as download:
        page.click(f"#whole-files [data-file='{city_map['name']}'] a.button")
    saved = ARTIFACTS / f"{viewer.name}-{city_map['name']}"
    download.value.save_as(saved)
    assert download.value.suggested_filename == city_map["name"]
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == city_map["sha256"]


def test_download_layer_follows_side_a_until_picked(viewer: Viewer, site: Site) -> None:
    """The Download tab offers side A's layer (the MCAE map) by default, not the imagery."""
    viewer.open()
    page = viewer.page
    viewer.tab("download")
    page.wait_for_function("() => document.querySelector('#dl-layer').value !== ''")
    side_a = page.eval_on_selector("#layer-a", "s => s.value")
    assert page.eval_on_selector("#dl-layer", "s => s.value") == side_a
