"""/review/ and /dashboard/ in a browser.

/review/: a reviewer sees an annotator's decision (author, class, masks, thumbnails; every mask
with its class before -> after when expanded), accepts one with `a` and rejects another with a
comment (`r`, typed, Enter); the rejected one is back in its author's queue with the comment.
The double-labelled groups' agreement is shown, and a disagreement is settled by choosing the
final class (a correction of the mask). /dashboard/: the figures match GET /dashboard; Retrain
and rebuild shows its preview, runs as a job with a progress bar to done and names the new
layer version; the viewer then asks for tiles of that version; the accuracy plot has one point
per training. Both pages: the `?` overlay, no console errors, screenshots at 1280 x 800.

The server is this module's own: the annotation test project on SQLite with one user per role,
the built web/dist, in a uvicorn thread; `browser` comes from tests/conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web_fixtures import ARTIFACTS, CHROMIUM, PROJECT, ToolSite, Viewer, sign_in, tool_server

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium; `make test` does it)", allow_module_level=True)

CITY = "test-city"
TREE, WATER, BUILDING = 5, 6, 8


@dataclass
class Tools(ToolSite):
    def decide(self, group: dict[str, Any], user: str, cls: str, **extra: Any) -> dict[str, Any]:
        body = {"class": cls, **({} if extra.get("second_pass") else {"version": group["version"]}), **extra}
        out = self.call("POST", self.p(f"/neighbourhoods/{group['neighbourhood']}/groups/{group['key']}/decisions"),
                        user, body)
        return out["decisions"][0]

    def wait_job(self, link: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.api(link, "alice")
            if record["state"] in ("done", "failed"):
                return record
            time.sleep(0.2)
        raise AssertionError(f"job {link} did not finish")


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tools]:
    root = tmp_path_factory.mktemp("webreview")
    with tool_server(root) as (base, tokens, _):
        site = Tools(base, root, tokens=tokens)
        # the rebuild republishes the map as the city's mcae layer
        version = site.api(site.p())["version"]
        site.call("PATCH", site.p(), "admin", {"version": version, "city": CITY, "publish_policy": "any"})
        yield site


def open_tool(browser: Any, site: Tools, user: str, path: str) -> tuple[Any, Any, Viewer]:
    """A new 1280 x 800 context signed in as `user` (the token typed into the form) at `path`."""
    return sign_in(browser, site, user, path)


def thumbs_drawn(page: Any, selector: str) -> None:
    page.wait_for_function("""s => {
        const imgs = [...document.querySelectorAll(s)];
        return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
    }""", arg=selector, timeout=30_000)


def help_overlay(page: Any, expect: str) -> None:
    page.locator("main").first.click(position={"x": 2, "y": 2})  # focus out of any field
    page.keyboard.press("?")
    page.wait_for_selector("#shortcuts[open]")
    assert expect in page.inner_text("#shortcuts")
    page.keyboard.press("Escape")
    page.wait_for_selector("#shortcuts", state="hidden")


# -- /review/ -------------------------------------------------------------------------------

def test_reviewer_accepts_rejects_and_settles(browser: Any, tools: Tools) -> None:
    first = tools.fresh_group()
    second = tools.fresh_group()
    rejected = tools.decide(first, "alice", "Tree")
    accepted = tools.decide(second, "bob", "Water")
    # a double group: alice first, bob second, differing on one mask
    from sqlalchemy import update

    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.models import Group

    double = tools.fresh_group()
    db = Database(f"sqlite:///{tools.root / 'annotation.db'}")
    with db.session() as session:
        session.execute(update(Group).where(Group.id == double["id"]).values(double=True))
    db.dispose()
    double = tools.api(tools.p(f"/neighbourhoods/{double['neighbourhood']}/groups/{double['key']}"))
    tools.decide(double, "alice", "Tree")
    group_path = f"/neighbourhoods/{double['neighbourhood']}/groups/{double['key']}"
    masks = tools.api(tools.p(f"{group_path}/masks?per_page=500"))["items"]
    tools.decide(double, "bob", "Building", second_pass=True, masks=[masks[0]["id"]])
    tools.decide(double, "bob", "Tree", second_pass=True, masks=[m["id"] for m in masks[1:]])

    context, page, viewer = open_tool(browser, tools, "rita", f"/review/?project={PROJECT}")
    try:
        page.wait_for_selector("body.review-ready")
        row = page.locator(f"li.decision[data-id='{rejected['id']}']")
        row.wait_for()
        assert row.get_attribute("data-author") == "alice"
        text = row.inner_text()
        assert "Tree" in text and f"group {first['key']} of {first['neighbourhood']}" in text
        assert row.locator(".masks-count").get_attribute("data-masks") == str(rejected["masks"])
        assert page.locator(f"li.decision[data-id='{accepted['id']}']").get_attribute("data-author") == "bob"
        # a few thumbnails per row, every one drawn
        thumbs_drawn(page, f"li.decision[data-id='{rejected['id']}'] .thumbs img")
        assert 1 <= row.locator(".thumbs img").count() <= min(4, rejected["masks"])
        # the reviewer's own decisions are left out by default; only pending ones are listed
        listed = tools.api(tools.p("/decisions?exclude_author=rita&review=pending&state=active&per_page=20"), "rita")
        assert page.locator("li.decision").count() == len(listed["items"])
        assert page.inner_text("#list-summary").endswith(f"of {listed['total']}")

        # expanded: every mask of the decision, undecided -> Tree
        row.locator("button.expand").click()
        cards = row.locator(".mask-card")
        cards.first.wait_for()
        assert cards.count() == rejected["masks"]
        assert row.locator(".mask-card .change [data-class='5']").count() == rejected["masks"]
        thumbs_drawn(page, f"li.decision[data-id='{rejected['id']}'] .mask-card img")

        # filter by author
        page.fill("#f-author", "bob")
        page.locator("#f-author").dispatch_event("change")
        page.wait_for_function("() => document.querySelectorAll('li.decision').length > 0 && [...document"
                               ".querySelectorAll('li.decision')].every(r => r.dataset.author === 'bob')")
        assert "author=bob" in page.url
        page.fill("#f-author", "")
        page.locator("#f-author").dispatch_event("change")
        page.wait_for_selector("li.decision[data-author='alice']")
        # by class, and by time
        page.select_option("#f-class", str(WATER))
        page.wait_for_function(f"() => [...document.querySelectorAll('li.decision')].map(r => r.dataset.id).join() "
                               f"=== '{accepted['id']}'")
        page.select_option("#f-class", "")
        page.fill("#f-since", "2099-01-01T00:00")
        page.locator("#f-since").dispatch_event("change")
        page.wait_for_selector("#decisions li.empty")
        # the change event may start one more load of the same filters: wait for it to settle
        page.wait_for_function("() => document.querySelector('#list-summary').textContent === '0 decisions'")
        assert page.locator("#decisions li.empty").count() == 1
        page.fill("#f-since", "")
        page.locator("#f-since").dispatch_event("change")
        page.wait_for_selector("li.decision[data-author='alice']")

        # accept bob's decision with `a` (the row made current by a click), reject alice's with a comment
        page.click(f"li.decision[data-id='{accepted['id']}'] .row-who")
        # the key goes to the row the click made current (a reload of the same list keeps it current)
        page.wait_for_selector(f"li.decision.current[data-id='{accepted['id']}']")
        page.keyboard.press("a")
        page.wait_for_selector(f"li.decision[data-id='{accepted['id']}'] .badge[data-review='accepted']")
        assert tools.api(tools.p(f"/decisions/{accepted['id']}"), "rita")["review"] == "accepted"
        page.click(f"li.decision[data-id='{rejected['id']}'] .row-who")
        assert page.get_attribute(f"li.decision[data-id='{rejected['id']}']", "aria-selected") == "true"
        page.keyboard.press("r")
        assert page.evaluate("document.activeElement.id") == "comment"
        comment = "these are shrubs on bare soil, not trees"
        page.keyboard.type(comment)
        page.keyboard.press("Enter")
        page.wait_for_selector(f"li.decision[data-id='{rejected['id']}'] .badge[data-review='rejected']")
        assert comment in page.inner_text(f"li.decision[data-id='{rejected['id']}'] .review-comment")
        assert "Rejected" in page.inner_text("#verdict-status")
        # j / k move the current row
        index = int(page.get_attribute("li.decision.current", "data-index") or 0)
        page.keyboard.press("k")
        page.keyboard.press("j")
        assert int(page.get_attribute("li.decision.current", "data-index") or -1) == index

        # the author gets it back with the comment
        queue = tools.api(tools.p("/queue"), "alice")["items"]
        assert [d["id"] for d in queue] == [rejected["id"]]
        assert queue[0]["review_comment"] == comment and queue[0]["reviewer"] == "rita"

        # agreement of the double group, and its disagreement settled as Building
        report = tools.api(tools.p("/agreement"), "rita")
        assert page.inner_text("#kappa") == (f"{report['kappa']:.3f}" if report["kappa"] is not None else "—")
        assert page.inner_text("#agreeing").startswith(f"{report['agreeing']} of {report['compared_masks']}")
        assert page.inner_text("#annotators") == "alice, bob"
        [dis] = report["disagreements"]
        item = page.locator(f"li.disagreement[data-mask='{dis['mask']}']")
        assert "alice" in item.inner_text() and "bob" in item.inner_text()
        assert item.locator(".dis-side.first [data-class='5']").count() == 1
        assert item.locator(".dis-side.second [data-class='8']").count() == 1
        thumbs_drawn(page, f"li.disagreement[data-mask='{dis['mask']}'] img")
        help_overlay(page, "Reject")
        page.mouse.move(0, 0)
        page.screenshot(path=str(ARTIFACTS / "review.png"))
        item.locator(f"button.settle[data-class='{BUILDING}']").click()
        page.wait_for_selector(f"li.disagreement[data-mask='{dis['mask']}'].settled")
        mask = tools.api(tools.p(f"/patches/{dis['patch']}/masks/{dis['mask_id']}"), "rita")
        assert mask["class_id"] == BUILDING and mask["via"] == "mask"
        # reloaded, it is no longer an open disagreement (gone, or shown as settled)
        loads = page.get_attribute("#agreement", "data-loads")
        page.click("#agreement-reload")
        page.wait_for_function("n => document.querySelector('#agreement').dataset.loads !== n", arg=loads)
        page.wait_for_function("m => { const n = document.querySelector(`li.disagreement[data-mask='${m}']`);"
                               " return !n || n.classList.contains('settled'); }", arg=dis["mask"])

        assert not viewer.errors, viewer.errors
    finally:
        context.close()


# -- /dashboard/ ----------------------------------------------------------------------------

def figures(page: Any) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-value]')]
        .map(n => [n.dataset.value, n.textContent]))""")


