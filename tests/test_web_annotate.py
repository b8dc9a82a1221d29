"""/annotate/ in a browser: sign in with a token, pick a neighbourhood and a group, select masks
(click, shift-click, a box drawn over the grid, the keyboard), label them, see every decision
after a reload, undo; two annotators on one group (the later save is a 409 naming the other,
the selection is kept, both decisions end in the group's history); the keyboard overlay;
screenshots at 1280 x 800 into artifacts/web/.

The server is this module's own: the annotation test project on SQLite with one user per role,
the built web/dist, in a uvicorn thread. The fixtures `browser` comes from tests/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from web_fixtures import ARTIFACTS, CHROMIUM, PROJECT, ToolSite, Viewer, sign_in, tool_server

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium; `make test` does it)", allow_module_level=True)

TREE, WATER, BUILDING = 5, 6, 8
TIMINGS: dict[str, float] = {}


@dataclass
class Annotation(ToolSite):
    def fresh_group(self, min_size: int = 6) -> dict[str, Any]:
        return super().fresh_group(min_size)

    def masks(self, group: dict[str, Any]) -> dict[int, dict[str, Any]]:
        found = self.api(self.p(f"/neighbourhoods/{group['neighbourhood']}/groups/{group['key']}/masks?per_page=500"))
        return {m["id"]: m for m in found["items"]}

    def decisions(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        return self.api(self.p(f"/neighbourhoods/{group['neighbourhood']}/groups/{group['key']}/decisions"))["items"]

    def group_url(self, group: dict[str, Any]) -> str:
        return self.url(f"/annotate/?project={PROJECT}&n={group['neighbourhood']}&g={group['key']}")


@pytest.fixture(scope="module")
def annotation_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Annotation]:
    root = tmp_path_factory.mktemp("webannotate")
    with tool_server(root) as (base, tokens, _):
        yield Annotation(base, root, tokens=tokens, used=set())
        if TIMINGS:
            (ARTIFACTS / "annotate-thumbnails.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
            print("\n[web] /annotate/ thumbnails drawn: " + ", ".join(f"{k} {v:.0f} ms" for k, v in TIMINGS.items()))


# -- helpers -----------------------------------------------------------------------------

def open_tool(browser: Any, site: Annotation, user: str, url: str | None = None,
              viewport: str = "desktop") -> tuple[Any, Any, Viewer]:
    """A new context signed in as `user` (the token typed into the form) on /annotate/."""
    context, page, viewer = sign_in(browser, site, user, (url or site.url("/annotate/")).removeprefix(site.base),
                                    viewport)
    wait_drawn(page)
    return context, page, viewer


def opening(page: Any) -> int:
    """The latest opening of a group (or page) the page started."""
    return int(page.evaluate("Number(document.querySelector('#annotate').dataset.opening || 0)"))


def wait_drawn(page: Any, group: dict[str, Any] | None = None, after: int = 0) -> float:
    """Wait until every thumbnail of the page is drawn (of `group`, if given; of an opening later than
    `after`); returns the page's figure (ms)."""
    want = f"{group['neighbourhood']}/{group['key']}" if group is not None else None
    handle = page.wait_for_function("""([g, after]) => {
        const grid = document.querySelector('#grid');
        const here = document.querySelector('#annotate').dataset.group;
        if ((g && here !== g) || grid.hasAttribute('aria-busy') || Number(grid.dataset.seq || 0) <= after) return false;
        return grid.dataset.thumbsMs || false;
    }""", arg=[want, after], timeout=30_000)
    return float(handle.json_value())


def wait_saved(page: Any, *what: str) -> str:
    """Wait for the save status line to say all of `what` (default: "Save: success")."""
    page.wait_for_function("ts => ts.every(t => document.querySelector('#save-status').textContent.includes(t))",
                           arg=list(what or ("Save: success",)), timeout=30_000)
    return str(page.inner_text("#save-status"))


def selected(page: Any) -> int:
    return int(page.get_attribute("#selected-count", "data-count"))


