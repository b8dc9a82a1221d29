"""The project folder <-> the database.

``import_project`` loads the engine's ``masks.parquet`` and ``groups.parquet`` (and, the
first time, its ``decisions.jsonl``) into the database; run again after re-clustering or
retraining it refreshes masks and groups and keeps every decision, which is keyed by mask.
From then on the database owns the decisions: the project manifest says so, and the engine
gets them as ``Decision`` records from ``engine_decisions``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mcae.inference.classes import MCAE
from mcae.inference.decisions import DATABASE_STORE, read_decisions, resolve
from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.project import Project as EngineProject
from mcae.platform.annotation.history import record
from mcae.platform.annotation.models import (
    Decision,
    DecisionMask,
    Group,
    Mask,
    Patch,
    Project,
    Training,
    User,
    utcnow,
)
from mcae.platform.annotation.views import aware

PROBA_COLUMNS = [f"proba_{c.id}" for c in MCAE]  # as mcae.inference.groups writes them
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


def majority_class(pred: Any) -> int:
    """A group's predicted class: the one most of its masks are predicted (ties: lowest id).

    Groups keep their keys across retraining (their masks' predictions change, their
    identity does not), so the group's class is an attribute computed here.
    """
    values = np.asarray(pred, dtype=np.int64)
    return int(np.argmax(np.bincount(values))) if len(values) else 0


def system_user(session: Session, name: str = ENGINE_USER) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = User(name=name, role="viewer", active=False)
        session.add(user)
        session.flush()
    return user


def import_project(session: Session, root: str | Path, project_id: str, *, name: str | None = None,
                   city: str | None = None, layer: str = "mcae", user_id: int | None = None) -> dict[str, Any]:
    """Create or refresh the project ``project_id`` from its folder; returns counts."""
    engine_project = EngineProject.open(root)
    table = _mask_table(engine_project)
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
    groups = _import_groups(session, row, table)
    counts = _import_masks(session, project_id, table, groups)
    loaded = 0
    if first and not _in_database(engine_project):
        loaded = _import_decisions_file(session, engine_project, project_id, table)
    if first:
        _first_training(session, engine_project, project_id, model_version, loaded)
        # the map the engine would write now is taken as the one published: a rebuild's preview
        # counts what changes from here
        session.execute(update(Mask).where(Mask.project_id == project_id)
                        .values(mapped_class=func.coalesce(Mask.class_id, Mask.pred_class)))
    # which database holds the decisions: commands run on the folder find it from here
    where = {"url": _locator(session), "project_id": project_id}
    if not _in_database(engine_project) or engine_project.manifest.get("decisions_database") != where:
        engine_project.manifest["decisions_store"] = DATABASE_STORE
        engine_project.manifest["decisions_database"] = where
        engine_project.save()
    summary = {"project": project_id, "groups": len(groups), **counts, "decisions_imported": loaded,
               "model_version": model_version}
    record(session, project_id, user_id, "import", "project", project_id, after=summary)
    return summary


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
    bind = session.get_bind()
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    return url.render_as_string(hide_password=True)


def _in_database(project: EngineProject) -> bool:
    return project.manifest.get("decisions_store") == DATABASE_STORE


def _mask_table(project: EngineProject) -> pd.DataFrame:
    groups = project.groups()
    masks = project.masks()[["patch", "mask_id", "row0", "col0", "row1", "col1"]]
    table = groups.merge(masks, on=["patch", "mask_id"], how="left")
    table["mask_id"] = table["mask_id"].astype("int64")
    return table


def _import_patches(session: Session, project: EngineProject, project_id: str) -> None:
    known = set(session.scalars(select(Patch.name).where(Patch.project_id == project_id)))
    rows = [{"project_id": project_id, "name": p.id, "neighbourhood": p.neighbourhood, "row": p.row,
             "col": p.col, "checked": False, "version": 1}
            for p in project.grid.patches() if p.id not in known]
    if rows:
        session.execute(insert(Patch), rows)


def _import_groups(session: Session, project: Project, table: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Upsert the groups of ``table``; returns (neighbourhood, key) -> group id."""
    existing = {(g.neighbourhood, g.key): g for g in
                session.scalars(select(Group).where(Group.project_id == project.id))}
    summary = table.groupby(["neighbourhood", "group"], sort=True).agg(
        cluster=("cluster", "first"), pred_class=("pred_class", majority_class), size=("mask_id", "size"),
        score_min=("pred_score", "min"), score_max=("pred_score", "max"))
    new_rows, seen = [], set()
    for (hood, key), values in summary.iterrows():
        seen.add((hood, key))
        fields = {"cluster": int(values["cluster"]), "pred_class": int(values["pred_class"]),
                  "size": int(values["size"]), "score_min": _float(values["score_min"]),
                  "score_max": _float(values["score_max"])}
        group = existing.get((hood, key))
        if group is None:
            new_rows.append({"project_id": project.id, "neighbourhood": hood, "key": key, "version": 1,
                             "double": is_double(project.id, hood, key, project.double_share), **fields})
        elif any(getattr(group, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(group, k, v)
            group.version += 1
    if new_rows:
        session.execute(insert(Group), new_rows)
    gone = [g.id for k, g in existing.items() if k not in seen]
    if gone:
        session.execute(update(Mask).where(Mask.group_id.in_(gone)).values(group_id=None))
        session.execute(delete(Group).where(Group.id.in_(gone)))
    session.flush()
    return {(g.neighbourhood, g.key): g.id for g in
            session.scalars(select(Group).where(Group.project_id == project.id))}


def _import_masks(session: Session, project_id: str, table: pd.DataFrame,
                  groups: dict[tuple[str, str], int]) -> dict[str, int]:
    existing = {(patch, mask_id): (pk, group_id, pred) for pk, patch, mask_id, group_id, pred in session.execute(
        select(Mask.id, Mask.patch, Mask.mask_id, Mask.group_id, Mask.pred_class).where(
            Mask.project_id == project_id))}
    proba = table[PROBA_COLUMNS].to_numpy(np.float64)
    inserts, updates, seen = [], [], set()
    for i, rec in enumerate(table.itertuples(index=False)):
        key = (str(rec.patch), int(rec.mask_id))
        seen.add(key)
        values = {
            "neighbourhood": str(rec.neighbourhood), "area": int(rec.area),
            "bbox": [int(rec.col0), int(rec.row0), int(rec.col1), int(rec.row1)],
            "group_id": groups[(str(rec.neighbourhood), str(rec.group))],
            "pred_class": int(rec.pred_class), "pred_score": _float(rec.pred_score),
            "proba": None if np.isnan(proba[i]).all() else [round(float(p), 5) for p in proba[i]],
            "present": True}
        found = existing.get(key)
        if found is None:
            inserts.append({"project_id": project_id, "patch": key[0], "mask_id": key[1], "version": 1,
                            "refine": False, **values})
        else:
            pk, group_id, pred = found
            changed = group_id != values["group_id"] or pred != values["pred_class"]
            updates.append({"id": pk, **values, "_changed": changed})
    if inserts:
        session.execute(insert(Mask), inserts)
    if updates:
        changed_ids = [u["id"] for u in updates if u.pop("_changed")]
        session.execute(update(Mask), updates)
        for start in range(0, len(changed_ids), 500):
            session.execute(update(Mask).where(Mask.id.in_(changed_ids[start:start + 500]))
                            .values(version=Mask.version + 1))
    absent = [pk for key, (pk, _, _) in existing.items() if key not in seen]
    for start in range(0, len(absent), 500):
        session.execute(update(Mask).where(Mask.id.in_(absent[start:start + 500]))
                        .values(present=False, group_id=None, version=Mask.version + 1))
    return {"masks": len(table), "new_masks": len(inserts), "updated_masks": len(updates),
            "absent_masks": len(absent)}


def _import_decisions_file(session: Session, project: EngineProject, project_id: str,
                           table: pd.DataFrame) -> int:
    """The decisions made before the project came into the database, in their order."""
    from mcae.platform.annotation.service import apply_engine_decisions

    decisions = read_decisions(project)
    if not decisions:
        return 0
    decisions = resolve(decisions, table)
    author = system_user(session)
    return apply_engine_decisions(session, project_id, decisions, author.id, source="file")


def engine_decisions(session: Session, project_id: str) -> list[EngineDecision]:
    """The decisions that are in force, in order, as the engine's records (masks resolved)."""
    users = dict(session.execute(select(User.id, User.name)).all())
    active = list(session.scalars(select(Decision).where(
        Decision.project_id == project_id, Decision.state == "active", Decision.review != "rejected",
        Decision.pass_no == 1).order_by(Decision.id)))
    members: dict[int, list[tuple[str, int]]] = {}
    rows = session.execute(
        select(DecisionMask.decision_id, Mask.patch, Mask.mask_id).join(Mask, Mask.id == DecisionMask.mask_pk)
        .join(Decision, Decision.id == DecisionMask.decision_id)
        .where(Decision.project_id == project_id, Decision.state == "active", Decision.target == "group")
        .order_by(DecisionMask.decision_id, Mask.patch, Mask.mask_id))
    for decision_id, patch, mask_id in rows:
        members.setdefault(decision_id, []).append((patch, int(mask_id)))
    out = []
    for d in active:
        fields: dict[str, Any] = {
            "target": d.target, "class": d.class_id, "fine_class": d.fine_class, "source": d.source,
            "id": d.id, "author": users.get(d.author_id), "at": aware(d.created_at).isoformat(),
            "model_version": d.model_version}
        if d.target == "group":
            fields.update(neighbourhood=d.neighbourhood, group=d.group_key, masks=members.get(d.id, []))
        else:
            fields.update(patch=d.patch, mask=d.mask_id)
        out.append(EngineDecision.model_validate(fields))
    return out


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number
