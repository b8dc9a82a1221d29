"""/annotate/ for an expert's long sessions (issue 18), in a browser: a class key and `r` pressed
while a save is in flight are both applied, in order (never dropped); `u` takes the send to
refinement back; a reviewer's rejection reaches its author on the group; a thumbnail opens large.

The server and helpers are test_web_annotate's (its module fixture, a server of its own here)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from test_web_annotate import (  # noqa: F401  (annotation_site is a fixture)
    BUILDING,
    Annotation,
    annotation_site,
    open_tool,
    selected,
    unexpected,
    wait_drawn,
    wait_saved,
)
from web_fixtures import VIEWPORTS, Viewer


def post(site: Annotation, path: str, user: str, body: Any) -> Any:
    assert site.tokens is not None
    request = urllib.request.Request(site.url(path), data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {site.tokens[user]}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_keys_during_a_save_are_queued_and_rest_to_refine_is_undone(browser: Any,
                                                                    annotation_site: Annotation) -> None:
    site = annotation_site
    group = site.fresh_group(min_size=6)
    context, page, viewer = open_tool(browser, site, "alice", site.group_url(group))
    try:
        wait_drawn(page, group)
        cards = page.locator("#grid .card")
        ids = [int(cards.nth(i).get_attribute("data-id")) for i in range(2)]
        cards.nth(0).click()
        cards.nth(1).click(modifiers=["Shift"])
        assert selected(page) == 2
        # 8 then r at once: r arrives while the save of 8 is in flight, and must not be dropped
        page.keyboard.press(str(BUILDING))
        page.keyboard.press("r")
        wait_saved(page, "Sent to refinement")
        page.wait_for_function("() => document.body.dataset.queuedWrites === '0'")
        masks = site.masks(group)
        assert all(masks[i]["class_id"] == BUILDING for i in ids)
        rest = [m for i, m in masks.items() if i not in ids]
        assert rest and all(m["refine"] and m["class_id"] is None for m in rest)
        # u takes the send back (before the older decision)
        page.keyboard.press("u")
        wait_saved(page, "Undone: the send to refinement")
        masks = site.masks(group)
        assert all(not masks[m["id"]]["refine"] for m in rest)
        assert all(masks[i]["class_id"] == BUILDING for i in ids)  # the decision stays
        board = site.api(site.p("/dashboard"))
        assert board["actions"] >= 1
        # the `?` list documents the keys, and opens at its top
        page.keyboard.press("?")
        page.wait_for_selector("#shortcuts[open]")
        text = page.inner_text("#shortcuts")
        assert "takes it back" in text and "Enlarge the focused thumbnail" in text
        assert page.evaluate("document.querySelector('#shortcuts').scrollTop") == 0
        page.keyboard.press("Escape")
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_a_rejection_reaches_its_author_and_a_thumbnail_opens_large(browser: Any,
                                                                    annotation_site: Annotation) -> None:
    site = annotation_site
    group = site.fresh_group(min_size=3)
    hood, key = group["neighbourhood"], group["key"]
    out = post(site, site.p(f"/neighbourhoods/{hood}/groups/{key}/decisions"), "alice",
               {"class": BUILDING, "version": group["version"]})
    decision = out["decisions"][0]["id"]
    post(site, site.p(f"/decisions/{decision}/review"), "rita",
         {"verdict": "reject", "comment": "a ploughed field, not roofs"})
    context, page, viewer = open_tool(browser, site, "alice", site.group_url(group))
    try:
        wait_drawn(page, group)
        page.wait_for_selector("#banner:not([hidden])")
        banner = page.inner_text("#banner")
        assert "Rejected by rita" in banner and "a ploughed field, not roofs" in banner, banner
        history = page.inner_text("#history")
        assert "rejected" in history and "a ploughed field, not roofs" in history, history
        # the area beside the counts
        assert " ha" in page.inner_text("#group-area")
        # enlarge: `v` on the focused card, then the magnifier of another card
        page.locator("#grid .card").nth(0).focus()
        page.keyboard.press("v")
        page.wait_for_selector("#enlarged[open][data-drawn]")
        width = page.evaluate("document.querySelector('#enlarged img').naturalWidth")
        assert width >= 256, width
        page.keyboard.press("Escape")
        page.wait_for_selector("#enlarged:not([open])", state="attached")
        second = page.locator("#grid .card").nth(1)
        second.hover()
        second.locator(".zoom").click()
        page.wait_for_selector(f"#enlarged[open][data-drawn='{second.get_attribute('data-id')}']")
        assert selected(page) == 0  # the magnifier does not select
        page.keyboard.press("Escape")
        # the groups by area, largest first; then only the larger ones
        pills = "#groups [data-group]"
        page.select_option("#group-sort", "-area")
        page.wait_for_function("""() => { const a = [...document.querySelectorAll('#groups [data-group]')]
            .map(b => Number(b.dataset.areaHa)); return a.every((v, i) => i === 0 || a[i - 1] >= v); }""")
        areas = [float(v) for v in page.eval_on_selector_all(pills, "bs => bs.map(b => b.dataset.areaHa)")]
        assert areas == sorted(areas, reverse=True) and len(areas) > 1
        page.fill("#group-min-ha", str(areas[0]))
        page.dispatch_event("#group-min-ha", "change")
        page.wait_for_function("n => document.querySelectorAll('#groups [data-group]').length < n", arg=len(areas))
        kept = page.eval_on_selector_all(pills, "bs => bs.map(b => b.dataset.areaHa)")
        assert all(float(v) >= areas[0] for v in kept)
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_an_admin_adds_fine_classes_in_the_dashboard(browser: Any, annotation_site: Annotation) -> None:
    site = annotation_site
    context = browser.new_context(**VIEWPORTS["desktop"])
    page = context.new_page()
    viewer = Viewer(page, "desktop", site)
    page.goto(site.url("/dashboard/?project=demo"))
    page.fill("#token", site.tokens["admin"])  # type: ignore[index]
    page.click("#signin-submit")
    try:
        page.wait_for_selector("#fine-classes textarea[data-class='Water']")
        page.fill("#fine-classes textarea[data-class='Water']", "Pond\nRiver, Canal")
        page.click("#fine-save")
        page.wait_for_function("() => document.querySelector('#fine-status').textContent.startsWith('Saved')")
        assert site.api(site.p())["fine_classes"]["Water"] == ["Pond", "River", "Canal"]
        # the progress figures carry the area
        assert "ha" in page.inner_text("#cards")
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()