def card_classes(page: Any) -> dict[int, str]:
    """mask id -> the class id the card shows ('' when undecided)."""
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#grid .card')]
        .map(c => [c.dataset.id, c.dataset.class]))""")
    return {int(k): v for k, v in shown.items()}


def drawn_images(page: Any) -> int:
    """Cards whose thumbnail image is decoded, with a real size."""
    return int(page.evaluate("""() => [...document.querySelectorAll('#grid .card img')]
        .filter(i => i.complete && i.naturalWidth >= 32).length"""))


def decided_of(title: str) -> int:
    """The decided masks in a neighbourhood button's title ("3 groups, 12/40 masks decided ...")."""
    return int(title.split(", ", 1)[1].split("/", 1)[0])


def unexpected(errors: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return [e for e in errors if not any(a in e for a in allowed)]


# -- tests -------------------------------------------------------------------------------

def test_label_by_mouse_and_keyboard_reload_and_undo(browser: Any, annotation_site: Annotation) -> None:
    site = annotation_site
    group = site.fresh_group(min_size=8)
    context, page, viewer = open_tool(browser, site, "alice")
    try:
        token = site.tokens["alice"]  # type: ignore[index]
        assert token not in page.url
        assert page.evaluate("sessionStorage.getItem('mcae-token')") == token
        assert token not in json.dumps(page.evaluate("Object.assign({}, localStorage)"))
        assert "alice" in page.inner_text("#who")

        # pick the neighbourhood, then the group, from the rows of buttons
        page.click(f"#hoods [data-hood='{group['neighbourhood']}']")
        page.wait_for_selector(f"#groups[data-hood='{group['neighbourhood']}']")
        page.click(f"#groups[data-hood='{group['neighbourhood']}'] [data-group='{group['key']}']")
        TIMINGS["group opened, cold"] = wait_drawn(page, group, after=opening(page) - 1)
        masks = site.masks(group)
        cards = page.locator("#grid .card")
        assert cards.count() == min(group["size"], 48)
        assert drawn_images(page) == cards.count(), "every thumbnail drawn"
        line = page.inner_text("#summary")  # the group's place, confidence and class mix, in words
        assert f"group {group['index']} of {group['of']}" in line, line
        mix = group["histogram"]
        assert (max(mix, key=mix.get) if mix else "class mix unknown") in line, line
        assert page.locator("#summary .mix-swatch").count() == min(4, len(mix))
        assert group["summary"] in (page.get_attribute("#summary", "title") or ""), "the engine's line, on hover"
        timing = page.inner_text("#timing")
        assert f"{cards.count()} thumbnails in" in timing, timing

        # a box drawn over the first two cards selects them; Escape unselects
        a, b = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
        page.mouse.move(a["x"] + 20, a["y"] + 20)
        page.mouse.down()
        page.mouse.move(b["x"] + 40, b["y"] + 30, steps=6)
        page.mouse.up()
        assert selected(page) == 2
        page.keyboard.press("Escape")
        assert selected(page) == 0

        # a partial selection by clicks: click the first card, shift-click the third
        ids = [int(cards.nth(i).get_attribute("data-id")) for i in range(cards.count())]
        cards.nth(0).click()
        cards.nth(2).click(modifiers=["Shift"])
        assert selected(page) == 3
        page.click(f"#coarse [data-class='{TREE}']")
        assert "3 masks" in wait_saved(page)
        first = site.masks(group)
        assert {i for i, m in first.items() if m["class_id"] == TREE} == set(ids[:3])
        assert all(first[i]["class_id"] is None for i in ids[3:]), "the rest of the group stays open"
        assert all(card_classes(page)[i] == str(TREE) for i in ids[:3])
        assert selected(page) == 0

        # the keyboard: space toggles the focused card, arrows move; then select all + a digit
        page.locator("#grid .card").nth(3).focus()
        page.keyboard.press("Space")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Space")
        assert selected(page) == 2
        page.keyboard.press("Escape")
        page.select_option("#state", "open")
        wait_drawn(page, group, after=opening(page) - 1)
        assert page.locator("#grid .card").count() == len(ids) - 3, "only the open masks"
        page.keyboard.press("a")
        page.wait_for_function("n => document.querySelector('#selected-count').dataset.count === String(n)",
                               arg=len(ids) - 3)
        page.keyboard.press(str(WATER))
        assert f"{len(ids) - 3} masks" in wait_saved(page, "Save: success", "Water")
        after = site.masks(group)
        assert {i for i, m in after.items() if m["class_id"] == WATER} == set(masks) - set(ids[:3])
        assert {i for i, m in after.items() if m["class_id"] == TREE} == set(ids[:3])

        # a reload shows every decision on the cards and both in the history
        page.reload()
        wait_drawn(page, group)
        shown = card_classes(page)
        assert shown == {i: str(m["class_id"]) for i, m in after.items()}, "the cards show every decision"
        history = page.locator("#history .decision")
        assert history.count() == 2
        assert "Water" in history.nth(0).inner_text() and "Tree" in history.nth(1).inner_text()
        assert "✓" in page.inner_text(f"#groups [data-group='{group['key']}']"), "the group is marked done"

        # undo the last cluster decision (u): its masks go back to undecided, the others stay
        page.keyboard.press("u")
        wait_saved(page, "Undone")
        page.wait_for_function("() => document.querySelectorAll('#history .decision.undone').length === 1")
        undone = site.masks(group)
        assert all(undone[i]["class_id"] is None for i in set(masks) - set(ids[:3]))
        assert all(undone[i]["class_id"] == TREE for i in ids[:3])
        page.wait_for_function("""ids => ids.every(id => document.querySelector(`#grid .card[data-id="${id}"]`)
            .dataset.class === '')""", arg=sorted(set(masks) - set(ids[:3])))
        decisions = site.decisions(group)
        assert [d["state"] for d in decisions] == ["undone", "active"]
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_two_annotators_on_one_group(browser: Any, annotation_site: Annotation) -> None:
    site = annotation_site
    group = site.fresh_group(min_size=4)
    ctx_a, alice, errors_a = open_tool(browser, site, "alice", site.group_url(group))
    ctx_b, bob, errors_b = open_tool(browser, site, "bob", site.group_url(group))
    try:
        wait_drawn(alice, group)
        wait_drawn(bob, group)
        alice.locator("#grid .card").nth(0).click()
        bob.locator("#grid .card").nth(1).click()
        bob_mask = int(bob.locator("#grid .card").nth(1).get_attribute("data-id"))

        alice.keyboard.press(str(TREE))
        wait_saved(alice)
        bob.keyboard.press(str(BUILDING))
        status = wait_saved(bob, "conflict")
        assert "alice" in status
        banner = bob.inner_text("#banner")
        assert "alice" in banner and "kept" in banner, banner
        assert selected(bob) == 1, "bob's selection is kept"
        assert site.masks(group)[bob_mask]["class_id"] is None, "nothing of bob's was saved"

        bob.click("#conflict-reload")
        bob.wait_for_function("() => document.querySelector('#banner').hidden")
        wait_drawn(bob, group, after=opening(bob) - 1)
        assert selected(bob) == 1, "the selection survives the reload"
        bob.keyboard.press(str(BUILDING))
        wait_saved(bob)
        masks = site.masks(group)
        assert masks[bob_mask]["class_id"] == BUILDING
        assert sum(1 for m in masks.values() if m["class_id"] == TREE) == 1, "alice's decision stands"

        for page in (alice, bob):
            page.reload()
            wait_drawn(page, group)
            authors = page.eval_on_selector_all("#history .decision", "els => els.map(e => e.dataset.author)")
            assert sorted(authors) == ["alice", "bob"], authors
        assert not unexpected(errors_a.errors), errors_a.errors
        # the refused save is the one request that failed, on purpose
        assert not unexpected(errors_b.errors, ("status of 409",)), errors_b.errors
    finally:
        ctx_a.close()
        ctx_b.close()


def test_keyboard_help_and_screenshots(browser: Any, annotation_site: Annotation) -> None:
    site = annotation_site
    group = site.fresh_group(min_size=4)
    context, page, viewer = open_tool(browser, site, "alice", site.group_url(group))
    try:
        TIMINGS["group opened from a link"] = wait_drawn(page, group)
        page.locator("#grid .card").nth(0).click()
        page.locator("#grid .card").nth(1).click()
        page.screenshot(path=str(ARTIFACTS / "annotate-desktop.png"))
        page.keyboard.press("?")
        dialog = page.locator("#shortcuts")
        dialog.wait_for(state="visible")
        text = dialog.inner_text()
        for label in ("Label the selection Tree", "Label the selection Unknown", "Select all", "Unselect all",
                      "Undo", "Next group", "refinement", "Show or hide this list"):
            assert label in text, label
        page.screenshot(path=str(ARTIFACTS / "annotate-help.png"))
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")
        page.click("#help")
        dialog.wait_for(state="visible")
        page.keyboard.press("Escape")
        assert selected(page) == 2, "closing the overlay keeps the selection"

        # Next group (n) leases a group to alice and opens it
        page.keyboard.press("Escape")
        page.keyboard.press("n")
        page.wait_for_function("() => document.querySelector('#lease').textContent.includes('leased to you')")
        wait_drawn(page)
        assert "Next group" in page.inner_text("#save-status")

        # sign out forgets the token
        page.click("#signout")
        page.wait_for_selector("#token")
        assert page.evaluate("sessionStorage.getItem('mcae-token')") is None
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()

    # a tablet (1024 x 768, touch): the page works and is screenshotted too
    tablet = browser.new_context(viewport={"width": 1024, "height": 768}, has_touch=True, is_mobile=False)
    try:
        page = tablet.new_page()
        errors = Viewer(page, "tablet", site)
        page.goto(site.group_url(group))
        page.fill("#token", site.tokens["bob"])  # type: ignore[index]
        page.click("#signin-submit")
        wait_drawn(page, group)
        page.locator("#grid .card").nth(0).tap()
        assert selected(page) == 1
        page.screenshot(path=str(ARTIFACTS / "annotate-tablet.png"))
        assert not unexpected(errors.errors), errors.errors
    finally:
        tablet.close()
    assert Path(ARTIFACTS / "annotate-desktop.png").stat().st_size > 10_000


def test_dump_and_load(browser: Any, annotation_site: Annotation, tmp_path: Path) -> None:
    site = annotation_site
    group = site.fresh_group(min_size=2)
    context, page, viewer = open_tool(browser, site, "alice", site.group_url(group))
    try:
        wait_drawn(page, group)
        line = {"target": "group", "neighbourhood": group["neighbourhood"], "group": group["key"], "class": "Water"}
        upload = tmp_path / "decisions.jsonl"
        upload.write_text(json.dumps(line) + "\n")
        page.set_input_files("#load-file", str(upload))
        page.wait_for_function("() => document.querySelector('#load-status').textContent.startsWith('Loaded')")
        summary = page.inner_text("#load-status")
        assert "1 decisions added (1 group, 0 mask)" in summary, summary
        assert f"{group['size']} masks labelled" in summary, summary
        page.wait_for_function("n => [...document.querySelectorAll('#grid .card')].filter(c => c.dataset.class === '6')"
                               ".length === n", arg=min(group["size"], 48))
        assert all(m["class_id"] == WATER for m in site.masks(group).values())

        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps(line) + "\n{not json\n")
        page.set_input_files("#load-file", str(bad))
        page.wait_for_function("() => document.querySelector('#load-status').textContent.startsWith('Load refused')")

        with page.expect_download() as info:
            page.click("#dump")
        dumped = Path(info.value.path()).read_text().splitlines()
        assert any(json.loads(x).get("group") == group["key"] and json.loads(x).get("neighbourhood")
                   == group["neighbourhood"] for x in dumped), dumped[:3]
        assert info.value.suggested_filename == f"{PROJECT}-decisions.jsonl"
        assert not unexpected(viewer.errors, ("status of 400",)), viewer.errors
    finally:
        context.close()


