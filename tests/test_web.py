"""The web viewer in a real browser (chromium + Playwright): first tiles, layers, modes, legends,
swipe, identify, permalinks and accessibility, at desktop and phone viewports."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from web_fixtures import (  # the fixtures come from tests/conftest.py (pytest_plugins)
    CITY,
    SECOND,
    VIEWPORTS,
    Site,
    Viewer,
    changed,
    counts,
    hexes,
    present,
)


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
