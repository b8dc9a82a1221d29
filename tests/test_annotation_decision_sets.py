"""The set-based decisions load (``decision_sets``) against the Python recompute it replaced
(``mask_classes.recompute_bulk`` batch by batch, counters kept by ``Deltas``), on SQLite and
PostgreSQL: the same masks' classes, refinement and deciding decisions, the same states before
each link, the same group totals and project, neighbourhood, patch and tally counters. The
decisions cross batch boundaries (3 a batch): group decisions superseded by later ones, mask
corrections beating group decisions before and after them, Unknown (class 0) corrections that
undecide, and, in a second load, earlier decisions undone or rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, text, update

from benchmarks.city_service import write_service_project
from mcae.inference.decisions import Decision as EngineDecision
from mcae.platform.annotation import decision_sets, dump_load
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import import_project, system_user
from mcae.platform.annotation.mask_classes import recompute_bulk
from mcae.platform.annotation.models import Decision, DecisionMask, Group, Mask, Neighbourhood, Patch, Project, Tally

BATCH = 3
GROUP_COUNTERS = ("area", "decided_area", "open_area", "open_masks", "masks", "decided", "refine", "gain")
COUNTS = ("masks", "decided", "refine", "area", "decided_area")



def _plan(session: Any, project_id: str, seed: int) -> list[EngineDecision]:
    """Decisions of every kind, interleaved so that masks recur across batches."""
    rng = np.random.default_rng(seed)
    members: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for hood, key, patch, mask_id in session.execute(
            select(Group.neighbourhood, Group.key, Mask.patch, Mask.mask_id).join(Mask, Mask.group_id == Group.id)
            .where(Group.project_id == project_id, Mask.present.is_(True)).order_by(Group.id, Mask.id)):
        members.setdefault((hood, key), []).append((patch, int(mask_id)))
    keys = sorted(members)
    out: list[EngineDecision] = []

    def group(key: tuple[str, str], cls: int) -> None:
        out.append(EngineDecision.model_validate({"target": "group", "neighbourhood": key[0], "group": key[1],
                                                  "class": cls, "masks": members[key]}))

    def mask(key: tuple[str, str], cls: int) -> None:
        patch, mask_id = members[key][int(rng.integers(len(members[key])))]
        out.append(EngineDecision.model_validate({"target": "mask", "patch": patch, "mask": mask_id, "class": cls}))

    for i, key in enumerate(keys[: len(keys) // 2]):
        group(key, 1 + i % 9)
        if i % 3 == 0:
            mask(key, 2)  # a correction after the group decision
        if i % 4 == 1:
            mask(keys[-1 - i], 0)  # Unknown, in a group nobody decided (yet)
        if i % 5 == 2:
            mask(keys[i // 2], 3)  # a correction of an earlier batch's group
    for i, key in enumerate(keys[: len(keys) // 3]):
        group(key, 4 + i % 5)  # supersedes the group decision of an earlier batch; corrections still win
        if i % 6 == 0:
            mask(key, 0)  # Unknown beats the group's class: undecided
    return out


def _load(db: Database, project_id: str, decisions: list[EngineDecision], reference: bool) -> None:
    """The new load, or the old one: ``recompute_bulk`` after each batch, Deltas for the counters."""
    with db.session() as session:
        author = system_user(session).id
        if not reference:
            dump_load.load_engine_decisions(session, project_id, decisions, author, "test", batch=BATCH)
            return
        groups: set[int] = set()

        def old_recompute(session: Any, lock: bool = True, analyze: bool = False) -> int:
            pks = sorted(session.scalars(text("SELECT DISTINCT mask_pk FROM load_links")))
            return recompute_bulk(session, pks, groups)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(decision_sets, "recompute", old_recompute)
            patch.setattr(decision_sets, "finish", lambda session, mapped=False: (0, groups))
            dump_load.load_engine_decisions(session, project_id, decisions, author, "test", batch=BATCH,
                                            recount=False)


def _undo_some(db: Database, project_id: str) -> None:
    """As the tools would leave them: some decisions undone, some rejected by a reviewer."""
    with db.session() as session:
        ids = list(session.scalars(select(Decision.id).where(Decision.project_id == project_id).order_by(Decision.id)))
        session.execute(update(Decision).where(Decision.id.in_(ids[1::5])).values(state="undone"))
        session.execute(update(Decision).where(Decision.id.in_(ids[3::7])).values(review="rejected"))


def _state(db: Database, project_id: str) -> dict[str, Any]:
    """Everything the load decides, with decisions named by their place in the project's order."""
    with db.reader() as session:
        order = {d: i for i, d in enumerate(session.scalars(
            select(Decision.id).where(Decision.project_id == project_id).order_by(Decision.id)))}
        key = {pk: f"{patch}:{mask_id}" for pk, patch, mask_id in session.execute(
            select(Mask.id, Mask.patch, Mask.mask_id).where(Mask.project_id == project_id))}
        masks = {key[m.id]: (m.class_id, m.fine_class, m.refine, order.get(m.decision_id))
                 for m in session.scalars(select(Mask).where(Mask.project_id == project_id))}
        links = sorted((order[r.decision_id], key[r.mask_pk], r.before_class, r.before_fine,
                        order.get(r.before_decision)) for r in session.scalars(
            select(DecisionMask).join(Decision, Decision.id == DecisionMask.decision_id)
            .where(Decision.project_id == project_id)))
        groups = {(g.neighbourhood, g.key): tuple(getattr(g, c) for c in GROUP_COUNTERS)
                  for g in session.scalars(select(Group).where(Group.project_id == project_id))}
        project = session.get(Project, project_id)
        assert project is not None
        counters = {"project": tuple(getattr(project, c) for c in (*COUNTS[:3], "decided_area", "changed",
                                                                    "changed_area")),
                    **{f"{model.__name__}:{row.name}": tuple(getattr(row, c) for c in COUNTS)
                       for model in (Patch, Neighbourhood)
                       for row in session.scalars(select(model).where(model.project_id == project_id))},
                    **{f"tally:{t.kind}:{t.key}": (t.masks, t.area) for t in session.scalars(
                        select(Tally).where(Tally.project_id == project_id)) if t.masks}}
        versions = dict(session.execute(select(Mask.id, Mask.version).where(Mask.project_id == project_id)).all())
    return {"masks": masks, "links": links, "groups": groups, "counters": counters, "versions": versions}


