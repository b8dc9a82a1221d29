"""The web viewer (web/dist) in a real browser: Debian's chromium driven by Playwright.

The platform app serves the built viewer and a demo city (plus a small second city) from a
uvicorn thread; each test opens the viewer at a desktop (1280 x 800) and/or a phone
(390 x 844, touch) viewport and checks what is drawn on screen (exact palette colours read
from screenshots), what the controls do and what the API says. Screenshots go to
``artifacts/web/``. Skips when /usr/bin/chromium, the playwright package or web/dist is
missing (``make test`` installs chromium and builds web/dist first).
"""

from __future__ import annotations

import csv
import io
import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "web"
FLAGS = ["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run"]
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
              "has_touch": True},
}
CITY = "demo-city"
SECOND = "fixture-town"

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium; `make test` does it)",
                allow_module_level=True)
if not (DIST / "index.html").is_file():
    pytest.skip(f"{DIST} not built (make web)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


# -- the server --------------------------------------------------------------------------------

@dataclass
class Site:
    base: str
    root: Path
    timings: dict[str, float] = field(default_factory=dict)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url(path), timeout=30) as response:
            body = response.read()
        return json.loads(body)

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url(path), timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def require(self, path: str, feature: str) -> None:
        """Skip a test whose server route does not exist (404 only: any other answer runs it)."""
        if self.status(path) == 404:
            pytest.skip(f"{feature}: the server has no route {path} yet (404)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_fixture_town(store: Any, root: Path) -> None:
    """A second, small city (512 px blocks of classes) far from the demo city, without districts
    or a comparison report. Marked "real" only so the viewer's no-banner branch is exercised:
    it is test scaffolding, not data."""
    from affine import Affine

    from mcae.inference.classes import MCAE, SINOLC1
    from mcae.inference.cog import write_class_cog
    from mcae.inference.masks.base import PixelWindow
    from mcae.tiles.catalog import City, LayerKind
    from mcae.tiles.layers import layer_from_file

    size = 512
    transform = Affine(0.6, 0, 448_000.0, 0, -0.6, 4_418_000.0)  # UTM 50N, far from the demo
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    store.put_city(City(id=SECOND, name="Fixture Town", provenance="real",
                        description="test fixture for the viewer tests"))
    for layer_id, kind, scheme, top in [("mcae", LayerKind.mcae, MCAE, 8), ("sinolc1", LayerKind.sinolc1, SINOLC1, 11)]:
        grid = rng.integers(1, top + 1, size=(size // 64, size // 64))
        data = np.kron(grid, np.ones((64, 64), np.int64)).astype(np.uint8)
        write_class_cog(root / f"{layer_id}.tif", width=size, height=size, transform=transform,
                        crs="EPSG:32650", windows=[(PixelWindow(0, 0, size, size), data)], scheme=scheme)
        store.put_layer(SECOND, layer_from_file(store, root / f"{layer_id}.tif", kind=kind, layer_id=layer_id,
                                                title=f"{layer_id} of Fixture Town", provenance="real"))
    # a layer whose file has gone: the catalog lists it as unavailable, the viewer leaves it out
    gone = layer_from_file(store, root / "mcae.tif", kind=LayerKind.other, layer_id="gone", title="Gone layer",
                           legend=[{"id": 1, "name": "One", "color": "#112233"}], serving=False)
    store.put_layer(SECOND, gone.model_copy(update={"path": "fixture-town/deleted.tif"}))


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    from mcae.inference.demo.run import DemoOptions, run_demo
    from mcae.platform.app import create_app
    from mcae.tiles.compare_report import run_comparison
    from mcae.tiles.layers import register_demo
    from mcae.tiles.settings import TileSettings

    root = tmp_path_factory.mktemp("webdemo")
    run_demo(DemoOptions(out=root, size=1024, quiet=True, scheduler="synchronous"), log=lambda *_: None)
    store = register_demo(root)
    run_comparison(store, CITY)
    add_fixture_town(store, root / "fixture-town")
    app = create_app(TileSettings(catalog_path=store.path, jobs_dir=root / "jobs", web_dist=DIST))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\n[web] viewer at http://127.0.0.1:{port}/ ; screenshots and downloads in {ARTIFACTS}")
    found = Site(f"http://127.0.0.1:{port}", root)
    yield found
    if found.timings:
        print("\n[web] time from navigation to first tiles drawn: "
              + ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(found.timings.items())))
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


class Viewer:
    """One page of the viewer with its console errors, and helpers on it."""

    def __init__(self, page: Any, name: str, site: Site) -> None:
        self.page = page
        self.name = name
        self.site = site
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: None if "aborted" in (r.failure or "").lower()
                else self.errors.append(f"request failed: {r.url} {r.failure}"))

    @property
    def phone(self) -> bool:
        return self.name == "phone"

    def open(self, url: str | None = None) -> float:
        """Load the viewer; wait for the first tiles and then for both maps to be idle."""
        start = time.perf_counter()
        self.page.goto(url or self.site.url("/"))
        self.page.wait_for_function("performance.getEntriesByName('mcae-first-tiles').length > 0", timeout=30_000)
        wall = (time.perf_counter() - start) * 1000
        self.idle()
        return wall

    def idle(self) -> None:
        self.page.wait_for_function("""() => {
            const v = window.mcaeViewer;
            if (!v || !document.body.classList.contains('ready')) return false;
            const {a, b} = v.pair;
            return a.loaded() && b.loaded() && a.areTilesLoaded() && b.areTilesLoaded()
                && !a.isMoving() && !b.isMoving();
        }""", timeout=30_000)
        self.page.wait_for_timeout(300)  # the frame with the last tiles

    def box(self, selector: str) -> dict[str, float]:
        found = self.page.locator(selector).bounding_box()
        assert found, f"{selector} is not on screen"
        return found

    def shot(self, name: str, *, clip: str | None = "#maps") -> np.ndarray:
        """A screenshot (of the maps by default) as an RGB array, also saved to artifacts/web."""
        from PIL import Image

        kwargs: dict[str, Any] = {"path": str(ARTIFACTS / f"{self.name}-{name}.png")}
        if clip:
            kwargs["clip"] = self.box(clip)
        png = self.page.screenshot(**kwargs)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def hash(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.page.evaluate("location.hash").lstrip("#")))

    def touch_drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
        """A one-finger drag sent as DevTools touch events (as a phone sends them)."""
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]})
        for i in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * i / steps
            y = start[1] + (end[1] - start[1]) * i / steps
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """A drag with the mouse on a desktop, with a finger on a phone."""
        if self.phone:
            self.touch_drag(start, end)
            return
        mouse = self.page.mouse
        mouse.move(*start)
        mouse.down()
        mouse.move(*end, steps=8)
        mouse.up()

    def tap(self, x: float, y: float) -> None:
        if self.phone:
            self.page.touchscreen.tap(x, y)
        else:
            self.page.mouse.click(x, y)

    def tab(self, name: str) -> None:
        """Open a panel tab (on a phone this opens the bottom sheet)."""
        self.page.click(f"#tab-{name}")
        self.page.wait_for_selector(f"#pane-{name}:not([hidden])")
        if self.phone and "sheet-open" not in (self.page.get_attribute("body", "class") or ""):
            self.page.click(f"#tab-{name}")

    def close_sheet(self) -> None:
        if self.phone and "sheet-open" in (self.page.get_attribute("body", "class") or ""):
            self.page.click("#panel-toggle")
            self.page.wait_for_timeout(350)


