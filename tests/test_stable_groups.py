"""Retraining keeps the groups: keys, group rows, decisions' groups and their history survive."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from annotation_fixtures import build_project, group_decisions_file
from sqlalchemy import func, select

from mcae.inference.compute import executor
from mcae.inference.project import Project as EngineProject
from mcae.inference.train import train
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import import_project
from mcae.platform.annotation.models import Decision, Group, History, Mask


def keys(project: EngineProject) -> pd.Series:
    groups = project.groups()
    return groups.set_index(["patch", "mask_id"])["group"].sort_index()


def test_a_retrain_keeps_group_keys_rows_and_history(tmp_path: Path) -> None:
    root = build_project(tmp_path / "city", seed=7, size=(288, 288), patch=96)
    project = EngineProject.open(root)
    decided = group_decisions_file(root, n=4)
    before = keys(project)
    assert before.str.endswith("-0").all()  # clustered before any model: class 0

    db = Database(f"sqlite:///{tmp_path / 'annotation.db'}")
    db.upgrade()
    with db.session() as session:
        import_project(session, root, "city")
    with db.reader() as session:
        rows_before = {(h, k): i for h, k, i in session.execute(select(Group.neighbourhood, Group.key, Group.id))}
        history_before = session.scalar(select(func.count(History.id)))

    for _ in range(2):  # two retrainings, each re-imported as a rebuild does
        with executor("synchronous", None, True) as run:
            train(project, run, classifier="baseline")
        after = keys(EngineProject.open(root))
        pd.testing.assert_series_equal(after, before)  # every mask in its group, every key unchanged
        predicted = EngineProject.open(root).groups()
        assert (predicted["pred_class"] > 0).all()  # predictions changed: an attribute, not the identity
        with db.session() as session:
            import_project(session, root, "city")

    with db.reader() as session:
        rows_after = {(h, k): i for h, k, i in session.execute(select(Group.neighbourhood, Group.key, Group.id))}
        assert rows_after == rows_before  # same group rows: links and review labels still point at them
        # the decided groups still hold their decisions and their masks
        for d in decided:
            group_id = rows_after[(d.neighbourhood, d.group)]
            made = session.scalars(select(Decision).where(Decision.group_key == d.group,
                                                          Decision.neighbourhood == d.neighbourhood)).all()
            assert made and all(x.state == "active" for x in made)
            labelled = session.scalar(select(func.count(Mask.id)).where(Mask.group_id == group_id,
                                                                        Mask.class_id.is_not(None)))
            assert labelled and labelled > 0
        # the group's class is its masks' majority prediction, not part of its key
        group = session.scalars(select(Group)).first()
        assert group is not None and group.pred_class > 0 and group.key.endswith("-0")
        assert session.scalar(select(func.count(History.id))) > history_before  # nothing rewritten away
    db.dispose()
