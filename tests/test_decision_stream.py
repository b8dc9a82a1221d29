"""Decisions as streams: the simulated expert's decisions written a line as each comes (the same
bytes as the list it made before), an interrupted write leaves the old file, and the database's
decisions in force read a chunk at a time (keyset paged by id) to the engine's JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from annotation_fixtures import copy_project, seed_database
from sqlalchemy import select, update

from mcae.inference.decisions import (
    Decision,
    DecisionsFile,
    MaskLabels,
    iter_decisions,
    iter_resolved,
    mask_labels,
    read_decisions,
    record_decisions,
    resolve,
)
from mcae.inference.expert import SimulatedExpert
from mcae.inference.project import Project
from mcae.platform.annotation import importer
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.decision_stream import iter_engine_decisions, spool_decisions
from mcae.platform.annotation.dump_load import load_engine_decisions
from mcae.platform.annotation.models import Decision as DecisionRow
from mcae.platform.annotation.models import DecisionMask, Mask, User
from mcae.platform.annotation.rebuild import mark_mapped
from mcae.platform.annotation.views import aware


def _reference(groups: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """A seeded reference class per mask: mostly each group's own class, some masks off it."""
    rng = np.random.default_rng(seed)
    base = pd.factorize(groups["group"])[0] % 9 + 1
    off = rng.random(len(groups)) < 0.2
    ref = np.where(off, rng.integers(0, 10, len(groups)), base)
    return pd.DataFrame({"patch": groups["patch"], "mask_id": groups["mask_id"], "ref_class": ref})