@pytest.fixture(params=list(VIEWPORTS))
def viewer(request: pytest.FixtureRequest, browser: Any, site: Site) -> Iterator[Viewer]:
    context = browser.new_context(accept_downloads=True, **VIEWPORTS[request.param])
    page = context.new_page()
    found = Viewer(page, request.param, site)
    yield found
    context.close()
    assert not found.errors, f"errors in the browser console: {found.errors}"


@pytest.fixture
def desktop(browser: Any, site: Site) -> Iterator[Viewer]:
    context = browser.new_context(accept_downloads=True, **VIEWPORTS["desktop"])
    found = Viewer(context.new_page(), "desktop", site)
    yield found
    context.close()
    assert not found.errors, f"errors in the browser console: {found.errors}"


# -- colours on screen --------------------------------------------------------------------------

def hexes(site: Site, city: str, layer: str) -> dict[int, str]:
    legend = site.get(f"/api/cities/{city}/layers/{layer}/legend")
    return {c["id"]: c["color"].upper() for c in legend["classes"]}


def counts(image: np.ndarray) -> dict[str, int]:
    """Pixels per exact colour (#RRGGBB) in an RGB screenshot."""
    keys = (image[..., 0].astype(np.int64) << 16) | (image[..., 1].astype(np.int64) << 8) | image[..., 2]
    values, n = np.unique(keys, return_counts=True)
    return {f"#{v:06X}": int(c) for v, c in zip(values, n, strict=True)}