def test_a_save_is_taken_from_its_answer_without_refetching(browser: Any, annotation_site: Annotation) -> None:
    """After a save the page updates the cards, the group, its button, its neighbourhood's
    progress and the history from the save's answer (SaveOut): the POST is the only request."""
    site = annotation_site
    group = site.fresh_group(min_size=4)
    context, page, viewer = open_tool(browser, site, "alice", site.group_url(group))
    try:
        wait_drawn(page, group)
        hood = page.locator(f"#hoods [data-hood='{group['neighbourhood']}']")
        before = hood.get_attribute("title")
        requests: list[str] = []
        page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
        cards = page.locator("#grid .card")
        cards.nth(0).click()
        cards.nth(1).click()
        ids = [int(cards.nth(i).get_attribute("data-id")) for i in range(2)]
        page.keyboard.press(str(TREE))
        wait_saved(page)
        decision = int(page.get_attribute("#save-status", "data-decision"))
        # the history, the summary and the group's button show the save: drawn from the answer
        page.wait_for_function("d => document.querySelector(`#history .decision[data-decision='${d}']`)", arg=decision)
        assert "2/" in page.inner_text("#summary")
        shown = str(hood.get_attribute("title"))
        assert decided_of(shown) == decided_of(str(before)) + 2, (before, shown)
        button = page.locator(f"#groups [data-group='{group['key']}']")
        assert "2/" in str(button.get_attribute("title"))
        api_calls = [r for r in requests if "/api/" in r]
        path = site.p(f"/neighbourhoods/{group['neighbourhood']}/groups/{group['key']}/decisions")
        assert api_calls == [f"POST {site.url(path)}"], api_calls
        assert {i for i, m in site.masks(group).items() if m["class_id"] == TREE} == set(ids)
        assert all(card_classes(page)[i] == str(TREE) for i in ids)
        # the page agrees with the server after a reload
        page.reload()
        wait_drawn(page, group)
        assert page.locator("#history .decision").count() == 1
        assert hood.get_attribute("title") == shown, "the progress drawn from the answer is the server's"
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def group_keys(page: Any) -> list[str]:
    """The groups the row shows, in order."""
    return list(page.eval_on_selector_all("#groups .pick.group", "els => els.map(e => e.dataset.group)"))