@pytest.fixture(scope="module")
def folder(template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(template_project, tmp_path_factory.mktemp("stream") / "city")


def test_streamed_label_writes_the_same_decisions_and_bytes_as_the_list(folder: Path) -> None:
    project = Project.open(folder)
    groups = project.groups(columns=["patch", "mask_id", "neighbourhood", "group", "area"])
    reference = _reference(groups)
    listed = resolve(SimulatedExpert(budget=12).decide(groups, reference), groups)
    # what record_decisions wrote before: every decision of the file, then the new ones, in one text
    expected = "".join(d.to_json() + "\n" for d in listed)
    expert = SimulatedExpert(budget=12)
    tally = MaskLabels()
    total = record_decisions(project, iter_resolved(expert.iter_decide(groups, reference), groups), seen=tally.add)
    assert total == len(listed) == expert.actions_ == 12
    assert project.decisions_path.read_text() == expected
    assert tally.frame().equals(mask_labels(listed))
    # a second round appends after the first, decided masks left alone; same as the list again
    decided = mask_labels(iter_decisions(project))
    more = resolve(SimulatedExpert().decide(groups, reference, decided), groups)
    assert more and record_decisions(project, iter_resolved(SimulatedExpert().iter_decide(
        groups, reference, decided), groups)) == len(listed) + len(more)
    assert project.decisions_path.read_text() == expected + "".join(d.to_json() + "\n" for d in more)
    assert {d.target for d in more} <= {"group", "mask"} and read_decisions(project)[len(listed):] == more


def test_group_decisions_that_name_their_masks_never_read_the_groups(folder: Path) -> None:
    """The import resolves a decisions file the engine wrote (its group decisions name their masks)
    without reading a city's groups table; one group decision without its masks reads it once."""
    groups = Project.open(folder).groups(columns=["patch", "mask_id", "neighbourhood", "group", "area"])
    listed = resolve(SimulatedExpert(budget=6).decide(groups, _reference(groups)), groups)
    reads: list[int] = []

    def read() -> pd.DataFrame:
        reads.append(1)
        return groups

    assert list(iter_resolved(iter(listed), read)) == listed and reads == []
    first = next(d for d in listed if d.target == "group")
    bare = [first.model_copy(update={"masks": None}), *listed]
    assert list(iter_resolved(iter(bare), read)) == [first, *listed] and reads == [1]


def test_an_interrupted_label_leaves_the_old_file_and_no_temporary_file(folder: Path) -> None:
    project = Project.open(folder)
    groups = project.groups(columns=["patch", "mask_id", "neighbourhood", "group", "area"])
    before = project.decisions_path.read_bytes() if project.decisions_path.is_file() else None

    def broken() -> Iterator[Decision]:
        yield from iter_resolved(SimulatedExpert().iter_decide(groups, _reference(groups, seed=9)), groups)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        record_decisions(project, broken())
    after = project.decisions_path.read_bytes() if project.decisions_path.is_file() else None
    assert after == before
    assert not [p for p in project.decisions_path.parent.iterdir() if ".mcae-" in p.name]


def _old_engine_decisions(session, project_id: str, reviewed_only: bool = False) -> list[Decision]:  # type: ignore[no-untyped-def]
    """The decisions in force as ``engine_decisions`` read them before: every one at once."""
    users = dict(session.execute(select(User.id, User.name)).all())
    query = select(DecisionRow).where(DecisionRow.project_id == project_id, DecisionRow.state == "active",
                                      DecisionRow.review != "rejected", DecisionRow.pass_no == 1)
    if reviewed_only:
        trusted = select(User.id).where(User.role.in_(("reviewer", "admin")))
        query = query.where((DecisionRow.review == "accepted") | DecisionRow.author_id.in_(trusted))
    members: dict[int, list[tuple[str, int]]] = {}
    for decision_id, patch, mask_id in session.execute(
            select(DecisionMask.decision_id, Mask.patch, Mask.mask_id).join(Mask, Mask.id == DecisionMask.mask_pk)
            .order_by(DecisionMask.decision_id, Mask.patch, Mask.mask_id)):
        members.setdefault(decision_id, []).append((patch, int(mask_id)))
    out = []
    for d in session.scalars(query.order_by(DecisionRow.id)):
        fields = {"target": d.target, "class": d.class_id, "fine_class": d.fine_class, "source": d.source,
                  "id": d.id, "author": users.get(d.author_id), "at": aware(d.created_at).isoformat(),
                  "model_version": d.model_version}
        if d.target == "group":
            fields.update(neighbourhood=d.neighbourhood, group=d.group_key, masks=members.get(d.id, []))
        else:
            fields.update(patch=d.patch, mask=d.mask_id)
        out.append(Decision.model_validate(fields))
    return out


@pytest.fixture(scope="module")
def database(template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """SQLite holding the test project and decisions of every kind: by an annotator and a
    reviewer, group and mask decisions, one undone, one rejected, one accepted, a second pass."""
    tmp = tmp_path_factory.mktemp("stream-db")
    root = copy_project(template_project, tmp / "city")
    url = f"sqlite:///{tmp / 'annotation.db'}"
    seed_database(url, root)
    groups = Project.open(root).groups(columns=["patch", "mask_id", "neighbourhood", "group", "area"])
    decisions = resolve(SimulatedExpert().decide(groups, _reference(groups)), groups)
    assert sum(d.target == "group" for d in decisions) >= 8 and sum(d.target == "mask" for d in decisions) >= 4
    db = Database(url)
    with db.session() as session:
        users = dict(session.execute(select(User.name, User.id)).all())
        half = len(decisions) // 2
        load_engine_decisions(session, "demo", decisions[:half], users["alice"], source="api")
        load_engine_decisions(session, "demo", decisions[half:], users["rita"], source="api")
        ids = list(session.scalars(select(DecisionRow.id).where(DecisionRow.project_id == "demo")
                                   .order_by(DecisionRow.id)))
        for decision_id, change in zip(ids[1:], ({"state": "undone"}, {"review": "rejected"},
                                                 {"review": "accepted"}, {"pass_no": 2}), strict=False):
            session.execute(update(DecisionRow).where(DecisionRow.id == decision_id).values(**change))
    yield db
    db.dispose()


@pytest.mark.parametrize("reviewed_only", [False, True])
def test_decisions_in_force_read_a_chunk_at_a_time_are_those_read_at_once(database: Database,
                                                                          reviewed_only: bool) -> None:
    with database.reader() as session:
        expected = _old_engine_decisions(session, "demo", reviewed_only)
        total = session.scalar(select(DecisionRow.id).order_by(DecisionRow.id.desc()).limit(1))
        assert total is not None and len(expected) < total  # some are not in force (undone, rejected ...)
        for chunk in (1, 2, 3, 7, 1000):  # chunk boundaries: more decisions than one chunk, and one chunk
            assert list(iter_engine_decisions(session, "demo", reviewed_only, chunk=chunk)) == expected
        assert importer.engine_decisions(session, "demo", reviewed_only) == expected


def test_reviewed_only_reads_only_the_trusted_decisions(database: Database) -> None:
    with database.reader() as session:
        roles = dict(session.execute(select(User.name, User.role)).all())
        reviews = dict(session.execute(select(DecisionRow.id, DecisionRow.review)).all())
        trusted = list(iter_engine_decisions(session, "demo", reviewed_only=True, chunk=2))
        every = list(iter_engine_decisions(session, "demo", chunk=2))
    assert trusted and len(trusted) < len(every)
    assert all(roles[d.author] in ("reviewer", "admin") or reviews[d.id] == "accepted" for d in trusted)
    assert any(roles[d.author] == "annotator" and reviews[d.id] == "accepted" for d in trusted)
    assert {d.id for d in every} - {d.id for d in trusted} == {
        d.id for d in every if roles[d.author] == "annotator" and reviews[d.id] != "accepted"}


def test_spooled_decisions_are_a_file_the_engine_reads_again_and_again(database: Database, tmp_path: Path) -> None:
    with database.reader() as session:
        expected = _old_engine_decisions(session, "demo")
        spooled = spool_decisions(session, "demo", tmp_path / "decisions.jsonl", chunk=3)
    assert isinstance(spooled, DecisionsFile) and len(spooled) == len(expected)
    assert list(spooled) == expected and list(spooled) == expected  # read from the start each time
    assert mask_labels(spooled).equals(mask_labels(expected))
    assert len(DecisionsFile(spooled.path)) == len(expected)  # counted by reading when not told


def test_known_masks_are_found_per_patch_whatever_the_order(database: Database) -> None:
    import pyarrow as pa

    from mcae.platform.annotation import mask_stream

    with database.reader() as session:
        stored = session.execute(select(Mask.id, Mask.patch, Mask.mask_id, Mask.group_id, Mask.pred_class,
                                        Mask.class_id, Mask.refine).where(Mask.project_id == "demo")).all()
        rng = np.random.default_rng(0)
        picked = [stored[i] for i in rng.permutation(len(stored))[:60]]
        keys = [(r.patch, r.mask_id) for r in picked] + [(picked[0].patch, 10_000), ("no-such-patch", 1)]
        rows = mask_stream.Rows({"patch": pa.array([k[0] for k in keys], pa.string()),
                                 "mask_id": pa.array([k[1] for k in keys], pa.int64())})
        found = importer._known(session, "demo", rows)
    expected = [(r.id, -1 if r.group_id is None else r.group_id, r.pred_class, r.class_id or 0, int(bool(r.refine)))
                for r in picked] + [(-1, -1, -1, 0, 0)] * 2
    assert found.tolist() == [list(e) for e in expected]
    assert any(e[3] > 0 for e in expected)  # decided masks among them


def test_mark_mapped_from_per_patch_lookups_equals_from_a_series(database: Database) -> None:
    with database.session() as session:
        rows = session.execute(select(Mask.patch, Mask.mask_id).where(Mask.project_id == "demo")
                               .order_by(Mask.patch, Mask.mask_id)).all()
        rng = np.random.default_rng(1)
        classes = pd.Series(rng.integers(1, 10, len(rows)), index=pd.MultiIndex.from_tuples(
            [(p, int(m)) for p, m in rows], names=["patch", "mask_id"]), dtype="int64")
        classes = classes.iloc[rng.random(len(rows)) < 0.7]  # masks out of the map keep their class
        mark_mapped(session, "demo", classes)
        after_series = dict(session.execute(select(Mask.id, Mask.mapped_class).where(Mask.project_id == "demo")).all())
        shifted = classes % 9 + 1
        luts: dict[str, np.ndarray] = {}
        for (patch, mask), value in shifted.items():
            lut = luts.setdefault(str(patch), np.zeros(4096, np.uint8))
            lut[mask] = value
        mark_mapped(session, "demo", luts)
        after_luts = dict(session.execute(select(Mask.id, Mask.mapped_class).where(Mask.project_id == "demo")).all())
        keys = dict(session.execute(select(Mask.id, Mask.patch)).all()), dict(
            session.execute(select(Mask.id, Mask.mask_id)).all())
    for pk, mapped in after_luts.items():
        key = (keys[0][pk], keys[1][pk])
        if key in shifted.index:
            assert mapped == shifted[key] and after_series[pk] == classes[key]
        else:
            assert mapped == after_series[pk]  # not in either map: untouched
