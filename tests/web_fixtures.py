"""Fixtures of the web viewer tests: the demo site, chromium, and a Viewer page helper.

The platform app serves the built viewer and a demo city (plus a small second city) from a
uvicorn thread; each test opens the viewer at a desktop (1280 x 800) and/or a phone
(390 x 844, touch) viewport and checks what is drawn on screen (exact palette colours read
from screenshots), what the controls do and what the API says. Screenshots go to
``artifacts/web/``. Skips when /usr/bin/chromium, the playwright package or web/dist is
missing (``make test`` installs chromium and builds web/dist first).
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
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
        """Fail a test whose server route is missing (404): a broken route is a failure, not a skip."""
        status = self.status(path)
        assert status != 404, f"{feature}: the server answers 404 for {path}"


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


@contextlib.contextmanager
def app_server(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from mcae.inference.demo.run import DemoOptions, run_demo
    from mcae.platform.app import create_app
    from mcae.platform.settings import JobSettings, Settings
    from mcae.tiles.compare_report import run_comparison
    from mcae.tiles.layers import register_demo
    from mcae.tiles.settings import TileSettings

    root = tmp_path_factory.mktemp("webdemo")
    run_demo(DemoOptions(out=root, size=1024, quiet=True, scheduler="synchronous"), log=lambda *_: None)
    store = register_demo(root)
    run_comparison(store, CITY)
    add_fixture_town(store, root / "fixture-town")
    app = create_app(Settings(tiles=TileSettings(catalog_path=store.path, web_dist=DIST),
                              jobs=JobSettings(dir=root / "jobs")))
    with app_server(app) as base:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        print(f"\n[web] viewer at {base}/ ; screenshots and downloads in {ARTIFACTS}")
        found = Site(base, root)
        yield found
        if found.timings:
            print("\n[web] time from navigation to first tiles drawn: "
                  + ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(found.timings.items())))


def _wait_for_function(page: Any, expression: str, *, arg: Any = None, timeout: float | None = None,
                       polling: Any = None) -> Any:
    """``Page.wait_for_function`` by polling ``evaluate``: Playwright's own compiles the predicate
    with ``new Function`` inside the page, which the app's CSP (no ``unsafe-eval``) refuses, and
    the pages are tested under their real CSP. Returns the truthy value's handle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
    while True:
        handle = page.evaluate_handle(expression, arg)
        if page.evaluate("v => !!v", handle):
            return handle
        handle.dispose()
        if time.monotonic() > deadline:
            raise PlaywrightTimeout(f"wait_for_function timed out: {expression[:80]}")
        page.wait_for_timeout(polling if isinstance(polling, (int, float)) else 30)


sync_api.Page.wait_for_function = _wait_for_function  # type: ignore[assignment,method-assign]


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