def test_dashboard_counts_rebuild_and_viewer(browser: Any, tools: Tools) -> None:
    for cls in ("Building", "Tree", "Water"):
        tools.decide(tools.fresh_group(), "alice", cls)
    tools.decide(tools.fresh_group(), "bob", "Road")
    context, page, viewer = open_tool(browser, tools, "rita", f"/dashboard/?project={PROJECT}")  # publishing: reviewers
    tiles: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if "/tiles/WebMercatorQuad/" in r.url else None)
    try:
        page.wait_for_selector("body.dashboard-ready")
        board = tools.api(tools.p("/dashboard"), "alice")
        shown = figures(page)
        assert shown["decided"] == f"{board['decided']} of {board['masks']}"
        assert shown["actions"] == str(board["actions"])
        # one decimal as the page rounds it (JavaScript's toFixed and Python's format may round a
        # half differently: 22.25 is 22.3 in one and 22.2 in the other), so within half a unit
        assert abs(float(shown["masks-per-action"]) - board["masks_per_action"]) <= 0.05 + 1e-9
        if board["seconds_per_bulk_action"] is None:
            assert shown["seconds"] == "—"
        else:
            assert abs(float(shown["seconds"]) - board["seconds_per_bulk_action"]) <= 0.05 + 1e-9
        assert shown["patches"] == f"{board['checked_patches']} of {board['patches']}"
        reviews = board["reviews"]
        assert shown["reviews"] == f"{reviews.get('accepted', 0) + reviews.get('rejected', 0)} reviewed"
        share = round(100 * board["decided"] / board["masks"])
        assert int(page.get_attribute("#decided-bar", "aria-valuenow") or -1) == share
        for row in board["per_annotator"]:
            for key in ("decisions", "group_decisions", "mask_decisions", "masks", "second_pass", "accepted",
                        "rejected", "undone"):
                cell = page.inner_text(f"#annotators tr[data-user='{row['user']}'] td[data-key='{key}']")
                assert cell == str(row[key]), (row["user"], key)
        assert page.locator("#annotator-chart .annotator-bars").count() == len(board["per_annotator"])
        assert board["trainings"] == [] and page.locator("#accuracy-empty").count() == 1

        # the preview, then the job to done with its progress bar
        preview = tools.api(tools.p("/rebuild/preview"), "alice")
        assert preview["masks_changed"] > 0
        assert page.inner_text("#rebuild-panel #preview-masks") == str(preview["masks_changed"])
        page.click("#rebuild")
        page.wait_for_selector("#rebuild-dialog[open] #preview-masks")
        assert page.inner_text("#rebuild-dialog #preview-masks") == str(preview["masks_changed"])
        for name, count in preview["by_class"].items():
            assert page.inner_text(f"#rebuild-dialog tr[data-class='{name}'] td") == str(count)
        page.click("#rebuild-start")
        page.wait_for_selector("#rebuild-progress:not([hidden])")
        seen = set()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not page.locator("#layer-version").count():
            seen.add(page.get_attribute("#rebuild-progress", "aria-valuenow"))
            page.wait_for_timeout(100)
        page.wait_for_selector("#layer-version", timeout=5_000)
        assert page.get_attribute("#rebuild-progress", "data-state") == "done"
        assert page.get_attribute("#rebuild-progress", "aria-valuenow") == "100"
        assert len(seen) >= 2, f"the bar moved: {seen}"
        assert "Done" in page.inner_text("#rebuild-message")
        layer = next(x for x in tools.api(f"/api/cities/{CITY}")["layers"] if x["id"] == "mcae")
        version = page.inner_text("#layer-version")
        assert version == layer["version"]
        page.wait_for_selector("#accuracy-plot g.training")
        trainings = tools.api(tools.p("/dashboard"), "alice")["trainings"]
        assert len(trainings) == 1 and trainings[0]["map_version"] == version
        assert page.locator("#accuracy-plot g.training").count() == 1
        assert page.inner_text("#rebuild-panel #preview-masks") == "0"

        # a second training (through the API): two points after an update
        patch = tools.api(tools.p("/patches"), "alice")["items"][12]
        detail = tools.api(tools.p(f"/patches/{patch['name']}"), "alice")
        rows = [{"mask": m["mask_id"], "class": "Water", "version": m["version"]} for m in detail["mask_list"][:5]]
        tools.call("POST", tools.p(f"/patches/{patch['name']}/corrections"), "alice", {"rows": rows})
        job = tools.call("POST", tools.p("/rebuild"), "rita")
        assert tools.wait_job(job["links"]["self"])["state"] == "done"
        page.keyboard.press("u")
        page.wait_for_function("() => document.querySelectorAll('#accuracy-plot g.training').length === 2")
        trainings = tools.api(tools.p("/dashboard"), "alice")["trainings"]
        scored = [t for t in trainings if t["holdout_accuracy"]]
        series = page.evaluate("() => [...new Set([...document.querySelectorAll("
                               "'#accuracy-plot circle.point[data-series]')].map(c => c.dataset.series))]")
        for kind in series:
            count = page.locator(f"#accuracy-plot circle.point[data-series='{kind}']").count()
            assert count == sum(1 for t in trainings if kind in t["holdout_accuracy"])
        assert page.locator("#accuracy-plot circle.point").count() == sum(
            len(t["holdout_accuracy"]) for t in trainings)  # an unscored training draws no point
        assert page.locator("#accuracy-plot g.training.unscored").count() == sum(
            1 for t in trainings if not t["holdout_accuracy"])
        assert not scored or series
        # the reliability diagram of the latest training scored on held-out masks: one bar per bin
        # that held masks, or a note saying there is none yet
        calibrated = [t["holdout"] for t in trainings if (t["holdout"].get("reliability") or {}).get("n")]
        if calibrated:
            bins = calibrated[-1]["reliability"]
            drawn = sum(1 for c, a in zip(bins["count"], bins["accuracy"], strict=True) if c and a is not None)
            assert page.locator("#reliability-plot rect.bin").count() == drawn > 0
            assert f"{bins['n']} held-out masks" in page.inner_text("#reliability-caption")
        else:
            assert page.locator("#reliability-empty").count() == 1

        help_overlay(page, "Retrain and rebuild")
        page.mouse.move(0, 0)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=False)

        # the viewer link: tiles of the newest version of the city's mcae layer
        newest = next(x for x in tools.api(f"/api/cities/{CITY}")["layers"] if x["id"] == "mcae")["version"]
        assert newest != version
        href = page.get_attribute("#viewer-link", "href")
        assert href == f"/#city={CITY}"
        page.goto(tools.url(f"/#city={CITY}"))
        page.wait_for_function("performance.getEntriesByName('mcae-first-tiles').length > 0", timeout=60_000)
        mcae = [u for u in tiles if f"/cities/{CITY}/layers/mcae/" in u]
        assert mcae and all(u.endswith(f"?v={newest}") for u in mcae), mcae[:3]
        assert not viewer.errors, viewer.errors
    finally:
        context.close()


