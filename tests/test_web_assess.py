"""/assess/ in a browser: one point at a time, blind (the map class is neither on the page nor in
the API's answer until the point is labelled), a class by key, "can't tell" (0), undo (u),
and a second expert (another user) getting the points chosen for a second opinion.

The server is this module's own: the annotation test project on SQLite, a catalog city with a
map and an imagery layer, the built web/dist, in a uvicorn thread.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from annotation_fixtures import build_project, seed_database
from assessment_data import blob_truth, noisy_map, write_classes
from rasterio.transform import from_origin
from web_fixtures import ARTIFACTS, CHROMIUM, DIST, VIEWPORTS, Site, app_server

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium; `make test` does it)", allow_module_level=True)

PROJECT, CITY = "demo", "town"


@dataclass
class Tools(Site):
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, user: str = "admin", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url(path), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path} as {user}: {exc.code} {exc.read()[:300]!r}") from None


def _city(root: Path) -> Path:
    from rasterio.warp import transform_bounds

    from mcae.tiles.catalog import CatalogStore, City, Layer, LayerKind

    truth = blob_truth(256, seed=3)
    map_path = write_classes(root / "map.tif", noisy_map(truth, 3, {}))
    rgb = root / "imagery.tif"
    with rasterio.open(map_path) as src:
        bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        profile = {"driver": "GTiff", "height": 256, "width": 256, "count": 3, "dtype": "uint8", "crs": src.crs,
                   "transform": from_origin(440_000.0, 4_420_000.0, 0.6, 0.6), "tiled": True, "blockxsize": 128,
                   "blockysize": 128}
    with rasterio.open(rgb, "w", **profile) as dst:
        dst.write(np.stack([truth * 40, 255 - truth * 30, truth * 20]).astype(np.uint8))
    store = CatalogStore(root / "catalog.json")
    store.put_city(City(id=CITY, name="Town", provenance="synthetic"))
    store.put_layer(CITY, Layer(id="mcae", kind=LayerKind.mcae, title="Map", path=str(map_path), scheme="mcae",
                                bounds=bounds, provenance="synthetic"))
    store.put_layer(CITY, Layer(id="imagery", kind=LayerKind.imagery, title="Imagery", path=str(rgb), bounds=bounds,
                                provenance="synthetic", maxzoom=22))
    return store.path


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tools]:
    from mcae.platform.app import create_app
    from mcae.platform.settings import DatabaseSettings, JobSettings, Settings, TileSettings

    root = tmp_path_factory.mktemp("webassess")
    project = build_project(root / "city")
    url = f"sqlite:///{root / 'annotation.db'}"
    tokens = seed_database(url, project, PROJECT)
    catalog = _city(root)
    app = create_app(Settings(tiles=TileSettings(catalog_path=catalog, web_dist=DIST),
                              database=DatabaseSettings(url=url), jobs=JobSettings(dir=root / "jobs")))
    with app_server(app) as base:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        site = Tools(base, root, tokens=tokens)
        version = site.call("GET", f"/api/projects/{PROJECT}")["version"]
        site.call("PATCH", f"/api/projects/{PROJECT}", "admin", {"version": version, "city": CITY})
        yield site


def open_tool(browser: Any, site: Tools, user: str, path: str) -> tuple[Any, Any, list[Any]]:
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if "/api/assessments/" in r.url and r.request.method == "POST"
            and r.url.endswith("/next") else None)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site.url(path))
    page.fill("#token", site.tokens[user])
    page.click("#signin-submit")
    page.wait_for_selector("body.assess-ready")
    return context, page, answers


def test_blind_label_cant_tell_undo_and_second_expert(browser: Any, tools: Tools) -> None:
    job = tools.call("POST", "/api/assessments", "rita", {"city": CITY, "layer": "mcae", "seed": 2, "points": 10,
                                                         "min_per_class": 1, "second_share": 0.5})
    for _ in range(300):
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
        job = tools.call("GET", f"/api/jobs/{job['id']}", "rita")
    assert job["state"] == "done", job
    sid = job["result"]["sample"]
    context, page, answers = open_tool(browser, tools, "alice", f"/assess/?project={PROJECT}")
    try:
        page.wait_for_function("document.body.dataset.point")
        first = int(page.evaluate("document.body.dataset.point"))
        # blind: nothing on the page or in the API's answer names the point's map class
        assert page.inner_text("#revealed") == ""
        assert answers and answers[-1].json()["point"]["map_class"] is None
        assert "map says" not in page.inner_text("main")
        page.wait_for_selector("#view-close canvas")
        page.screenshot(path=str(ARTIFACTS / "assess-desktop.png"))

        page.locator("main").first.click(position={"x": 2, "y": 2})
        page.keyboard.press("1")  # the first class of the scheme
        page.wait_for_function("document.getElementById('revealed').textContent.includes('map says')")
        truth = tools.call("GET", f"/api/assessments/{sid}/points/{first}", "alice")
        assert truth["labels"][0]["class_id"] == 1 and truth["map_class"] is not None
        assert page.get_attribute("#revealed", "data-map-class") == str(truth["map_class"])
        # the next point is shown blind again
        second = int(page.evaluate("document.body.dataset.point"))
        assert second != first and answers[-1].json()["point"]["map_class"] is None

        page.keyboard.press("0")  # can't tell
        page.wait_for_function("document.getElementById('assess-status').textContent.includes(\"can't tell\")")
        assert tools.call("GET", f"/api/assessments/{sid}/points/{second}", "alice")["labels"][0]["cant_tell"] is True
        page.keyboard.press("u")  # undo it
        page.wait_for_function("document.getElementById('assess-status').textContent.includes('undone')")
        assert tools.call("GET", f"/api/assessments/{sid}/points/{second}", "alice")["labels"] == []
        assert int(page.evaluate("document.body.dataset.point")) == second  # back to label again
        # the rest, by key
        for _ in range(12):
            if page.evaluate("document.body.dataset.point") in ("", None):
                break
            before = page.evaluate("document.body.dataset.point")
            page.keyboard.press("2")
            page.wait_for_function("p => document.body.dataset.point !== p", arg=before)
        assert page.locator("#done").count() == 1
    finally:
        context.close()

    report = tools.call("GET", f"/api/assessments/{sid}/report", "vera")
    assert report["n"] == 10 and report["cant_tell"] == 0
    # bob, the second expert: the points chosen for a second opinion, blind as well
    context, page, answers = open_tool(browser, tools, "bob", f"/assess/?project={PROJECT}")
    try:
        page.wait_for_selector("#second")
        assert page.evaluate("document.body.dataset.pass") == "2"
        assert answers[-1].json()["point"]["map_class"] is None
        seq = int(page.evaluate("document.body.dataset.point"))
        mapped = tools.call("GET", f"/api/assessments/{sid}/points/{seq}", "alice")["map_class"]  # alice labelled it
        page.locator("main").first.click(position={"x": 2, "y": 2})
        page.keyboard.press("1" if mapped != 1 else "2")  # a class other than the map's
        page.wait_for_function("document.getElementById('revealed').textContent.includes('map says')")
        # the map got it wrong: the point may become a correction, and the sample stops being independent
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#use-as-correction")
        page.wait_for_function("document.getElementById('assess-status').textContent.includes('no longer independent')")
        assert page.locator("#dependent").is_visible()
        assert tools.call("GET", f"/api/assessments/{sid}", "vera")["independent"] is False
    finally:
        context.close()
    report = tools.call("GET", f"/api/assessments/{sid}/report", "vera")
    assert report["agreement"]["pairs"] == 1
    # every label and the undo are in the project's history (the project's map is the sample's)
    changes = json.dumps(tools.call("GET", f"/api/projects/{PROJECT}/history?per_page=200", "admin"))
    assert "assessment-label" in changes and "assessment-undo" in changes and "assessment-sample" in changes


def test_viewer_layer_information_shows_the_assessment(browser: Any, tools: Tools) -> None:
    """After the sample above was labelled, the viewer's (i) of the map names its accuracy."""
    import re

    line = tools.call("GET", f"/api/cities/{CITY}/layers/mcae/assessment")
    assert line["sample"] is not None, "the first test of this module labels a sample"
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    try:
        page.goto(tools.url(f"/#city={CITY}"))
        page.wait_for_selector("#info-a")
        page.click("#info-a")
        page.wait_for_function("document.getElementById('layer-assessment')?.textContent.startsWith('OA')")
        text = page.inner_text("#layer-assessment")
        # the first test turned a point into a correction: the line says the sample stopped being independent
        assert re.fullmatch(r"OA \d+\.\d % ± \d+\.\d \(95 % CI\), \d+ points, assessed \d{4}-\d\d-\d\d"
                            r" \(sample no longer independent\)", text), text
        oa = line["overall_accuracy"]
        assert f"OA {100 * oa['estimate']:.1f} % ± {100 * oa['ci95']:.1f}" in text
        page.screenshot(path=str(ARTIFACTS / "assess-viewer-info.png"))
    finally:
        context.close()