def present(image: np.ndarray, colours: dict[int, str], min_pixels: int = 60) -> set[int]:
    """The classes whose exact colour covers at least ``min_pixels`` pixels."""
    found = counts(image)
    return {cid for cid, colour in colours.items() if found.get(colour, 0) >= min_pixels}


def changed(before: np.ndarray, after: np.ndarray, shift: int = 0) -> float:
    """Share of pixels that differ between two screenshots of the same size; with ``shift``, a
    pixel counts as the same when it matches one within ``shift`` pixels (sub-pixel offsets)."""
    if before.shape != after.shape:
        return 1.0
    if shift == 0:
        return float(np.any(before != after, axis=-1).mean())
    h, w = after.shape[:2]
    core = after[shift:h - shift, shift:w - shift]
    differs = np.ones(core.shape[:2], bool)
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            moved = before[shift + dy:h - shift + dy, shift + dx:w - shift + dx]
            differs &= np.any(moved != core, axis=-1)
    return float(differs.mean())


# -- tests --------------------------------------------------------------------------------------

def test_first_tiles_and_palette(viewer: Viewer, site: Site) -> None:
    wall = viewer.open()
    mark = viewer.page.evaluate("performance.getEntriesByName('mcae-first-tiles')[0].startTime")
    site.timings[viewer.name] = mark
    print(f"\n[web] {viewer.name}: first tiles drawn {mark:.0f} ms after navigation start "
          f"({wall:.0f} ms wall clock from goto)")
    mcae, sinolc = hexes(site, CITY, "mcae"), hexes(site, CITY, "sinolc1")
    assert viewer.page.eval_on_selector("#layer-a", "s => s.value") == "mcae"
    assert viewer.page.eval_on_selector("#layer-b", "s => s.value") == "sinolc1"
    assert not viewer.page.locator("#banner").is_hidden(), "the demo city is synthetic: the banner shows"
    assert "synthetic" in viewer.page.inner_text("#banner").lower()
    viewer.shot("initial", clip=None)
    if viewer.phone:  # phones start in overlay mode (B over A with an opacity slider)
        assert viewer.hash()["mode"] == "overlay"
        viewer.page.click("#flip")  # opacity 0: map A alone
        viewer.page.wait_for_timeout(300)
        only_a = viewer.shot("overlay-a")
        assert len(present(only_a, mcae)) >= 4, "MCAE palette colours on the phone screen"
        viewer.page.click("#flip")  # opacity 1: map B alone
        viewer.page.wait_for_timeout(300)
        only_b = viewer.shot("overlay-b")
        assert len(present(only_b, sinolc)) >= 4, "SinoLC-1 palette colours on the phone screen"
        assert changed(only_a, only_b) > 0.3
    else:  # desktops start in swipe mode: MCAE left of the handle, SinoLC-1 right of it
        assert viewer.hash()["mode"] == "swipe"
        image = viewer.shot("swipe")
        half = image.shape[1] // 2
        assert len(present(image[:, : half - 40], mcae)) >= 4
        assert len(present(image[:, half + 40 :], sinolc)) >= 4


