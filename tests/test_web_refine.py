"""/refine/ in a browser: sign in with a token, page to a patch, click masks on the imagery and
on the classification (a row per mask, a cross on both views, the rows outlined on the
classification), set classes by dropdown and by keyboard, save in one transaction ("Saved" only
after the 201, the classification redrawn in the new classes), see them after a reload and
through the API; mark a patch fully checked; a stale save (bob changed the mask meanwhile) is a
409 naming bob with nothing saved, and a reload keeps the rows; the help overlay, the blend
slider and key, the locator on the city map; a screenshot at 1280 x 800 into artifacts/web/.

The server is this module's own: the annotation test project on SQLite with one user per role,
a city with the project's scene as its imagery layer, the built web/dist, in a uvicorn thread.
The `browser` fixture comes from tests/conftest.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from web_fixtures import ARTIFACTS, CHROMIUM, PROJECT, ToolSite, Viewer, sign_in, tool_server

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium; `make test` does it)", allow_module_level=True)

CITY = "refine-town"
FINE = {"Water": ["Pond", "River"], "Building": ["Factory", "House"]}
TREE, WATER, BUILDING, OTHERS = 5, 6, 8, 9
COLOURS = {TREE: (0x22, 0x61, 0x26), WATER: (0x00, 0x45, 0xFF), BUILDING: (0xDE, 0x1F, 0x07),
           OTHERS: (0x32, 0x32, 0x32)}


@dataclass
class Refine(ToolSite):
    project: Path = Path()

    def api(self, path: str, user: str = "admin", method: str = "GET", body: Any = None) -> Any:
        """``path`` under the test project."""
        return self.call(method, self.p(path), user, body)

    def patches(self) -> list[dict[str, Any]]:
        return list(self.api("/patches?per_page=500")["items"])

    def detail(self, patch: str) -> dict[str, Any]:
        return dict(self.api(f"/patches/{patch}"))

    def mask(self, patch: str, mask_id: int) -> dict[str, Any]:
        return dict(self.api(f"/patches/{patch}/masks/{mask_id}"))

    def raster(self, patch: str) -> np.ndarray:
        import rasterio

        with rasterio.open(self.project / "patches" / f"{patch}.tif") as src:
            return np.asarray(src.read(1))

    def targets(self, patch: str, n: int) -> list[tuple[int, int, int]]:
        """`n` undecided masks of `patch`, each with its most interior pixel: (mask id, x, y)."""
        from scipy.ndimage import distance_transform_edt

        raster = self.raster(patch)
        known = {m["mask_id"] for m in self.detail(patch)["mask_list"] if m["class_id"] is None}
        found = []
        for mask_id in sorted(known):
            inside = np.pad(raster == mask_id, 1)
            depth = distance_transform_edt(inside)[1:-1, 1:-1]
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
            found.append((float(depth[y, x]), mask_id, int(x), int(y)))
        found.sort(reverse=True)
        assert len(found) >= n and found[n - 1][0] >= 4, f"patch {patch} lacks {n} masks big enough to click"
        return [(m, x, y) for _, m, x, y in found[:n]]

    def fresh_patch(self, skip: int = 0) -> dict[str, Any]:
        """A patch no earlier test used (in the order of the pager), with nothing decided."""
        for index, patch in enumerate(self.patches()):
            if index >= skip and patch["name"] not in self.used and patch["decided"] == 0 and patch["masks"] >= 4:
                self.used.add(patch["name"])
                return {**patch, "index": index}
        raise AssertionError("the test project ran out of fresh patches")


@pytest.fixture(scope="module")
def refine_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refine]:
    from mcae.tiles.catalog import CatalogStore, LayerKind
    from mcae.tiles.layers import publish_layer

    def imagery(root: Path) -> None:
        publish_layer(CatalogStore(root / "catalog.json"), CITY, root / "city" / "scene.tif",
                      kind=LayerKind.imagery, layer_id="imagery", city_name="Refine Town", provenance="synthetic")

    root = tmp_path_factory.mktemp("webrefine")
    with tool_server(root, imagery) as (base, tokens, project):
        site = Refine(base, root, tokens=tokens, project=project)
        version = site.api("")["version"]
        changed = site.api("", "admin", "PATCH", {"version": version, "city": CITY, "fine_classes": FINE})
        assert (changed["city"], changed["fine_classes"]["Water"]) == (CITY, FINE["Water"])
        yield site


# -- helpers -----------------------------------------------------------------------------

def unexpected(errors: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return [e for e in errors if not any(a in e for a in allowed)]


def open_refine(browser: Any, site: Refine, user: str, query: str = "") -> tuple[Any, Any, Viewer]:
    """A new 1280 x 800 context signed in as `user` (the token typed into the form) on /refine/."""
    return sign_in(browser, site, user, f"/refine/{query}")


def wait_patch(page: Any, name: str) -> None:
    """Wait until `name` is open: its imagery and its classification drawn."""
    page.wait_for_function("""n => {
        const main = document.querySelector('#refine');
        const img = document.querySelector('#image'), cls = document.querySelector('#classification');
        return main.dataset.patch === n && img.complete && img.naturalWidth > 0 && cls.complete && cls.naturalWidth > 0
            && !document.querySelector('#class-stage').classList.contains('loading');
    }""", arg=name, timeout=30_000)


def page_point(page: Any, stage: str, x: int, y: int) -> tuple[float, float]:
    """Patch pixel (column x, row y) -> page coordinates of its centre on `stage`."""
    box = page.locator(stage).bounding_box()
    width = int(page.get_attribute(stage, "data-width"))
    height = int(page.get_attribute(stage, "data-height"))
    return box["x"] + (x + 0.5) / width * box["width"], box["y"] + (y + 0.5) / height * box["height"]


def click_mask(page: Any, stage: str, x: int, y: int, mask_id: int) -> None:
    page.mouse.click(*page_point(page, stage, x, y))
    page.wait_for_selector(f"#row-body tr[data-mask='{mask_id}']", timeout=15_000)


def loads(page: Any) -> int:
    return int(page.get_attribute("#class-stage", "data-loads") or 0)


def colour_at(page: Any, stage: str, x: int, y: int) -> tuple[int, int, int]:
    """The colour drawn at patch pixel (x, y) of `stage`, from a screenshot."""
    from PIL import Image

    px, py = page_point(page, stage, x, y)
    png = page.screenshot(clip={"x": px - 1, "y": py - 1, "width": 3, "height": 3})
    r, g, b = Image.open(io.BytesIO(png)).convert("RGB").getpixel((1, 1))
    return int(r), int(g), int(b)


def close(a: tuple[int, int, int], b: tuple[int, int, int], tol: int = 6) -> bool:
    return all(abs(p - q) <= tol for p, q in zip(a, b, strict=True))


# -- tests -------------------------------------------------------------------------------


def assert_in_help(page: Any, labels: tuple[str, ...]) -> None:
    """``?`` opens the shortcuts overlay, which names each of ``labels``."""
    page.keyboard.press("?")
    page.wait_for_selector("#shortcuts[open]")
    help_text = page.inner_text("#shortcuts")
    for label in labels:
        assert label in help_text, help_text


def test_correct_two_masks_save_and_reload(browser: Any, refine_site: Refine) -> None:
    site = refine_site
    target = site.fresh_patch(skip=2)
    name = target["name"]
    (mask_a, ax, ay), (mask_b, bx, by) = site.targets(name, 2)
    # every patch in order (the default list puts those waiting for refinement first: the import
    # sends the masks of groups under the project's min_group_size there)
    context, page, viewer = open_refine(browser, site, "alice", "?filter=all")
    try:
        first = site.patches()[0]["name"]
        wait_patch(page, first)
        total = len(site.patches())
        assert page.inner_text("#position") == f"1 / {total}"
        for step in range(target["index"]):  # page there: the Next button, then the keys
            if step == 0:
                page.click("#next")
            else:
                page.keyboard.press("ArrowRight" if step % 2 else "]")
            page.wait_for_function("p => document.querySelector('#position').textContent.startsWith(p)",
                                   arg=f"{step + 2} /")
        wait_patch(page, name)
        assert page.inner_text("#position") == f"{target['index'] + 1} / {total}"
        assert f"patch={name}" in page.url

        # a click on the imagery: a row with the mask id and its current class, a cross on both views
        click_mask(page, "#image-stage", ax, ay, mask_a)
        row = page.locator(f"#row-body tr[data-mask='{mask_a}']")
        assert f"#{mask_a}" in row.inner_text()
        assert "undecided" in row.locator(".now").inner_text()
        for marks in ("#image-marks", "#class-marks"):
            cross = page.locator(f"{marks} g.cross[data-mask='{mask_a}']")
            assert cross.count() == 1
            assert (int(cross.get_attribute("data-x")), int(cross.get_attribute("data-y"))) == (ax, ay)
        fine = f"#row-body tr[data-mask='{mask_a}'] select.fine"
        assert page.is_disabled(fine)  # Unknown has no fine classes
        page.select_option(f"#row-body tr[data-mask='{mask_a}'] select.coarse", str(WATER))
        assert page.get_attribute(f"#row-body tr[data-mask='{mask_a}']", "data-class") == str(WATER)
        assert page.eval_on_selector_all(f"{fine} option", "os => os.map(o => o.value)") == ["", *FINE["Water"]]
        page.select_option(fine, "Pond")

        # a click on the classification, the class by keyboard
        click_mask(page, "#class-stage", bx, by, mask_b)
        assert page.get_attribute(f"#row-body tr[data-mask='{mask_b}']", "aria-selected") == "true"
        page.keyboard.press(str(BUILDING))
        assert page.get_attribute(f"#row-body tr[data-mask='{mask_b}']", "data-class") == str(BUILDING)
        assert page.get_attribute(f"#row-body tr[data-mask='{mask_a}']", "data-class") == str(WATER)
        # both rows are outlined on the classification
        page.wait_for_function("ms => ms.every(m => document.querySelector('#class-stage').dataset.loaded"
                               ".includes('highlight=' + m))", arg=[mask_a, mask_b], timeout=15_000)

        # the same mask again selects its row: no duplicate
        page.mouse.click(*page_point(page, "#image-stage", ax, ay))
        page.wait_for_selector(f"#row-body tr[data-mask='{mask_a}'][aria-selected='true']", timeout=15_000)
        assert page.locator("#row-body tr").count() == 2
        assert "has a row already" in page.inner_text("#save-status")
        assert page.get_attribute(f"#row-body tr[data-mask='{mask_b}']", "aria-selected") == "false"

        # save: "Saved" only after the 201, then the classification redraws in the new classes
        before = loads(page)
        assert "Saved" not in page.inner_text("#save-status")
        page.keyboard.press("s")
        page.wait_for_function("() => document.querySelector('#save-status').textContent.includes('Saved: 2 masks')",
                               timeout=15_000)
        for mask_id, cls in ((mask_a, WATER), (mask_b, BUILDING)):
            found = site.mask(name, mask_id)
            assert (found["class_id"], found["via"]) == (cls, "mask"), found
        assert site.mask(name, mask_a)["fine_class"] == "Pond"
        assert site.mask(name, mask_b)["fine_class"] is None
        page.wait_for_function("n => Number(document.querySelector('#class-stage').dataset.loads) > n", arg=before)
        wait_patch(page, name)
        assert page.locator("#row-body tr").count() == 0
        assert close(colour_at(page, "#class-stage", ax, ay), COLOURS[WATER])
        assert close(colour_at(page, "#class-stage", bx, by), COLOURS[BUILDING])

        # after a reload the page shows the new classes (a click shows the mask's class now)
        page.reload()
        wait_patch(page, name)
        assert close(colour_at(page, "#class-stage", ax, ay), COLOURS[WATER])
        click_mask(page, "#image-stage", ax, ay, mask_a)
        now = page.locator(f"#row-body tr[data-mask='{mask_a}'] .now")
        assert (now.get_attribute("data-class"), now.get_attribute("data-via")) == (str(WATER), "mask")
        assert "Water" in now.inner_text() and "Pond" in now.inner_text()
        page.keyboard.press("Delete")
        assert page.locator("#row-body tr").count() == 0
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_mark_patch_fully_checked(browser: Any, refine_site: Refine) -> None:
    site = refine_site
    target = site.fresh_patch()
    name = target["name"]
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}&filter=all")
    try:
        wait_patch(page, name)
        assert page.get_attribute("#checked", "aria-pressed") == "false"
        page.click("#checked")
        # undecided masks: refused with the reason, until alice overrides (recorded with her name)
        page.wait_for_selector("#banner:not([hidden]) #check-anyway")
        assert "undecided masks" in page.inner_text("#banner")
        assert site.api(f"/patches/{name}")["checked"] is False
        page.click("#check-anyway")
        page.wait_for_selector("#checked[aria-pressed='true']")
        assert "alice" in page.inner_text("#checked-by")
        found = site.api(f"/patches/{name}")
        assert (found["checked"], found["checked_by"]) == (True, "alice")
        entry = site.api(f"/history?entity=patch&entity_id={name}")["items"][0]
        assert (entry["user"], entry["after"]["override"]) == ("alice", True)
        page.reload()
        wait_patch(page, name)
        assert page.get_attribute("#checked", "aria-pressed") == "true"
        assert "checked by alice" in page.inner_text("#checked-by")
        # `c` takes it back, and again marks it
        page.locator("#class-stage").focus()
        page.keyboard.press("c")
        page.wait_for_selector("#checked[aria-pressed='false']")
        assert site.api(f"/patches/{name}")["checked"] is False
        page.keyboard.press("c")
        page.wait_for_selector("#banner:not([hidden]) #check-anyway")
        page.click("#check-anyway")
        page.wait_for_selector("#checked[aria-pressed='true']")
        assert site.api(f"/patches/{name}")["checked_by"] == "alice"
        # the filter of checked patches lists it
        page.select_option("#filter", "checked")
        page.wait_for_function("() => document.querySelector('#position').textContent === '1 / 1'")
        wait_patch(page, name)
        assert "filter=checked" in page.url
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_stale_save_names_bob_and_saves_nothing(browser: Any, refine_site: Refine) -> None:
    site = refine_site
    target = site.fresh_patch()
    name = target["name"]
    (mask_c, cx, cy), = site.targets(name, 1)
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}")
    try:
        wait_patch(page, name)
        click_mask(page, "#class-stage", cx, cy, mask_c)
        page.keyboard.press(str(TREE))
        # bob corrects the same mask through the API meanwhile
        seen = site.mask(name, mask_c)
        site.api(f"/patches/{name}/corrections", "bob", "POST",
                 {"rows": [{"mask": mask_c, "class": OTHERS, "fine_class": None, "version": seen["version"]}]})
        page.click("#save")
        page.wait_for_selector("#banner[data-kind='conflict']", timeout=15_000)
        banner = page.inner_text("#banner")
        assert "bob" in banner and f"mask {mask_c}" in banner and "Nothing was saved" in banner, banner
        assert "Saved" not in page.inner_text("#save-status")
        found = site.mask(name, mask_c)
        assert (found["class_id"], found["via"]) == (OTHERS, "mask"), found  # bob's, not alice's
        # reload the patch, keeping the row: it now shows bob's class, then saves
        page.click("#reload-patch")
        page.wait_for_selector(f"#row-body tr.changed[data-mask='{mask_c}']")
        assert page.locator("#row-body tr").count() == 1
        now = page.locator(f"#row-body tr[data-mask='{mask_c}'] .now")
        assert now.get_attribute("data-class") == str(OTHERS)
        assert page.get_attribute(f"#row-body tr[data-mask='{mask_c}']", "data-class") == str(TREE)
        page.click("#save")
        page.wait_for_function("() => document.querySelector('#save-status').textContent.includes('Saved: 1 mask')")
        assert site.mask(name, mask_c)["class_id"] == TREE
        assert not unexpected(viewer.errors, ("status of 409",)), viewer.errors
    finally:
        context.close()


def test_help_blend_locator_and_screenshot(browser: Any, refine_site: Refine) -> None:
    site = refine_site
    target = site.fresh_patch()
    name = target["name"]
    masks = site.targets(name, 3)
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}")
    try:
        wait_patch(page, name)
        # the help overlay lists the page's shortcuts
        assert_in_help(page, ("Save the ticked rows", "Next patch", "Blend", "fully checked",
                              "Remove the selected rows"))
        page.keyboard.press("Escape")
        page.wait_for_selector("#shortcuts", state="hidden")

        # blend: `b` and the slider change the opacity of the classification over the imagery
        opacity = "() => getComputedStyle(document.querySelector('#blend-layer')).opacity"
        shown = "() => getComputedStyle(document.querySelector('#blend-layer')).display !== 'none'"
        assert not page.evaluate(shown)
        page.keyboard.press("b")
        assert page.evaluate(opacity) == "0.5"
        assert page.evaluate(shown)
        page.fill("#blend", "80")
        assert page.evaluate(opacity) == "0.8"
        assert page.input_value("#blend") == "80" and "80" in page.inner_text("#blend-value")
        page.keyboard.press("b")
        assert not page.evaluate(shown)
        page.keyboard.press("b")
        assert page.evaluate(opacity) == "0.8"  # back to the last opacity
        page.fill("#blend", "35")

        # the locator: the city's imagery with the patch outlined
        page.wait_for_selector("#locator-box[data-state='ready'] canvas", timeout=30_000)
        bounds = site.detail(name)["bounds"]
        page.wait_for_function("b => document.querySelector('#locator-box').dataset.patch === b",
                               arg=",".join(str(v) for v in bounds), timeout=15_000)

        for mask_id, x, y in masks:
            click_mask(page, "#image-stage", x, y, mask_id)
        page.keyboard.press(str(WATER))
        page.wait_for_function("ms => ms.every(m => document.querySelector('#class-stage').dataset.loaded"
                               ".includes('highlight=' + m))", arg=[m for m, _, _ in masks], timeout=15_000)
        wait_patch(page, name)
        page.wait_for_function("() => document.querySelector('#locator-box').dataset.idle", timeout=30_000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "refine-desktop.png"))
        page.set_viewport_size({"width": 1024, "height": 768})  # a tablet: the corrections go below
        page.wait_for_timeout(400)
        for stage in ("#image-stage", "#class-stage"):
            box = page.locator(stage).bounding_box()
            assert box and box["width"] > 200 and abs(box["width"] - box["height"]) < 2, box
        page.screenshot(path=str(ARTIFACTS / "refine-tablet.png"), full_page=True)
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_patches_waiting_for_refinement_come_first(browser: Any, refine_site: Refine) -> None:
    """Last of the module: it sends masks to refinement, which reorders the pager."""
    site = refine_site
    patches = site.patches()
    waiting = [p["name"] for p in site.api("/patches?state=refine&per_page=500")["items"]]  # small groups' masks
    target = next(p for p in reversed(patches) if p["name"] not in site.used and p["decided"] == 0
                  and p["name"] not in waiting)
    name = target["name"]
    site.used.add(name)
    detail = site.detail(name)  # its masks are in the patch's neighbourhood
    mask = next(m for m in detail["mask_list"] if m["class_id"] is None and m["group"])
    hood, group = detail["neighbourhood"], mask["group"]
    version = next(g for g in site.api(f"/neighbourhoods/{hood}/groups") if g["key"] == group)["version"]
    site.api(f"/neighbourhoods/{hood}/groups/{group}/refine", "alice", "POST",
             {"masks": [mask["id"]], "version": version})
    now = [p["name"] for p in site.api("/patches?state=refine&per_page=500")["items"]]
    assert sorted(now) == sorted([*waiting, name])
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}")
    try:
        wait_patch(page, name)  # the default list starts with the patches waiting for refinement
        assert page.inner_text("#position") == f"{now.index(name) + 1} / {len(patches)}"
        assert "1 waiting" in page.inner_text("#patch-stats")
        page.click("#prev" if now.index(name) else "#next")
        page.wait_for_function("() => document.querySelector('#refine').dataset.patch")
        assert page.get_attribute("#refine", "data-patch") in set(now) - {name} or now == [name]
        page.click("#next" if now.index(name) else "#prev")
        wait_patch(page, name)
        chip = page.locator(f"#waiting button[data-mask='{mask['mask_id']}']")
        chip.click()
        page.wait_for_selector(f"#row-body tr[data-mask='{mask['mask_id']}']")
        assert page.locator(f"#class-marks g.cross[data-mask='{mask['mask_id']}']").count() == 1
        assert chip.count() == 0  # it has its row now
        page.keyboard.press(str(TREE))
        page.click("#save")
        page.wait_for_function("() => document.querySelector('#save-status').textContent.includes('Saved: 1 mask')")
        assert site.mask(name, mask["mask_id"])["class_id"] == TREE
        assert site.api("/patches?state=refine")["total"] == len(waiting)
        page.select_option("#filter", "refine")
        if waiting:
            page.wait_for_function("n => document.querySelector('#position').textContent.endsWith(' / ' + n)",
                                   arg=len(waiting))
        else:
            page.wait_for_function("() => document.querySelector('#position').textContent === '0 / 0'")
            assert "No patch waits for refinement" in page.inner_text("#patch-stats")
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_waiting_masks_are_crossed_inside_their_box_and_rows_start_unset(browser: Any, refine_site: Refine) -> None:
    """Masks added from "Waiting for refinement" get their cross inside their box (the API's
    bbox is [x0, y0, x1, y1]); "Add all" rows start with no class and unticked: Save saves nothing."""
    site = refine_site
    patches = site.patches()
    target = next(p for p in patches if p["name"] not in site.used and p["decided"] == 0)
    name = target["name"]
    site.used.add(name)
    detail = site.detail(name)  # its masks are in the patch's neighbourhood
    masks = [m for m in detail["mask_list"] if m["class_id"] is None and m["group"]]
    # the boxes farthest from square first: swapped axes would put their crosses outside
    masks.sort(key=lambda m: -abs((m["bbox"][2] - m["bbox"][0]) - (m["bbox"][3] - m["bbox"][1])))
    chosen = masks[:3]
    for mask in chosen:
        hood, group = detail["neighbourhood"], mask["group"]
        version = next(g for g in site.api(f"/neighbourhoods/{hood}/groups") if g["key"] == group)["version"]
        site.api(f"/neighbourhoods/{hood}/groups/{group}/refine", "alice", "POST",
                 {"masks": [mask["id"]], "version": version})
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}&filter=all")
    try:
        wait_patch(page, name)
        page.click("#add-waiting")
        for mask in chosen:
            cross = page.locator(f"#class-marks g.cross[data-mask='{mask['mask_id']}']")
            x, y = int(cross.get_attribute("data-x")), int(cross.get_attribute("data-y"))
            x0, y0, x1, y1 = mask["bbox"]
            assert x0 <= x < x1 and y0 <= y < y1, (mask["bbox"], x, y)
            row = f"#row-body tr[data-mask='{mask['mask_id']}']"
            assert page.get_attribute(row, "data-class") in ("", None)  # no model guess pre-filled
            assert not page.is_checked(f"{row} input.tick")
        assert page.is_disabled("#save")  # nothing chosen: nothing to save
        assert all(site.mask(name, m["mask_id"])["class_id"] is None for m in chosen)
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_zoom_and_pan_keep_clicks_on_the_right_pixel(browser: Any, refine_site: Refine) -> None:
    site = refine_site
    name = site.fresh_patch()["name"]
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}&filter=all")
    try:
        wait_patch(page, name)
        width = int(page.get_attribute("#class-stage", "data-width"))
        height = int(page.get_attribute("#class-stage", "data-height"))
        page.locator("#class-stage").focus()
        page.keyboard.press("=")
        page.keyboard.press("=")
        assert float(page.get_attribute("#class-stage", "data-zoom")) == 2.25
        assert page.inner_text("#zoom-level").startswith("2.")
        box = page.locator("#class-stage").bounding_box()
        # zoomed around the centre: the centre of the view is still the patch's centre
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        cross = page.locator("#class-marks g.cross").first
        cross.wait_for()
        x, y = int(cross.get_attribute("data-x")), int(cross.get_attribute("data-y"))
        assert abs(x - width / 2) <= 2 and abs(y - height / 2) <= 2, (x, y)
        # a drag pans (and picks nothing); the same screen point is then another pixel
        rows = page.locator("#row-body tr").count()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 + 40, steps=5)
        page.mouse.up()
        assert page.locator("#row-body tr").count() == rows
        assert page.locator("#class-stage .zoom-layer").evaluate("n => n.style.transform").startswith("translate(")
        page.keyboard.press("z")
        assert page.get_attribute("#class-stage", "data-zoom") == "1.00"
        help_text = page.evaluate("() => { document.querySelector('#help').click(); "
                                  "return document.querySelector('#shortcuts').innerText; }")
        assert "Zoom in" in help_text and "Fit the whole patch" in help_text
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_keyboard_cursor_picks_masks_without_a_mouse(browser: Any, refine_site: Refine) -> None:
    """`m` shows a cursor on both images; the arrows move it (Shift: four steps); Enter picks the
    mask under it through mask-at (a row and a cross where the cursor is); Escape hides it and the
    arrows page again. The help overlay lists the cursor's keys."""
    site = refine_site
    target = site.fresh_patch()
    name = target["name"]
    raster = site.raster(name)
    open_ids = {m["mask_id"] for m in site.detail(name)["mask_list"] if m["class_id"] is None}
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={name}")
    try:
        wait_patch(page, name)
        assert_in_help(page, ("pick masks without a mouse", "pick the mask under it", "Hide the cursor"))
        page.keyboard.press("Escape")
        page.wait_for_selector("#shortcuts", state="hidden")

        page.keyboard.press("m")
        page.wait_for_selector("#image-marks .kcursor")
        assert page.locator("#class-marks .kcursor").count() == 1, "the cursor shows on both views"
        height, width = raster.shape
        assert page.get_attribute("#image-stage", "data-cursor") == f"{width // 2},{height // 2}"
        step = max(1, max(width, height) // 64)  # as cursor.ts: a 64th of the patch at 1x

        # a point on the cursor's lattice inside an open mask of this patch (mask-at says so)
        def owner(x: int, y: int) -> int | None:
            if not (0 <= x < width and 0 <= y < height) or int(raster[y, x]) not in open_ids:
                return None
            at = site.api(f"/patches/{name}/mask-at?x={x}&y={y}")
            return int(at["mask"]["mask_id"]) if at["found"] == "mask" else None

        spots = sorted(((abs(i) + abs(j), i, j) for i in range(-12, 13) for j in range(-12, 13)), key=lambda t: t[0])
        goal = next(((i, j, m) for d, i, j in spots if d >= 5
                     and (m := owner(width // 2 + i * step, height // 2 + j * step)) is not None), None)
        assert goal is not None, "no open mask on the cursor's lattice near the centre"
        i, j, mask_id = goal
        for count, key in ((i, "ArrowRight" if i > 0 else "ArrowLeft"), (j, "ArrowDown" if j > 0 else "ArrowUp")):
            far, near = divmod(abs(count), 4)
            for _ in range(far):
                page.keyboard.press(f"Shift+{key}")
            for _ in range(near):
                page.keyboard.press(key)
        x, y = width // 2 + i * step, height // 2 + j * step
        assert page.get_attribute("#image-stage", "data-cursor") == f"{x},{y}"
        assert page.get_attribute("#image-marks .kcursor", "data-x") == str(x)
        before = site.patches()[target["index"]]["name"]
        page.keyboard.press("Enter")
        page.wait_for_selector(f"#row-body tr[data-mask='{mask_id}']", timeout=15_000)
        cross = page.locator(f"#image-marks .cross[data-mask='{mask_id}']")
        assert (cross.get_attribute("data-x"), cross.get_attribute("data-y")) == (str(x), str(y))
        assert page.get_attribute("#refine", "data-patch") == before, "the arrows moved the cursor, not the pager"

        # Escape hides the cursor; the arrows are the pager's again
        page.keyboard.press("Escape")
        page.wait_for_selector("#image-marks .kcursor", state="detached")
        assert page.get_attribute("#image-stage", "data-cursor") is None
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_jump_to_a_patch_by_name_and_by_the_locator(browser: Any, refine_site: Refine) -> None:
    """The pager's jump-to: typing suggests patch names (the server's search), Enter opens the
    patch; a click on the locator opens the patch under it (a neighbour's centre)."""
    site = refine_site
    patches = site.patches()
    first, target = patches[0], patches[-1]
    context, page, viewer = open_refine(browser, site, "alice", f"?project={PROJECT}&patch={first['name']}&filter=all")
    try:
        wait_patch(page, first["name"])
        page.keyboard.press("g")  # the jump-to field, from the keyboard
        page.keyboard.type(target["name"])
        page.wait_for_function("t => [...document.querySelectorAll('#patch-names option')].some(o => o.value === t)",
                               arg=target["name"])
        page.press("#patch-q", "Enter")
        wait_patch(page, target["name"])
        assert page.inner_text("#position") == f"{len(patches)} / {len(patches)}"

        # the locator: a click on the patch nearest the open one opens it
        page.wait_for_selector("#locator-box[data-state='ready'] canvas", timeout=30_000)
        bounds = site.detail(target["name"])["bounds"]
        page.wait_for_function("b => document.querySelector('#locator-box').dataset.patch === b",
                               arg=",".join(str(v) for v in bounds), timeout=15_000)
        near = next(p for p in patches if (p["row"], p["col"]) in
                    {(target["row"], target["col"] - 1), (target["row"] - 1, target["col"])})
        w, s, e, n = site.detail(near["name"])["bounds"]
        x, y = page.evaluate("c => { const p = window.mcaeLocator.project(c); return [p.x, p.y]; }",
                             [(w + e) / 2, (s + n) / 2])
        box = page.locator("#locator").bounding_box()
        assert 0 < x < box["width"] and 0 < y < box["height"], (x, y, box)
        page.mouse.click(box["x"] + x, box["y"] + y)
        wait_patch(page, near["name"])
        assert page.get_attribute("#refine", "data-patch") == near["name"]
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()