def test_groups_search_sort_and_a_long_list(browser: Any, annotation_site: Annotation) -> None:
    """The groups of a neighbourhood: searched (q) and sorted (size, doubt, class) by the server, in
    the server's order; 900 groups draw a chunk at a time, more as the row is scrolled or "+N more"
    pressed."""
    import re

    site = annotation_site
    group = site.fresh_group(min_size=2)
    hood = group["neighbourhood"]
    context, page, viewer = open_tool(browser, site, "alice", site.group_url(group))
    try:
        wait_drawn(page, group)
        every = site.api(site.p(f"/neighbourhoods/{hood}/groups"))
        assert page.get_attribute("#group-count", "data-total") == str(len(every))
        for sort in ("-size", "-doubt", "class"):
            want = [g["key"] for g in site.api(site.p(f"/neighbourhoods/{hood}/groups?sort={sort}"))]
            page.select_option("#group-sort", sort)
            page.wait_for_function("w => JSON.stringify([...document.querySelectorAll('#groups .pick.group')]"
                                   ".map(e => e.dataset.group)) === JSON.stringify(w)", arg=want)
        page.select_option("#group-sort", "-size")
        page.wait_for_function("() => { const s = [...document.querySelectorAll('#groups .pick.group')]"
                               ".map(e => +e.dataset.size); return s.every((v, i) => !i || s[i - 1] >= v); }")

        # a search: the server's answer, drawn; the count says how many were found
        q = group["key"]
        want = [g["key"] for g in site.api(site.p(f"/neighbourhoods/{hood}/groups?sort=-size&q={q}"))]
        assert group["key"] in want and len(want) < len(every), want
        page.keyboard.press("/")  # the search field, from the keyboard
        page.keyboard.type(q)
        page.wait_for_function("n => document.querySelector('#group-count').dataset.total === String(n)", arg=len(want))
        assert group_keys(page) == want
        assert "found" in page.inner_text("#group-count")
        page.fill("#group-q", "")
        page.wait_for_function("n => document.querySelector('#group-count').dataset.total === String(n)",
                               arg=len(every))

        # a neighbourhood of 900 groups (the server's answer made long): 120 buttons, then more
        template = every[0]
        many = [{**template, "id": 10_000 + i, "key": f"{i}-{i % 7}", "size": 900 - i} for i in range(900)]
        page.route(re.compile(r".*/neighbourhoods/[^/]+/groups\?.*"),
                   lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(many)))
        page.select_option("#group-sort", "-area")
        page.wait_for_function("() => document.querySelector('#group-count').dataset.total === '900'")
        assert page.locator("#groups .pick.group").count() == 120
        assert page.inner_text("#groups .pick.more") == "+780 more"
        page.eval_on_selector("#groups", "g => { g.scrollLeft = g.scrollWidth; }")
        page.wait_for_function("() => Number(document.querySelector('#groups').dataset.shown) >= 240")
        # back to the start (the "+N more" out of sight, any pending observer callback delivered):
        # a press on it adds one chunk
        page.eval_on_selector("#groups", "g => { g.scrollLeft = 0; }")
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        shown = int(page.get_attribute("#groups", "data-shown"))
        page.eval_on_selector("#groups .pick.more", "b => b.click()")  # no scrolling it into view
        page.wait_for_function("n => Number(document.querySelector('#groups').dataset.shown) === n", arg=shown + 120)
        assert page.locator("#groups .pick.group").count() == shown + 120
        assert group_keys(page)[:3] == ["0-0", "1-1", "2-2"]
        page.unroute(re.compile(r".*/neighbourhoods/[^/]+/groups\?.*"))
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()