def test_switching_city_layers_and_modes(viewer: Viewer, site: Site) -> None:
    viewer.open()
    page = viewer.page
    start = viewer.shot("switch-0")
    # layer B: SinoLC-1 -> agreement
    page.select_option("#layer-b", "agreement")
    viewer.idle()
    if viewer.phone:
        page.eval_on_selector("#opacity", "el => { el.value = '100'; el.dispatchEvent(new Event('input')); }")
        viewer.idle()
    agreement = hexes(site, CITY, "agreement")
    image = viewer.shot("switch-agreement")
    assert viewer.hash()["b"] == "agreement"
    assert changed(start, image) > 0.2
    assert len(present(image, {k: v for k, v in agreement.items() if v != "#226126"})) >= 3
    # modes
    modes = ["swipe", "side", "overlay"]
    shots = {}
    for mode in modes:
        page.click(f"#modes [data-mode={mode}]")
        viewer.idle()
        assert page.get_attribute(f"#modes [data-mode={mode}]", "aria-checked") == "true"
        assert viewer.hash()["mode"] == mode
        assert mode in page.get_attribute("#maps", "class")
        shots[mode] = viewer.shot(f"mode-{mode}")
    a, b = viewer.box("#map-a"), viewer.box("#map-b")
    assert a == b, "overlay: both maps cover the whole map area"
    page.click("#modes [data-mode=side]")
    viewer.idle()
    a, b = viewer.box("#map-a"), viewer.box("#map-b")
    if viewer.phone:
        assert b["y"] >= a["y"] + a["height"] - 4, "side by side on a phone: map A above map B"
    else:
        assert b["x"] >= a["x"] + a["width"] - 4, "side by side: map A left of map B"
    assert changed(shots["swipe"], shots["side"]) > 0.1
    assert changed(shots["side"], shots["overlay"]) > 0.1
    # overlay opacity changes what is drawn
    page.click("#modes [data-mode=overlay]")
    viewer.idle()
    page.eval_on_selector("#opacity", "el => { el.value = '20'; el.dispatchEvent(new Event('input')); }")
    viewer.idle()
    faint = viewer.shot("overlay-20")
    page.eval_on_selector("#opacity", "el => { el.value = '90'; el.dispatchEvent(new Event('input')); }")
    viewer.idle()
    assert changed(faint, viewer.shot("overlay-90")) > 0.2
    assert viewer.hash()["op"] == "0.90"
    # city
    page.select_option("#city", SECOND)
    page.wait_for_function(f"location.hash.includes('city={SECOND}')")
    viewer.idle()
    page.click("#modes [data-mode=swipe]")
    viewer.idle()
    town = viewer.shot("city-2")
    assert changed(start, town) > 0.2
    town_colours = hexes(site, SECOND, "mcae")
    assert len(present(town[:, : town.shape[1] // 2 - 40], town_colours)) >= 3
    assert page.locator("#banner").is_hidden(), "Fixture Town is not synthetic: no banner"
    offered = page.eval_on_selector_all("#layer-a option, #layer-b option, #dl-layer option",
                                        "options => options.map(o => o.value)")
    assert "mcae" in offered and "gone" not in offered, "a layer whose file is missing is not offered"
    assert page.eval_on_selector("#district", "s => s.disabled"), "Fixture Town has no districts"


def test_legend_hides_and_highlights_classes(desktop: Viewer, site: Site) -> None:
    viewer = desktop
    viewer.open()
    page = viewer.page
    mcae = hexes(site, CITY, "mcae")
    maps = viewer.box("#maps")

    def left() -> np.ndarray:
        return viewer.shot("legend-left")[:, : int(maps["width"] / 2) - 40]

    before = counts(left())
    assert before.get(mcae[8], 0) > 200, "Building is drawn"
    button = "#legends .legend[data-layer=mcae] [data-class='8']"
    assert page.inner_text(button).strip().startswith("Building")
    page.click(button)
    viewer.idle()
    assert page.get_attribute(button, "aria-pressed") == "true"
    assert viewer.hash()["hide"] == "mcae:8"
    hidden = counts(left())
    assert hidden.get(mcae[8], 0) == 0, "hidden: no Building pixel left"
    assert hidden.get(mcae[5], 0) > 100, "the other classes stay"
    page.click(button)  # show again
    viewer.idle()
    assert counts(left()).get(mcae[8], 0) > 200
    # highlight Water: the other classes are greyed out
    page.check("input[name=legend-mode][value=highlight]")
    page.click("#legends .legend[data-layer=mcae] [data-class='6']")
    viewer.idle()
    focus = counts(left())
    assert focus.get(mcae[6], 0) > 100
    assert focus.get(mcae[8], 0) == 0 and focus.get(mcae[5], 0) == 0
    assert viewer.hash()["hl"] == "mcae:6"
    viewer.shot("legend-highlight", clip=None)


def test_swipe_handle_moves(viewer: Viewer) -> None:
    viewer.open()
    page = viewer.page
    if viewer.phone:
        page.click("#modes [data-mode=swipe]")
        viewer.idle()
    maps = viewer.box("#maps")
    handle = viewer.box(".compare-swiper-vertical")
    centre = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    assert abs(centre[0] - (maps["x"] + maps["width"] / 2)) < 3, "the handle starts in the middle"
    target = maps["x"] + maps["width"] * 0.25
    viewer.drag(centre, (target, centre[1]))
    page.wait_for_timeout(200)
    position = page.evaluate("window.mcaeViewer.pair.compare.currentPosition")
    assert abs(position - maps["width"] * 0.25) < 4, (position, maps["width"])
    page.wait_for_function("location.hash.includes('pos=0.2')")
    assert abs(float(viewer.hash()["pos"]) - 0.25) < 0.01
    clip = page.evaluate("document.getElementById('map-a').style.clip")
    assert clip.startswith("rect(") and f"{position:g}px" in clip, clip
    # the keyboard moves it too
    page.focus(".compare-swiper-vertical")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(100)
    assert abs(page.evaluate("window.mcaeViewer.pair.position") - 0.30) < 0.01
    viewer.shot("swipe-moved", clip=None)


def test_identify_shows_both_classes(viewer: Viewer, site: Site) -> None:
    site.require(f"/api/cities/{CITY}/identify?lon=0&lat=0", "identify")
    viewer.open()
    maps = viewer.box("#maps")
    viewer.close_sheet()
    x, y = maps["x"] + maps["width"] * 0.3, maps["y"] + maps["height"] * 0.55
    viewer.tap(x, y)
    table = viewer.page.wait_for_selector(".identify-table", timeout=15_000)
    assert table
    node = viewer.page.locator(".identify").first
    lon, lat = float(node.get_attribute("data-lon")), float(node.get_attribute("data-lat"))
    answer = site.get(f"/api/cities/{CITY}/identify?lon={lon}&lat={lat}")
    expected = {e["layer"]: e for e in answer["layers"]}
    for layer in ("mcae", "sinolc1"):
        assert expected[layer]["class"], f"the tapped point has a {layer} class"
        row = viewer.page.locator(f".identify-table tr[data-layer={layer}]")
        assert row.get_attribute("data-class") == expected[layer]["class"]
        assert expected[layer]["class"] in row.inner_text()
    viewer.shot("identify", clip=None)


def test_statistics_of_a_drawn_box_match_the_api(viewer: Viewer, site: Site) -> None:
    site.require(f"/api/cities/{CITY}/layers/mcae/statistics", "statistics")
    viewer.open()
    page = viewer.page
    viewer.tab("areas")
    page.wait_for_selector("#stats[data-ready]")
    page.click("#pane-areas [data-area=rect]")
    page.wait_for_selector("#draw-overlay:not([hidden])")
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
    viewer.open()
    page = viewer.page
    viewer.tab("areas")
    page.wait_for_selector("#stats[data-ready]")
    page.click("#pane-areas [data-area=polygon]")
    page.wait_for_selector("#draw-overlay:not([hidden])")
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
        page.click("#dl-clip")
    tif = ARTIFACTS / f"{viewer.name}-clip.tif"
    download.value.save_as(tif)
    import rasterio

    with rasterio.open(tif) as src:
        assert src.count == 1 and src.width > 10 and src.colormap(1)[8][:3] == (222, 31, 7)
    # QGIS addresses answer
    wmts = page.locator("#service-links input").first.input_value()
    assert wmts.endswith("/WMTSCapabilities.xml")
    assert site.status(urllib.parse.urlparse(wmts).path) == 200


def test_permalink_restores_the_view(viewer: Viewer, site: Site, browser: Any) -> None:
    viewer.open()
    page = viewer.page
    mode = "swipe" if viewer.phone else "side"
    page.click(f"#modes [data-mode={mode}]")
    viewer.idle()
    page.select_option("#layer-b", "agreement")
    page.select_option("#district", "harbour")
    viewer.idle()
    viewer.tab("legend")
    page.click("#legends .legend[data-layer=mcae] [data-class='5']")  # hide Tree
    viewer.close_sheet()
    viewer.idle()
    if mode == "swipe":
        handle = viewer.box(".compare-swiper-vertical")
        maps = viewer.box("#maps")
        viewer.drag((handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2),
                    (maps["x"] + maps["width"] * 0.7, handle["y"] + handle["height"] / 2))
    page.wait_for_timeout(500)  # the hash is written 200 ms after the last change
    url = page.evaluate("location.href")
    state = viewer.hash()
    before = viewer.shot("permalink-before")
    assert state["city"] == CITY and state["b"] == "agreement" and state["district"] == "harbour"
    assert state["mode"] == mode and state["hide"] == "mcae:5"

    context = browser.new_context(**VIEWPORTS[viewer.name])
    other = Viewer(context.new_page(), viewer.name, site)
    try:
        other.open(url)
        other.page.wait_for_timeout(300)
        again = other.hash()
        for key in ("city", "a", "b", "mode", "district", "hide", "pos", "op"):
            assert again.get(key) == state.get(key), key
        assert float(again["z"]) == pytest.approx(float(state["z"]), abs=0.02)
        assert other.page.eval_on_selector("#layer-b", "s => s.value") == "agreement"
        assert other.page.get_attribute(f"#modes [data-mode={mode}]", "aria-checked") == "true"
        assert other.page.eval_on_selector("#district", "s => s.value") == "harbour"
        if mode == "swipe":
            position = other.page.evaluate("window.mcaeViewer.pair.position")
            assert position == pytest.approx(float(state["pos"]), abs=0.002)
        after = other.shot("permalink-after")
        assert changed(before, after, shift=2) < 0.03, "the link draws the same view"
        assert not other.errors, other.errors
    finally:
        context.close()


def test_accessibility_basics(viewer: Viewer, site: Site) -> None:
    viewer.open()
    page = viewer.page
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, select, input, [role=slider], [role=tab]')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.getAttribute('aria-label') || (el.labels && [...el.labels].some(l => l.textContent.trim()))
                        || el.textContent.trim() || el.getAttribute('title') || el.getAttribute('aria-labelledby')))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert not unnamed, f"controls without an accessible name: {unnamed}"
    chips = page.evaluate("""() => [...document.querySelectorAll('#legends .class-button')]
        .filter(b => !b.querySelector('.class-name').textContent.trim()).length""")
    assert chips == 0, "every colour chip has its class name as text"
    assert page.locator("#legends .class-button").count() == 9 + 11
    if not viewer.phone:
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        for _ in range(6):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "city":
                break
        assert page.evaluate("document.activeElement.id") == "city", "the city select is reachable by keyboard"
        page.focus("#tab-legend")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.id") == "tab-areas"
        assert page.get_attribute("#tab-areas", "aria-selected") == "true"
    assert site.status("/favicon.ico") == 200 and site.status("/favicon.svg") == 200
    page.click("#share")
    assert page.locator("#share-dialog").is_visible()
    assert page.input_value("#share-url") == page.evaluate("location.href")
    page.keyboard.press("Escape")
    page.click("#info-a")
    assert "Version" in page.inner_text("#info-body") and "synthetic" in page.inner_text("#info-body").lower()
    layer = next(x for x in site.get(f"/api/cities/{CITY}")["layers"] if x["id"] == "mcae")
    assert layer["version"] in page.inner_text("#info-body")
    viewer.shot("info", clip=None)
    page.keyboard.press("Escape")
