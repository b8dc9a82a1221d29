"""A first import's decisions applied in arrays (``first_load``) against the set-based load it
replaced (``dump_load.load_engine_decisions`` with ``first``), on SQLite and PostgreSQL: the same
rows in every table the load writes (decisions, their masks with the states before, history,
masks, groups, counters), from a file of every shape the engine reads (masks listed or filled in
from the groups, class ids and names, fine classes, Unknowns, corrections, blank lines), across
many batches; and the progress it reports (``mcae projects add``'s "loading decisions" bar)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from annotation_fixtures import seed_users
from sqlalchemy import select
from test_annotation_decision_sets import BATCH, _plan, _state

from benchmarks.city_service import write_service_project
from mcae.inference.decisions import iter_decisions_file, iter_resolved
from mcae.platform.annotation import dump_load, importer
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Decision, Group, History, Mask, Neighbourhood, Project


class _OldPlan:
    """The import as it was before ``first_load``: the masks go in undecided, and the set-based
    load (``load_engine_decisions``) applies the decisions after them."""

    path: Path
    groups: Any

    def mask_columns(self, rows: Any, small: Any, pred_class: Any) -> dict[str, Any]:
        return {}

    def class_ids(self, rows: Any) -> Any:
        return np.zeros(len(rows), np.int64)

    def forced(self, rows: Any) -> Any:
        return np.zeros(len(rows), bool)


def _old_link(session: Any, project_id: str, plan: _OldPlan, progress: Any) -> int:
    return dump_load.load_engine_decisions(session, project_id, iter_resolved(iter_decisions_file(plan.path),
                                                                              plan.groups),
                                           importer.system_user(session).id, source="file", recount=False,
                                           first=True)


def _old_record(session: Any, project_id: str, path: Path, groups: Any, *args: Any) -> _OldPlan:
    plan = _OldPlan()
    plan.path, plan.groups = path, groups
    return plan


OLD_IMPORT = SimpleNamespace(record_file=_old_record, link_file=_old_link)


def _file(db: Database, root: Path, plan_id: str = "plan") -> int:
    """The folder's decisions.jsonl: ``_plan``'s decisions as the engine writes them, and lines of
    the other shapes it reads; returns how many decisions."""
    manifest = (root / "project.json").read_text()
    with db.session() as session:
        importer.import_project(session, root, plan_id)
    with db.reader() as session:
        plan = _plan(session, plan_id, seed=4)
    lines = [d.to_json() for d in plan]
    first_group, first_mask = json.loads(lines[0]), next(json.loads(x) for x in lines if '"mask"' in x)
    lines[5:5] = [
        json.dumps({"target": "group", "neighbourhood": first_group["neighbourhood"], "group": first_group["group"],
                    "class": "Tree", "fine_class": "Orchard"}),  # no masks: from groups.parquet; a class name
        "",  # a blank line
        json.dumps({**first_mask, "class": 8, "fine_class": "Factory", "source": "review"}),
        json.dumps({**first_mask, "class": "3", "at": "2026-01-02T03:04:05"}),  # as the model reads them
        json.dumps({**first_group, "class": 0}),  # Unknown: takes the group's label back
    ]
    (root / "decisions.jsonl").write_text("\n".join(lines) + "\n")
    (root / "project.json").write_text(manifest)  # the folder as before any import
    return len(plan) + 4


def _rows(db: Database, project_id: str) -> dict[str, Any]:
    """What the load writes besides ``_state``: decisions, history, masks' and groups' every column."""
    with db.reader() as session:
        order = {d: i for i, d in enumerate(session.scalars(
            select(Decision.id).where(Decision.project_id == project_id).order_by(Decision.id)))}
        skip = {"id", "project_id", "created_at"}
        decisions = [tuple(getattr(d, c.key) for c in Decision.__table__.c if c.key not in skip)
                     for d in session.scalars(select(Decision).where(Decision.project_id == project_id)
                                              .order_by(Decision.id))]
        history = [(h.user_id, h.action, h.entity, order[int(h.entity_id)], h.before, h.after)
                   for h in session.scalars(select(History).where(History.project_id == project_id,
                                                                  History.entity == "decision")
                                            .order_by(History.id))]
        masks = sorted((m.patch, m.mask_id, m.class_id, m.fine_class, m.refine, m.mapped_class, m.version,
                        order.get(m.decision_id)) for m in session.scalars(
            select(Mask).where(Mask.project_id == project_id)))
        skip = {"id", "project_id", "double"}  # (double: drawn by the project's id)
        groups = sorted(tuple(str(getattr(g, c.key)) for c in Group.__table__.c if c.key not in skip)
                        for g in session.scalars(select(Group).where(Group.project_id == project_id)))
        hoods = sorted(tuple(str(getattr(h, c.key)) for c in Neighbourhood.__table__.c if c.key not in skip)
                       for h in session.scalars(select(Neighbourhood).where(Neighbourhood.project_id == project_id)))
        project = session.get(Project, project_id)
        assert project is not None
        counts = tuple(getattr(project, c) for c in ("masks", "decided", "refine", "area", "decided_area",
                                                     "changed", "open_groups"))
    return {"decisions": decisions, "history": history, "masks": masks, "groups": groups, "hoods": hoods,
            "project": counts}


def test_first_load_writes_what_the_set_based_load_wrote(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "folder"
    write_service_project(root, 1_200)
    count = _file(db, root)
    manifest = (root / "project.json").read_text()
    seen: list[tuple[int, int]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dump_load, "ENGINE_BATCH", BATCH)  # many batches: states before from earlier ones
        with db.session() as session:
            summary = importer.import_project(session, root, "new", decision_progress=lambda *a: seen.append(a))
        (root / "project.json").write_text(manifest)
        patch.setattr(importer, "first_load", OLD_IMPORT)
        with db.session() as session:
            assert importer.import_project(session, root, "old")["decisions_imported"] == count
    assert summary["decisions_imported"] == count
    new, old = _state(db, "new"), _state(db, "old")
    assert new["masks"] == old["masks"] and new["links"] == old["links"]
    assert new["counters"] == old["counters"]
    assert any(link[2] is not None for link in new["links"])  # states before from earlier batches
    rows_new, rows_old = _rows(db, "new"), _rows(db, "old")
    for table in rows_new:
        assert rows_new[table] == rows_old[table], table
    assert {d[2] for d in rows_new["decisions"]} >= {"Orchard", "Factory", None}  # fine classes kept
    assert any(h[5]["source"] == "review" for h in rows_new["history"])
    # progress: from 0 of the file's lines to all of them, a batch at a time, in each of the two passes
    lines = count + 1  # (the blank one)
    assert seen[0] == (0, lines) and seen[-1] == (lines, lines) and {t for _, t in seen} == {lines}
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(seen) == 2 + 2 * -(-count // BATCH)


def test_a_mask_the_project_lacks_refuses_the_whole_import(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "folder"
    write_service_project(root, 300)
    (root / "decisions.jsonl").write_text(json.dumps({"target": "mask", "patch": "no-such", "mask": 3,
                                                      "class": 2}) + "\n")
    with pytest.raises(Exception, match="no mask 3 in patch no-such"), db.session() as session:
        importer.import_project(session, root, "refused")
    with db.reader() as session:
        assert session.get(Project, "refused") is None


def test_first_load_into_an_empty_database_writes_the_same(db: Database, db_url: str,
                                                            request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The first project of a database (the masks table empty: its indexes, and on PostgreSQL its
    constraints, dropped and built again after the load, ``bulk_load``) against the set-based
    load into a database that holds a project already."""
    root = tmp_path / "folder"
    write_service_project(root, 1_200)
    count = _file(db, root, "plan-empty")
    manifest = (root / "project.json").read_text()
    url = (f"sqlite:///{tmp_path / 'empty.db'}" if db_url.startswith("sqlite")
           else request.getfixturevalue("pg_cluster").create_database())
    seed_users(url)
    empty = Database(url)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(dump_load, "ENGINE_BATCH", BATCH)
            with empty.session() as session:
                assert importer.import_project(session, root, "new")["decisions_imported"] == count
            (root / "project.json").write_text(manifest)
            patch.setattr(importer, "first_load", OLD_IMPORT)
            with db.session() as session:
                importer.import_project(session, root, "old-empty")
        new, old = _state(empty, "new"), _state(db, "old-empty")
        assert new["masks"] == old["masks"] and new["links"] == old["links"] and new["counters"] == old["counters"]
        rows_new, rows_old = _rows(empty, "new"), _rows(db, "old-empty")
        for table in rows_new:
            assert rows_new[table] == rows_old[table], table
    finally:
        empty.dispose()