def test_set_based_load_matches_the_python_recompute(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "folder"
    write_service_project(root, 1_200)
    for project_id in ("new", "old"):
        with db.session() as session:
            import_project(session, root, project_id)
    with db.reader() as session:
        first, second = _plan(session, "new", seed=1), _plan(session, "new", seed=2)
    assert len(first) > 10 * BATCH and {d.target for d in first} == {"group", "mask"}
    for project_id, reference in (("new", False), ("old", True)):
        _load(db, project_id, first, reference)
        _undo_some(db, project_id)
        _load(db, project_id, second, reference)
    new, old = _state(db, "new"), _state(db, "old")
    assert new["masks"] == old["masks"]
    decided = [v for v in new["masks"].values() if v[0] is not None]
    undecided_by_unknown = [v for v in new["masks"].values() if v[0] is None and v[3] is not None]
    assert decided and undecided_by_unknown  # the plan decided masks and undecided some
    assert new["links"] == old["links"]
    assert any(link[2] is not None for link in new["links"])  # states before from earlier batches
    assert new["groups"].keys() == old["groups"].keys()
    for name, mine in new["groups"].items():
        assert mine[:-1] == old["groups"][name][:-1], name
        assert mine[-1] == pytest.approx(old["groups"][name][-1], abs=2e-3), name
    assert new["counters"] == old["counters"]
    assert new["counters"]["project"][1] == len(decided)
    changed = [pk for pk, v in new["versions"].items() if v > 1]
    assert len(changed) >= len(decided)  # every mask the load changed has a new version


def test_first_import_takes_the_folders_decisions_as_published(db: Database, tmp_path: Path) -> None:
    """A folder's decisions file at its first import: the masks end as the Python recompute
    leaves them, each mask's published class is its class now (its predicted class if
    undecided, an Unknown correction included), so nothing counts as changed."""
    root = tmp_path / "folder"
    write_service_project(root, 1_200)
    manifest = (root / "project.json").read_text()
    with db.session() as session:
        import_project(session, root, "file-old")
    with db.reader() as session:
        plan = _plan(session, "file-old", seed=3)
    _load(db, "file-old", plan, reference=True)
    (root / "decisions.jsonl").write_text("".join(d.to_json() + "\n" for d in plan))
    (root / "project.json").write_text(manifest)  # the folder as before any import
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dump_load, "ENGINE_BATCH", BATCH)  # many batches
        with db.session() as session:
            summary = import_project(session, root, "file-new")
    assert summary["decisions_imported"] == len(plan)
    new, old = _state(db, "file-new"), _state(db, "file-old")
    assert new["masks"] == old["masks"] and new["links"] == old["links"]
    with db.reader() as session:
        rows = session.execute(select(Mask.class_id, Mask.pred_class, Mask.mapped_class).where(
            Mask.project_id == "file-new")).all()
        project = session.get(Project, "file-new")
        assert project is not None and project.changed == 0 and project.decided > 0
    assert all(mapped == (cls if cls is not None else pred) for cls, pred, mapped in rows)
    assert any(cls is not None and cls != pred for cls, pred, _ in rows)  # decisions moved some
