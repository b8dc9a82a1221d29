"""Issue 17: the counters the pages read (per project, neighbourhood, patch and group, the
groups with open masks per project and neighbourhood, and the tallies per author and per
changed class) equal a recount from the masks after every write of
a seeded random sequence: group decisions, corrections, undo, review verdicts, sends to
refinement and their undo, "fully checked", Load, a changed ``min_group_size``, a re-import
and a rebuild's map (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pandas as pd
import pytest
from annotation_fixtures import Service
from sqlalchemy import select

from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import import_project
from mcae.platform.annotation.models import Decision, Group, Mask, Neighbourhood, Patch, Project, Tally
from mcae.platform.annotation.rebuild import mark_mapped

CLASSES = ["Tree", "Building", "Water", "Road", "Unknown"]
STEPS = 36


def recount(db: Database, project_id: str) -> dict[str, Any]:
    """Every counter, counted here from the masks (independently of annotation/counters.py)."""
    with db.reader() as session:
        masks = session.scalars(select(Mask).where(Mask.project_id == project_id, Mask.present.is_(True))).all()
        decisions = {d.id: (d.target, d.author_id) for d in session.scalars(
            select(Decision).where(Decision.project_id == project_id))}
        patches = session.scalars(select(Patch).where(Patch.project_id == project_id)).all()
        group_hoods = dict(session.execute(select(Group.id, Group.neighbourhood).where(Group.project_id == project_id))
                           .all())
        group_ids = list(group_hoods)
        hood_names = list(session.scalars(select(Neighbourhood.name).where(Neighbourhood.project_id == project_id)))
    zero = (0, 0, 0, 0, 0)

    def add(row: tuple[int, ...], m: Mask) -> tuple[int, ...]:
        decided = m.class_id is not None
        return (row[0] + 1, row[1] + decided, row[2] + (not decided and m.refine), row[3] + m.area,
                row[4] + (m.area if decided else 0))

    by_patch: dict[str, tuple[int, ...]] = {p.name: zero for p in patches}
    by_hood: dict[str, tuple[int, ...]] = {h: zero for h in hood_names}
    by_group: dict[int, tuple[int, ...]] = {g: zero for g in group_ids}
    open_masks: dict[int, int] = defaultdict(int)
    mixes: dict[int, list[float]] = defaultdict(lambda: [0.0] * 9)
    project = zero
    changed = [0, 0]
    tallies: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for m in masks:
        by_patch[m.patch] = add(by_patch[m.patch], m)
        by_hood[m.neighbourhood] = add(by_hood[m.neighbourhood], m)
        project = add(project, m)
        if m.group_id is not None:
            by_group[m.group_id] = add(by_group[m.group_id], m)
            open_masks[m.group_id] += m.class_id is None and not m.refine
            weights = mixes[m.group_id]
            if m.class_id:
                weights[m.class_id - 1] += 1
            elif m.proba is not None:
                for i, p in enumerate(m.proba):
                    weights[i] += p if p == p else 0.0
        current = m.class_id if m.class_id is not None else m.pred_class
        if m.mapped_class is None or m.mapped_class != current:
            changed[0] += 1
            changed[1] += m.area
            tallies[("changed", current)][0] += 1
            tallies[("changed", current)][1] += m.area
        if m.class_id is not None and m.decision_id is not None:
            target, author = decisions[m.decision_id]
            tallies[(f"author-{target}", author)][0] += 1
            tallies[(f"author-{target}", author)][1] += m.area
    open_groups: dict[str, int] = {h: 0 for h in hood_names}  # groups with open masks, per neighbourhood
    for g, n in open_masks.items():
        open_groups[group_hoods[g]] += n > 0
    return {"patches": by_patch, "hoods": by_hood, "open_groups": open_groups,
            "groups": {g: (c[0], c[1], c[2], c[3], c[4], open_masks[g]) for g, c in by_group.items()},
            "mixes": dict(mixes),
            "project": (project[0], project[1], project[2], project[4], changed[0], changed[1],
                        len(patches), sum(1 for p in patches if p.checked), sum(open_groups.values())),
            "tallies": {k: tuple(v) for k, v in tallies.items()}}


def stored(db: Database, project_id: str) -> dict[str, Any]:
    """The counters as the writes kept them."""
    with db.reader() as session:
        p = session.get(Project, project_id)
        assert p is not None
        return {
            "patches": {r.name: (r.masks, r.decided, r.refine, r.area, r.decided_area) for r in session.scalars(
                select(Patch).where(Patch.project_id == project_id))},
            "hoods": {r.name: (r.masks, r.decided, r.refine, r.area, r.decided_area) for r in session.scalars(
                select(Neighbourhood).where(Neighbourhood.project_id == project_id))},
            "open_groups": {r.name: r.open_groups for r in session.scalars(
                select(Neighbourhood).where(Neighbourhood.project_id == project_id))},
            "groups": {g.id: (g.masks, g.decided, g.refine, g.area, g.decided_area, g.open_masks)
                       for g in session.scalars(select(Group).where(Group.project_id == project_id))},
            "mixes": {g.id: list(g.mix) for g in session.scalars(
                select(Group).where(Group.project_id == project_id)) if g.mix is not None and g.masks},
            "project": (p.masks, p.decided, p.refine, p.decided_area, p.changed, p.changed_area, p.patches,
                        p.checked_patches, p.open_groups),
            "tallies": {(t.kind, t.key): (t.masks, t.area) for t in session.scalars(
                select(Tally).where(Tally.project_id == project_id)) if t.masks or t.area}}


def same(kept: dict[str, Any], counted: dict[str, Any], where: str) -> None:
    """The counters equal, the class mixes' weights within rounding."""
    kept, counted = dict(kept), dict(counted)
    a, b = kept.pop("mixes"), counted.pop("mixes")
    assert kept == counted, where
    assert a.keys() == b.keys(), where
    for g in a:
        assert a[g] == pytest.approx(b[g], abs=1e-4), (where, g)