def test_dashboard_previews_for_annotators_and_rollback_for_admins(browser: Any, tools: Tools) -> None:
    """After the rebuilds above: an annotator builds an unpublished preview; an admin rolls the
    layer back to its first version, which comes back as a new one."""
    before = next(x for x in tools.api(f"/api/cities/{CITY}")["layers"] if x["id"] == "mcae")["version"]
    tools.decide(tools.fresh_group(), "alice", "Road")  # a state no job has built
    context, page, viewer = open_tool(browser, tools, "alice", f"/dashboard/?project={PROJECT}")
    try:
        page.wait_for_selector("body.dashboard-ready")
        assert page.inner_text("#rebuild") == "Build a preview map"
        assert page.locator("#versions button.rollback").count() == 0  # admins only
        page.click("#rebuild")
        page.wait_for_selector("#rebuild-dialog[open]")
        page.click("#rebuild-start")
        page.wait_for_selector("#preview-download", timeout=120_000)
        assert next(x for x in tools.api(f"/api/cities/{CITY}")["layers"] if x["id"] == "mcae")["version"] == before
        assert not viewer.errors, viewer.errors
    finally:
        context.close()
    context, page, viewer = open_tool(browser, tools, "admin", f"/dashboard/?project={PROJECT}")
    try:
        page.wait_for_selector("body.dashboard-ready")
        page.wait_for_selector("#versions tr[data-number='2'][data-current='true']")
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#versions button.rollback[data-number='1']")
        page.wait_for_selector("#versions tr[data-number='3'][data-current='true']", timeout=60_000)
        listing = tools.api(f"/api/cities/{CITY}/layers/mcae/versions", "admin")
        assert listing["versions"][0]["note"] == "rollback to version 1" and listing["current"] != before
        assert "published again" in page.inner_text("#versions-message")
        assert not viewer.errors, viewer.errors
    finally:
        context.close()