def test_dashboard_asks_for_a_new_sample_and_draws_it(browser: Any, tools: Tools) -> None:
    """The first test used a point as a correction: the dashboard says the sample is no longer
    independent and a reviewer draws a new one from it (a job), whose figures it then shows."""
    before = tools.call("GET", f"/api/assessments?city={CITY}&layer=mcae", "rita")["items"]
    assert before and before[0]["independent"] is False
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    try:
        page.goto(tools.url(f"/dashboard/?project={PROJECT}"))
        page.fill("#token", tools.tokens["rita"])
        page.click("#signin-submit")
        page.wait_for_selector("#assessment-dependent")
        report = tools.call("GET", f"/api/assessments/{before[0]['id']}/report", "rita")
        assert f"OA {100 * report['overall_accuracy']['estimate']:.1f} %" in page.inner_text("#assessment-oa")
        assert "new sample" in page.inner_text("#assessment-dependent")
        page.click("#assessment-draw")
        page.wait_for_function("document.getElementById('assessment-oa')?.textContent.includes('of 600 points')",
                               timeout=60_000)
        assert page.locator("#assessment-dependent").count() == 0
        page.screenshot(path=str(ARTIFACTS / "assess-dashboard.png"), full_page=True)
    finally:
        context.close()
    after = tools.call("GET", f"/api/assessments?city={CITY}&layer=mcae", "rita")["items"]
    assert len(after) == len(before) + 1 and after[0]["independent"] is True and after[0]["points"] == 600