class Writer:
    """Random writes through the API (and the import and a rebuild's map through the service)."""

    def __init__(self, svc: Service, db: Database, rng: random.Random) -> None:
        self.svc, self.db, self.rng = svc, db, rng
        self.sends: list[int] = []

    def ok(self, r: Any) -> Any:
        assert r.status_code < 500, r.text
        return r

    def group(self) -> dict[str, Any]:
        groups = [g for g in self.svc.groups() if g["size"] > 0]
        return self.rng.choice(groups)

    def decide(self) -> None:
        g = self.group()
        masks = self.svc.masks(g)
        chosen = self.rng.sample(masks, k=self.rng.randint(1, len(masks))) if masks and self.rng.random() < .5 \
            else None
        body: dict[str, Any] = {"class": self.rng.choice(CLASSES), "version": g["version"]}
        if chosen:
            body["masks"] = [m["id"] for m in chosen]
        self.ok(self.svc.post(self.svc.group_url(g, "/decisions"), self.rng.choice(["alice", "bob"]), json=body))

    def correct(self) -> None:
        patch = self.rng.choice(self.svc.get(self.svc.p("/patches"), params={"per_page": 100}).json()["items"])
        masks = self.svc.get(self.svc.p(f"/patches/{patch['name']}")).json()["mask_list"]
        rows = [{"mask": m["mask_id"], "class": self.rng.choice(CLASSES), "version": m["version"]}
                for m in self.rng.sample(masks, k=min(len(masks), self.rng.randint(1, 3)))]
        if rows:
            self.ok(self.svc.post(self.svc.p(f"/patches/{patch['name']}/corrections"), "bob", json={"rows": rows}))

    def _decision(self, **params: Any) -> dict[str, Any] | None:
        items = self.svc.get(self.svc.p("/decisions"), params={"state": "active", "per_page": 200, **params}).json()
        return self.rng.choice(items["items"]) if items["items"] else None

    def undo(self) -> None:
        found = self._decision()
        if found is not None:
            self.ok(self.svc.post(self.svc.p(f"/decisions/{found['id']}/undo"), "rita"))

    def review(self) -> None:
        found = self._decision()
        if found is not None:
            verdict = self.rng.choice(["accept", "reject"])
            self.ok(self.svc.post(self.svc.p(f"/decisions/{found['id']}/review"), "rita",
                                  json={"verdict": verdict, "comment": "seeded"}))

    def refine(self) -> None:
        g = self.group()
        r = self.ok(self.svc.post(self.svc.group_url(g, "/refine"), "alice", json={"version": g["version"]}))
        if r.status_code < 400 and r.json().get("refinement"):
            self.sends.append(r.json()["refinement"])

    def unsend(self) -> None:
        if self.sends:
            send = self.sends.pop(self.rng.randrange(len(self.sends)))
            self.ok(self.svc.post(self.svc.p(f"/refinements/{send}/undo"), "alice"))

    def checked(self) -> None:
        patch = self.rng.choice(self.svc.get(self.svc.p("/patches"), params={"per_page": 100}).json()["items"])
        self.ok(self.svc.put(self.svc.p(f"/patches/{patch['name']}/checked"), "alice",
                             json={"checked": not patch["checked"], "version": patch["version"], "override": True}))

    def load(self) -> None:
        text = self.svc.get(self.svc.p("/decisions.jsonl")).text
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            part = "\n".join(self.rng.sample(lines, k=min(len(lines), 4))) + "\n"
            self.ok(self.svc.post(self.svc.p("/decisions.jsonl"), "bob", content=part.encode(),
                                  headers={"Content-Type": "application/x-ndjson"}))

    def min_group_size(self) -> None:
        project = self.svc.get(self.svc.p()).json()
        self.ok(self.svc.client.patch(self.svc.p(), headers=self.svc.auth("admin"), json={
            "version": project["version"], "min_group_size": self.rng.choice([2, 3, 4, 6])}))

    def reimport(self) -> None:
        with self.db.session() as session:
            import_project(session, self.svc.root, self.svc.project)

    def mapped(self) -> None:
        with self.db.session() as session:
            rows = session.execute(select(Mask.patch, Mask.mask_id, Mask.class_id, Mask.pred_class).where(
                Mask.project_id == self.svc.project)).all()
            classes = {(p, m): (c if c is not None else pc) if self.rng.random() < .7 else self.rng.randint(1, 9)
                       for p, m, c, pc in rows if self.rng.random() < .8}
            mark_mapped(session, self.svc.project, pd.Series(classes, dtype="int64"))