def test_neighbourhood_jump_to_and_locator(browser: Any, annotation_site: Annotation) -> None:
    """Neighbourhoods: the jump-to field narrows the row to the names containing what is typed and
    Enter opens the match; the locator draws every neighbourhood's bounds, and a click opens one."""
    site = annotation_site
    hoods = site.api(site.p("/neighbourhoods?per_page=500"))["items"]
    assert len(hoods) >= 2, "the test project has several neighbourhoods"
    assert all(h.get("bounds") and len(h["bounds"]) == 4 for h in hoods), "every neighbourhood has its bounds"
    first, last = hoods[0]["name"], hoods[-1]["name"]
    context, page, viewer = open_tool(browser, site, "alice")
    try:
        page.wait_for_selector("#groups[data-hood]")
        page.keyboard.press("g")  # the jump-to field, from the keyboard
        page.keyboard.type(last)
        page.wait_for_function("q => document.querySelector('#hoods').dataset.query === q", arg=last)
        names = page.eval_on_selector_all("#hoods .pick.hood", "els => els.map(e => e.dataset.hood)")
        assert names and all(last in n for n in names), names
        page.press("#hood-q", "Enter")
        page.wait_for_selector(f"#groups[data-hood='{last}']")
        page.wait_for_function("h => document.querySelector('#annotate').dataset.group.startsWith(h + '/')", arg=last)

        # the locator: one cell per neighbourhood, the open one outlined; a click opens another
        page.wait_for_selector("#hood-locator:not([hidden]) #hood-map .hood-cell")
        assert page.locator("#hood-map .hood-cell").count() == len(hoods)
        assert page.get_attribute("#hood-map", "data-current") == last
        boxes = {n: page.locator(f"#hood-map [data-hood='{n}']").bounding_box() for n in (first, last)}
        assert all(b and b["width"] > 2 and b["height"] > 2 for b in boxes.values()), boxes
        assert boxes[first] != boxes[last]
        page.click(f"#hood-map [data-hood='{first}']")
        page.wait_for_selector(f"#groups[data-hood='{first}']")
        page.wait_for_function("h => document.querySelector('#hood-map').dataset.current === h", arg=first)
        page.wait_for_function("h => document.querySelector('#annotate').dataset.group.startsWith(h + '/')", arg=first)
        assert page.input_value("#hood-q") == "", "a neighbourhood outside the matches clears the jump-to"
        assert page.locator(f"#hoods [data-hood='{first}'][aria-pressed='true']").count() == 1
        assert not unexpected(viewer.errors), viewer.errors
    finally:
        context.close()
