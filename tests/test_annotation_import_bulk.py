"""The bulk import (``bulk_load``, ``group_totals``) on SQLite and PostgreSQL: a first import
into an empty masks table builds its indexes and constraints after the load, and they come
back exactly as the migrations made them; the groups' counters added up from the stream equal
``refresh_totals``' recount from the masks table, after a first import, a re-import with
decided and refined masks, and an import into a table holding another project (row by row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from annotation_fixtures import db_url, pg_cluster, seed_users  # noqa: F401 (fixtures)
from sqlalchemy import inspect, select, update

from benchmarks.city_service import write_service_project
from mcae.platform.annotation import bulk_load, group_totals, importer
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import import_project
from mcae.platform.annotation.mask_classes import refresh_totals
from mcae.platform.annotation.models import Group, Mask

COUNTERS = ("size", "area", "decided_area", "open_area", "open_masks", "masks", "decided", "refine", "gain")


def _schema(db: Database) -> dict[str, Any]:
    found = inspect(db.engine)
    return {"indexes": sorted(found.get_indexes("masks"), key=lambda i: str(i["name"])),
            "unique": sorted(found.get_unique_constraints("masks"), key=lambda u: str(u["name"])),
            "foreign": sorted(found.get_foreign_keys("masks"), key=lambda f: str(f["name"])),
            "primary": found.get_pk_constraint("masks"),
            "links": sorted(found.get_foreign_keys("decision_masks"), key=lambda f: str(f["name"]))}


def _groups(db: Database, project_id: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    with db.reader() as session:
        return {(g.neighbourhood, g.key): (*(getattr(g, c) for c in COUNTERS), g.mix)
                for g in session.scalars(select(Group).where(Group.project_id == project_id))}


def _recounted(db: Database, project_id: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The groups' counters as ``refresh_totals`` recounts them from the masks (rolled back)."""
    with db.session() as session:
        refresh_totals(session, session.scalars(select(Group.id).where(Group.project_id == project_id)))
        session.flush()
        out = {(g.neighbourhood, g.key): (*(getattr(g, c) for c in COUNTERS), g.mix)
               for g in session.scalars(select(Group).where(Group.project_id == project_id)
                                        .execution_options(populate_existing=True))}
        session.rollback()
    return out


def _assert_same(streamed: dict[Any, tuple[Any, ...]], recounted: dict[Any, tuple[Any, ...]]) -> None:
    assert streamed.keys() == recounted.keys() and streamed
    for key, mine in streamed.items():
        theirs = recounted[key]
        assert mine[:-2] == theirs[:-2], key  # integers
        assert mine[-2] == pytest.approx(theirs[-2], abs=2e-3), key  # gain (3 places)
        assert mine[-1] == pytest.approx(theirs[-1], abs=2e-5), key  # mix (6 places)


def test_bulk_import_keeps_the_schema_and_counts_the_groups_right(db_url: str, tmp_path: Path,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seed_users(db_url)
    db = Database(db_url)
    migrated = _schema(db)
    dropped: list[str] = []
    monkeypatch.setattr(group_totals, "ROWS", 7)  # the totals written in many chunks
    monkeypatch.setattr(importer, "GROUP_ROWS", 11)  # and the groups inserted so
    for name in ("_drop_sqlite", "_drop_postgresql"):
        real = getattr(bulk_load, name)
        monkeypatch.setattr(bulk_load, name, lambda c, real=real, name=name: dropped.append(name) or real(c))
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        write_service_project(root, 7_500)
    try:
        with db.session() as session:
            import_project(session, roots[0], "a")
        assert len(dropped) == 1  # the empty table: built after the load
        assert _schema(db) == migrated
        first = _groups(db, "a")
        assert any(v[COUNTERS.index("refine")] for v in first.values())  # small groups went to refinement
        _assert_same(first, _recounted(db, "a"))

        # decided and refined masks (as the tools leave them), then the folder imported again
        with db.session() as session:
            ids = list(session.scalars(select(Mask.id).where(Mask.project_id == "a").order_by(Mask.id)))
            session.execute(update(Mask).where(Mask.id.in_(ids[::7])).values(class_id=3))
            session.execute(update(Mask).where(Mask.id.in_(ids[1::11])).values(refine=True))
        with db.session() as session:
            summary = import_project(session, roots[0], "a")
        assert summary["updated_masks"] == len(ids) and summary["new_masks"] == 0
        again = _groups(db, "a")
        assert any(v[COUNTERS.index("decided")] for v in again.values())
        _assert_same(again, _recounted(db, "a"))

        # another project into a table that holds masks already: row by row, same figures
        with db.session() as session:
            import_project(session, roots[1], "b")
        assert len(dropped) == 1
        assert _schema(db) == migrated
        other = _groups(db, "b")
        _assert_same(other, _recounted(db, "b"))
        _assert_same(other, first)
    finally:
        db.dispose()