def test_every_counter_equals_a_recount_after_each_random_write(service: Service) -> None:
    db = Database(service.url)
    rng = random.Random(17)
    writer = Writer(service, db, rng)
    actions = ["decide"] * 5 + ["correct"] * 3 + ["undo"] * 2 + ["review"] * 2 + ["refine"] * 2 + \
        ["unsend", "checked", "load", "min_group_size", "reimport", "mapped"]
    done = []
    try:
        same(stored(db, service.project), recount(db, service.project), "after the import")
        for step in range(STEPS):
            action = rng.choice(actions)
            getattr(writer, action)()
            done.append(action)
            same(stored(db, service.project), recount(db, service.project), f"step {step}: {action}")
        expected = recount(db, service.project)["project"]
    finally:
        db.dispose()
    assert {"decide", "correct", "undo", "review", "refine"} <= set(done), done
    project = service.get(service.p()).json()  # what the page shows is the counters
    assert project["decided"] > 0 and (project["masks"], project["decided"]) == expected[:2]
    listed = {p["id"]: p for p in service.get("/api/projects").json()}  # and so does the list of projects
    assert listed[service.project] == project


def test_the_migration_fills_the_counters_from_the_masks(service: Service) -> None:
    """Down to 0006 and up again: 0008's backfill gives what the writes kept (after the random
    writes above, so decided, refined, mapped and absent-free masks of every kind are there)."""
    from alembic import command

    from mcae.platform.annotation.db import alembic_config

    db = Database(service.url)
    try:
        before = stored(db, service.project)
        assert before["project"][1] > 0  # decided masks to count
        db.engine.dispose()  # no pooled connection holds the tables while they change
        service.client.app.state.database.engine.dispose()  # type: ignore[attr-defined]
        command.downgrade(alembic_config(service.url), "0006_expert_web")
        command.upgrade(alembic_config(service.url), "head")
        after = stored(db, service.project)
        same(after, recount(db, service.project), "after the migration")
        assert after["project"] == before["project"] and after["patches"] == before["patches"]
        with db.reader() as session:  # neighbourhoods rebuilt from the patches, in page order
            hoods = session.scalars(select(Neighbourhood).where(Neighbourhood.project_id == service.project)
                                    .order_by(Neighbourhood.seq)).all()
            assert [h.name for h in hoods] == sorted(before["hoods"], key=lambda n: tuple(map(int, n.split("-"))))
            assert all(h.patches and h.groups > 0 for h in hoods)
    finally:
        db.dispose()


def test_an_import_leaves_postgresql_statistics_of_the_groups(pg_cluster: Any, template_project: Any,
                                                               tmp_path: Any) -> None:
    """Issue 17: planned on a fresh import's unanalysed groups table, "next group"'s read in gain
    order became a scan and sort of every group (80 ms at 4 M masks): ``recount`` (every import)
    ANALYZEs the tables it rewrote (``last_analyze``: not autovacuum's)."""
    from annotation_fixtures import copy_project, seed_database
    from sqlalchemy import text

    url = pg_cluster.create_database()
    seed_database(url, copy_project(template_project, tmp_path / "city"), project_id="stats")
    db = Database(url)
    try:
        with db.reader() as session:
            analysed = dict(session.execute(text(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname IN ('groups', 'patches', 'neighbourhoods')")).all())
            assert analysed == {"groups": True, "patches": True, "neighbourhoods": True}, analysed
    finally:
        db.dispose()
