"""The project folder <-> the database.

``import_project`` loads the engine's ``masks.parquet`` and ``groups.parquet`` (and, the
first time, its ``decisions.jsonl``) into the database; run again after re-clustering or
retraining it refreshes masks and groups and keeps every decision, which is keyed by mask.
From then on the database owns the decisions: the project manifest says so, and the engine
gets them as ``Decision`` records from ``engine_decisions`` (``decision_stream``: streamed, or
spooled to a JSON Lines file).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from mcae.inference.decisions import DATABASE_STORE
from mcae.inference.project import Project as EngineProject
from mcae.platform.annotation import bulk_load, counters, first_load, mask_stream
from mcae.platform.annotation.decision_stream import engine_decisions, iter_engine_decisions, spool_decisions
from mcae.platform.annotation.geo import all_patch_bounds, union
from mcae.platform.annotation.group_totals import GroupTotals
from mcae.platform.annotation.mask_classes import bump_groups, send_small_groups
from mcae.platform.annotation.models import (
    Base,
    Group,
    History,
    Mask,
    Neighbourhood,
    Patch,
    Project,
    Training,
    User,
    utcnow,
)

PROBA_COLUMNS = mask_stream.PROBA_COLUMNS
__all__ = ["engine_decisions", "import_project", "iter_engine_decisions", "spool_decisions"]
GROUP_ROWS = 5000  # new groups written at a time
ENGINE_USER = "engine"  # author of decisions that came from the project's decisions file


def model_version_of(project: EngineProject) -> str | None:
    """A short hash of the classifier file (None before the first training)."""
    if not project.has_model():
        return None
    return hashlib.sha1(project.classifier_path.read_bytes()).hexdigest()[:12]


def is_double(project_id: str, neighbourhood: str, key: str, share: float) -> bool:
    """Whether a group is among the share labelled twice (stable across re-imports)."""
    digest = hashlib.sha1(f"{project_id}/{neighbourhood}/{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def system_user(session: Session, name: str = ENGINE_USER) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = User(name=name, role="viewer", active=False)
        session.add(user)
        session.flush()
    return user


def import_project(session: Session, root: str | Path, project_id: str, *, name: str | None = None,
                   city: str | None = None, layer: str = "mcae", user_id: int | None = None,
                   progress: mask_stream.Progress | None = None, recount: bool = True,
                   decision_progress: mask_stream.Progress | None = None) -> dict[str, Any]:
    """Create or refresh the project ``project_id`` from its folder; returns counts.

    Masks are streamed from the parquet files in batches (``progress(done, total)`` after each),
    so memory stays flat whatever the city's size; a first import's decisions likewise
    (``decision_progress(decisions done, lines of the file)`` after each batch). ``recount=False``:
    the counters are left to the caller, who recounts in the same transaction (the rebuild: after
    recording the map's classes)."""
    engine_project = EngineProject.open(root)
    engine_project.require(engine_project.groups_path, "mcae segment")
    engine_project.require(engine_project.masks_path, "mcae segment")
    row = session.get(Project, project_id)
    first = row is None
    model_version = model_version_of(engine_project)
    if row is None:
        row = Project(id=project_id, name=name or project_id, root=str(Path(root).resolve()), city=city,
                      layer=layer, grid=engine_project.manifest["grid"], model_version=model_version,
                      fine_classes={}, double_share=0.05, version=1)
        session.add(row)
        session.flush()
    else:
        row.model_version, row.imported_at = model_version, utcnow()
        row.version += 1
    row.imported_at = utcnow()
    # saves lock groups before masks: so does the import, all at once, so it never deadlocks with one
    session.execute(select(Group.id).where(Group.project_id == project_id).order_by(Group.id).with_for_update())
    _import_patches(session, engine_project, project_id)
    _import_neighbourhoods(session, engine_project, project_id)
    row.grid = {**engine_project.manifest["grid"], "gsd": _scene_gsd(engine_project)}
    groups = _import_groups(session, row, engine_project)
    small = np.fromiter((size < row.min_group_size for _, size in groups.values()), bool, len(groups))
    totals = GroupTotals(np.fromiter((pk for pk, _ in groups.values()), np.int64, len(groups)), small)
    from mcae.platform.annotation import dump_load  # (it reads the decisions back through this module)

    started = time.perf_counter()
    boxes = mask_stream.BoxIndex(engine_project.masks_path)
    plan = None  # a first import's decisions, recorded; the masks go in with them applied
    if first and not _in_database(engine_project):
        plan = first_load.record_file(session, project_id, engine_project.decisions_path,
                                      _groups_of(engine_project), system_user(session).id, "file",
                                      dump_load.ENGINE_BATCH, boxes, decision_progress)
    recorded = time.perf_counter()
    with bulk_load.masks_loading(session) as loading:
        counts = _import_masks(session, project_id, engine_project, groups, totals, first, progress,
                               freeze=loading.bulk, boxes=boxes, plan=plan)
        del boxes
        loading.lookups()  # a bulk load's unique constraint and group index: the masks are read from here
        send_small_groups(session, project_id)  # the masks of small groups wait for refinement (totals know)
        totals.write(session)
        row.area = int(totals.counts[:, 0].sum())
        masks_done = time.perf_counter()
        loaded = 0
        if plan is not None:  # the decisions' masks, with their states before (import_project recounts after)
            loaded = first_load.link_file(session, project_id, plan, decision_progress)
            del plan
        decisions_done = time.perf_counter()
        # the other indexes and foreign keys of a bulk load are built here, after the decisions
    seconds = {"masks": masks_done - recorded, "decisions": recorded - started + decisions_done - masks_done,
               "indexes": time.perf_counter() - decisions_done}
    if first:
        _first_training(session, engine_project, project_id, model_version, loaded)
        # the map the engine would write now is taken as the one published (masks went in with
        # their predicted class as mapped, the decisions load set the decided ones' class as
        # mapped): a rebuild's preview counts what changes from here
    if recount:
        counters.recount(session, project_id)
    # which database holds the decisions: commands run on the folder find it from here
    where = {"url": _locator(session), "project_id": project_id}
    if not _in_database(engine_project) or engine_project.manifest.get("decisions_database") != where:
        engine_project.manifest["decisions_store"] = DATABASE_STORE
        engine_project.manifest["decisions_database"] = where
        engine_project.save()
    summary = {"project": project_id, "groups": len(groups), **counts, "decisions_imported": loaded,
               "model_version": model_version, "seconds": {k: round(v, 3) for k, v in seconds.items()}}
    History.record(session, project_id, user_id, "import", "project", project_id, after=summary)
    return summary


def _scene_gsd(project: EngineProject) -> float | None:
    """Metres a pixel of the segmented image (the areas the tools show); None if unknown."""
    try:
        return float(project.scene_info.gsd)
    except (KeyError, TypeError, ValueError):
        return None


def _first_training(session: Session, project: EngineProject, project_id: str, model_version: str | None,
                    decisions: int) -> None:
    """The training the engine ran before the import, so the dashboard's accuracy plot starts there."""
    step = project.manifest.get("steps", {}).get("train")
    if not step or model_version is None:
        return
    # dated at the import, after the decisions it brought in: the published map matches them
    session.add(Training(project_id=project_id, at=utcnow(), model_version=model_version,
                         masks=int(step.get("masks", 0)), decisions=decisions,
                         holdout_accuracy=step.get("holdout_accuracy") or {},
                         holdout=step.get("holdout")))


def _locator(session: Session) -> str:
    """The session's database URL without its password (a SQLite file by absolute path)."""
    url = session.get_bind().engine.url
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    return url.render_as_string(hide_password=True)


def _in_database(project: EngineProject) -> bool:
    return project.manifest.get("decisions_store") == DATABASE_STORE


def _import_patches(session: Session, project: EngineProject, project_id: str) -> None:
    known = set(session.scalars(select(Patch.name).where(Patch.project_id == project_id)))
    rows = [{"project_id": project_id, "name": p.id, "neighbourhood": p.neighbourhood, "row": p.row,
             "col": p.col, "checked": False, "version": 1}
            for p in project.grid.patches() if p.id not in known]
    if rows:
        session.execute(insert(Patch), rows)


def _import_neighbourhoods(session: Session, project: EngineProject, project_id: str) -> None:
    """One row per neighbourhood: its patches (row, column order), its place on the map (stored
    here, not computed per request) and, from ``counters.recount``, its counters."""
    members: dict[str, list[str]] = {}
    for p in sorted(project.grid.patches(), key=lambda p: (p.row, p.col)):
        members.setdefault(p.neighbourhood, []).append(p.id)
    bounds = all_patch_bounds(project)
    known = {h.name: h for h in session.scalars(select(Neighbourhood).where(Neighbourhood.project_id == project_id))}

    def order(name: str) -> tuple[int, ...]:
        return tuple(int(part) for part in name.split("-") if part.isdigit())

    new = []
    for seq, name in enumerate(sorted(members, key=order)):
        box = union([bounds[p] for p in members[name] if p in bounds])
        found = known.get(name)
        if found is None:
            new.append({"project_id": project_id, "name": name, "seq": seq, "patches": members[name], "bounds": box,
                        "groups": 0, "masks": 0, "decided": 0, "refine": 0, "area": 0, "decided_area": 0})
        else:
            found.seq, found.patches, found.bounds = seq, members[name], box
    if new:
        session.execute(insert(Neighbourhood), new)
    session.flush()


def _group_summary(project: EngineProject) -> pd.DataFrame:
    """Per group (neighbourhood, key): cluster, predicted class (the majority of its masks'),
    size, score range; streamed."""
    parts, votes = [], []
    for batch in mask_stream.group_batches(project.groups_path, ["neighbourhood", "group", "cluster", "pred_class",
                                                                  "pred_score"]):
        frame = batch.to_pandas()
        parts.append(frame.groupby(["neighbourhood", "group"], sort=False).agg(
            cluster=("cluster", "first"), size=("cluster", "size"),
            score_min=("pred_score", "min"), score_max=("pred_score", "max")))
        votes.append(frame.groupby(["neighbourhood", "group", "pred_class"], sort=False).size())
    columns = ["cluster", "pred_class", "size", "score_min", "score_max"]
    if not parts:
        return pd.DataFrame(columns=columns)
    merged = pd.concat(parts).groupby(level=[0, 1], sort=True).agg(
        cluster=("cluster", "first"), size=("size", "sum"),
        score_min=("score_min", "min"), score_max=("score_max", "max"))
    # the majority class over all batches (ties: the lowest id, as groups.majority_class)
    counts = pd.concat(votes).groupby(level=[0, 1, 2]).sum().rename("n").reset_index()
    counts = counts.sort_values(["neighbourhood", "group", "n", "pred_class"], ascending=[True, True, False, True])
    majority = counts.drop_duplicates(["neighbourhood", "group"]).set_index(["neighbourhood", "group"])["pred_class"]
    merged["pred_class"] = majority.reindex(merged.index).to_numpy()
    return merged[columns]


def _import_groups(session: Session, project: Project,
                   engine_project: EngineProject) -> dict[tuple[str, str], tuple[int, int]]:
    """Upsert the groups of the project folder; returns (neighbourhood, key) -> (group id, size)."""
    existing = {(g.neighbourhood, g.key): g for g in
                session.scalars(select(Group).where(Group.project_id == project.id))}
    summary = _group_summary(engine_project)
    new_rows, seen = [], set()
    for hood, key, cluster, pred_class, size, score_min, score_max in summary.reset_index().itertuples(index=False):
        seen.add((hood, key))
        fields = {"cluster": int(cluster), "pred_class": int(pred_class), "size": int(size),
                  "score_min": _float(score_min), "score_max": _float(score_max)}
        group = existing.get((hood, key))
        if group is None:
            new_rows.append({"project_id": project.id, "neighbourhood": hood, "key": key, "version": 1,
                             "double": is_double(project.id, hood, key, project.double_share), **fields})
            if len(new_rows) >= GROUP_ROWS:  # a city's groups as dicts would be ~1 kB each, all at once
                bulk_load.insert_rows(session, Base.metadata.tables["groups"], new_rows)
                new_rows = []
        elif any(getattr(group, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(group, k, v)
            group.version += 1
    if new_rows:
        bulk_load.insert_rows(session, Base.metadata.tables["groups"], new_rows)
    gone = [g.id for k, g in existing.items() if k not in seen]
    if gone:
        for start in range(0, len(gone), 500):
            session.execute(update(Mask).where(Mask.group_id.in_(gone[start:start + 500])).values(group_id=None))
        session.execute(delete(Group).where(Group.id.in_(gone)))
    session.flush()
    return {(h, k): (i, n) for i, h, k, n in session.execute(
        select(Group.id, Group.neighbourhood, Group.key, Group.size).where(Group.project_id == project.id))}


def _import_masks(session: Session, project_id: str, project: EngineProject,
                  groups: dict[tuple[str, str], tuple[int, int]], totals: GroupTotals, first: bool,
                  progress: mask_stream.Progress | None, freeze: bool = False,
                  boxes: mask_stream.BoxIndex | None = None, plan: first_load.Plan | None = None) -> dict[str, int]:
    """Stream the masks in: new ones inserted in bulk, known ones updated by key, missing ones
    marked absent; ``totals`` adds up the groups' counters on the way. ``freeze``: the masks
    table was emptied in this transaction (``bulk_load.masks_loading``), PostgreSQL may copy
    the rows in frozen. ``plan``: a first import's decisions, the masks go in with them applied."""
    boxes = boxes or mask_stream.BoxIndex(project.masks_path)
    total = mask_stream.row_count(project.groups_path)
    group_names = pa.array([f"{h}\x1f{k}" for h, k in groups], pa.string())
    group_pks = totals.pks
    seen: list[np.ndarray] = []
    touched = np.zeros(len(group_pks), bool)  # groups with a mask a first import's decision changed
    done = inserted = updated = 0
    for batch in mask_stream.group_batches(project.groups_path, mask_stream.GROUP_COLUMNS):
        where = pc.index_in(mask_stream.group_keys(batch), value_set=group_names).to_numpy(zero_copy_only=False)
        where = where.astype(np.int64)
        rows = mask_stream.batch_rows(batch, boxes, group_pks[where])
        if first:
            state = np.zeros((len(rows), 2), np.int64)
            decided = None
            if plan is not None:
                at = boxes.rows(batch.column("patch"), batch.column("mask_id"))
                decided = plan.mask_columns(at, totals.small[where], rows.columns["pred_class"])
                state[:, 0] = plan.class_ids(at)
                touched[where[plan.forced(at)]] = True
            mask_stream.insert_rows(session, project_id, rows, mapped=True, freeze=freeze, decided=decided)
            inserted += len(rows)
        else:
            found = _known(session, project_id, rows)
            state = found[:, 3:5]
            new = found[:, 0] < 0
            if new.any():
                mask_stream.insert_rows(session, project_id, _take(rows, np.flatnonzero(new)), mapped=False)
            old = np.flatnonzero(~new)
            if old.size:
                part = _take(rows, old)
                changed = ((found[old, 1] != np.asarray(part.columns["group_id"])) |
                           (found[old, 2] != np.asarray(part.columns["pred_class"])))
                mask_stream.update_rows(session, found[old, 0], part, changed)
                seen.append(found[old, 0])
            inserted += int(new.sum())
            updated += int(old.size)
        totals.add(where, np.asarray(rows.columns["area"]), mask_stream.scores(batch), mask_stream.probas(batch),
                   state[:, 0], state[:, 1].astype(bool))
        done += len(rows)
        if progress is not None:
            progress(done, total)
    if touched.any():  # a new version, as the set-based load bumped the groups whose masks it changed
        bump_groups(session, group_pks[touched].tolist())
    absent = 0 if first else _mark_absent(session, project_id, np.concatenate(seen) if seen else np.zeros(0, np.int64))
    return {"masks": done, "new_masks": inserted, "updated_masks": updated, "absent_masks": absent}


def _take(rows: mask_stream.Rows, index: np.ndarray) -> mask_stream.Rows:
    picked = pa.array(index, pa.int64())
    return mask_stream.Rows({k: pc.take(v, picked) for k, v in rows.columns.items()})


KNOWN_COLUMNS = 5  # of _known: pk, group_id, pred_class, class_id, refine
NEW_MASK = (-1, -1, -1, 0, 0)


def _known(session: Session, project_id: str, rows: mask_stream.Rows) -> np.ndarray:
    """Per row: (pk, group_id, pred_class, class_id, refine) of the mask already in the database
    (class 0: undecided), pk -1 if new.

    Patch by patch: the patch's masks are read in mask id order (the masks' unique index) into
    arrays, and the batch's rows of that patch found by ``searchsorted``; no Python object per mask."""
    encoded = pc.dictionary_encode(rows.columns["patch"])
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    ids = np.asarray(rows.columns["mask_id"].to_numpy(zero_copy_only=False), np.int64)
    out = np.tile(np.asarray(NEW_MASK, np.int64), (len(ids), 1))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(encoded.dictionary) + 1))
    for code, patch in enumerate(encoded.dictionary.to_pylist()):
        at = order[bounds[code]:bounds[code + 1]]
        stored_ids, stored = _patch_masks(session, project_id, patch)
        if not stored_ids.size or not at.size:
            continue
        pos = np.minimum(np.searchsorted(stored_ids, ids[at]), stored_ids.size - 1)
        hit = stored_ids[pos] == ids[at]
        out[at[hit]] = stored[pos[hit]]
    return out


def _patch_masks(session: Session, project_id: str, patch: str) -> tuple[np.ndarray, np.ndarray]:
    """A patch's masks in the database: their mask ids (sorted) and, per mask, the ``_known`` row."""
    result = session.execute(
        select(Mask.mask_id, Mask.id, func.coalesce(Mask.group_id, -1), func.coalesce(Mask.pred_class, -1),
               func.coalesce(Mask.class_id, 0), case((Mask.refine.is_(True), 1), else_=0))
        .where(Mask.project_id == project_id, Mask.patch == patch).order_by(Mask.mask_id))
    table = np.fromiter(itertools.chain.from_iterable(result), np.int64).reshape(-1, KNOWN_COLUMNS + 1)
    return table[:, 0], table[:, 1:]


def _mark_absent(session: Session, project_id: str, seen: np.ndarray) -> int:
    """Masks of the database the folder no longer has: kept (decisions name them), marked absent."""
    present = np.fromiter(session.scalars(select(Mask.id).where(Mask.project_id == project_id,
                                                                Mask.present.is_(True))), dtype=np.int64)
    absent = np.setdiff1d(present, seen).tolist()
    for start in range(0, len(absent), 500):
        session.execute(update(Mask).where(Mask.id.in_(absent[start:start + 500]))
                        .values(present=False, group_id=None, version=Mask.version + 1))
    return len(absent)


def _groups_of(project: EngineProject) -> Callable[[], pd.DataFrame]:
    """What fills in a group decision without its masks: read only if one comes (a decisions
    file the engine wrote names them)."""
    return lambda: project.groups(columns=["patch", "mask_id", "neighbourhood", "group"])


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number
