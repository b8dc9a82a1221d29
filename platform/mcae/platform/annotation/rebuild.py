"""The loop back to the map: retrain on the decisions, rebuild the map, republish the layer.

``preview`` says what the pending decisions change before anything runs; ``run_rebuild`` is
the work of a ``rebuild`` job (reviewers and admins): train (``inference.train``) and map
(``inference.mapping``) with the decisions the project's publish policy lets through
(``reviewed``, the default: accepted ones and reviewers' and admins'; ``any``: every one in
force), publish the map as the next numbered version of the project's own MCAE layer
(``tiles.versions``: new tile URLs, the old versions' files kept), re-import the new
predictions and record the training. An annotator's rebuild is a preview: a map file of
the job, never published.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from mcae.inference.atomic import atomic_path
from mcae.inference.errors import InputError, ProjectStateError
from mcae.inference.project import Project as EngineProject
from mcae.platform.annotation import review_schemas
from mcae.platform.annotation.areas import share
from mcae.platform.annotation.capped import capped_count
from mcae.platform.annotation.counters import recount, tallies
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.decision_stream import spool_decisions
from mcae.platform.annotation.importer import import_project
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.models import Decision, History, Mask, Project, Training
from mcae.platform.annotation.views import aware, class_name
from mcae.platform.errors import Conflict
from mcae.tiles.catalog import CatalogStore, LayerKind, UnknownId
from mcae.tiles.versions import publish_version, staging_path

STEPS = 5


def watermark(session: Session, project_id: str) -> int:
    """The newest history entry: a rebuild of the same state is the same job."""
    return session.scalar(select(func.max(History.id)).where(History.project_id == project_id)) or 0


def preview(session: Session, project_id: str) -> review_schemas.RebuildPreview:
    """Masks (and their area) whose class differs from the one in the last map built."""
    project = project_row(session, project_id)
    gsd = float(project.grid.get("gsd", 0.0)) or _gsd(project.root)
    by_class = tallies(session, project_id, "changed")  # counters kept by the writes: no masks read
    last = session.scalar(select(Training).where(Training.project_id == project_id).order_by(Training.id.desc())
                          .limit(1))
    since = select(Decision.id).where(Decision.project_id == project_id)
    if last is not None:
        since = since.where(Decision.created_at > last.at)
    decisions_since, more = capped_count(session, since)
    return review_schemas.RebuildPreview(
        masks_changed=project.changed, area_m2=round(float(project.changed_area) * gsd * gsd, 1),
        by_class={class_name(c) or "?": n for c, (n, _) in sorted(by_class.items())},
        decisions_since_last_build=decisions_since, decisions_since_capped=more,
        last_build=aware(last.at) if last is not None else None,
        share=share(project.changed_area, project.area))


def _gsd(root: str) -> float:
    try:
        return float(EngineProject.open(root).scene_info.gsd)
    except Exception:  # an unreadable folder says so later, when the job opens it
        return 0.0


def mark_mapped(session: Session, project_id: str, classes: pd.Series | Mapping[str, np.ndarray]) -> None:
    """Remember the class each mask has in the map just built, patch by patch: only the masks
    whose mapped class changed are written, and no Python object is made per mask of the city.

    ``classes``: per patch, mask id -> class id (``ClassLookups.dense``, one byte a mask; class 0
    or beyond the end: not in this map), or a class id by ``(patch, mask_id)``."""
    table = cast(Table, Mask.__table__)
    write = update(table).where(table.c.id == bindparam("pk")).values(mapped_class=bindparam("cls"))
    lookups = _patch_lookups(classes) if isinstance(classes, pd.Series) else classes
    for patch, lut in lookups.items():
        rows = session.execute(select(Mask.id, Mask.mask_id, func.coalesce(Mask.mapped_class, -1)).where(
            Mask.project_id == project_id, Mask.patch == str(patch)))
        stored = np.fromiter(itertools.chain.from_iterable(rows), np.int64).reshape(-1, 3)
        if not stored.size:
            continue
        ids, mapped = stored[:, 1], stored[:, 2]  # -1: never mapped
        new = np.full(len(ids), -1, np.int64)  # -1: not in this map
        inside = (ids >= 0) & (ids < lut.size)
        new[inside] = lut[ids[inside]]
        changed = (new > 0) & (mapped != new)
        if changed.any():
            session.execute(write, [{"pk": int(k), "cls": int(v)}
                                    for k, v in zip(stored[changed, 0], new[changed], strict=True)])
    recount(session, project_id)  # what changed since this map: every counter from the masks (a job, once)


def _patch_lookups(classes: pd.Series) -> dict[str, np.ndarray]:
    """A class id by ``(patch, mask_id)`` as per-patch lookups (0: not in the map)."""
    out: dict[str, np.ndarray] = {}
    for patch, part in classes.groupby(level=0, sort=False):
        ids = part.index.get_level_values(1).to_numpy(np.int64)
        lut = np.zeros(int(ids.max()) + 1 if ids.size else 1, np.int64)
        lut[ids] = part.to_numpy(np.int64)
        out[str(patch)] = lut
    return out


def check_target(session: Session, store: CatalogStore, project: Project) -> None:
    """A project publishes only to its own MCAE layer: not to an imagery, SinoLC-1 or other kind
    of layer, and not to a layer another project publishes (400)."""
    if project.city is None:
        return
    found = _old_layer(store, project.city, project.layer)
    if found is not None and found.kind != LayerKind.mcae:
        raise InputError(f"layer {project.city}/{project.layer} is a {found.kind.value} layer: a project "
                         "publishes only to an MCAE layer (choose another layer id)")
    other = session.scalar(select(Project.id).where(Project.city == project.city, Project.layer == project.layer,
                                                    Project.id != project.id).limit(1))
    if other is not None:
        raise InputError(f"layer {project.city}/{project.layer} is project {other}'s: each project publishes "
                         "to its own layer")


def run_rebuild(database: Database, store: CatalogStore, project_id: str, user_id: int | None,
                progress: Any, *, publish: bool = True, out: Path | None = None,
                user_name: str | None = None) -> dict[str, Any]:
    """Train, map, publish, re-import: the work of one ``rebuild`` job.

    ``publish=False`` is an annotator's preview: the map of every decision in force, by the
    current model (no retraining, nothing re-imported), written to ``out`` (the job's file),
    never to the catalog."""
    if not publish:
        return _preview_map(database, project_id, progress, out)
    try:  # the engine (torch, dask) loads with the first rebuild
        from mcae.inference.class_lookups import class_lookups
        from mcae.inference.compute import executor
        from mcae.inference.train import train
    except ModuleNotFoundError as exc:  # the slim platform image has no torch
        raise ProjectStateError(
            f"retraining needs {exc.name}, which this server lacks: run `mcae train` and "
            "`mcae map --publish` where the engine is installed (the inference image)") from None

    progress(0, STEPS, "reading the decisions")
    with database.reader() as session:
        project = project_row(session, project_id)
        check_target(session, store, project)
        root, city, layer_id = project.root, project.city, project.layer
        reviewed_only = project.publish_policy != "any"
    engine_project = EngineProject.open(root)
    with _spool_folder(root) as spool:
        with database.reader() as session:  # a chunk at a time, to a file the engine reads line by line
            decisions = spool_decisions(session, project_id, spool / "decisions.jsonl", reviewed_only=reviewed_only)
        progress(1, STEPS, f"training the classifier on {len(decisions)} decisions")
        with executor("synchronous", None, True) as run:
            report = train(engine_project, run, decisions=decisions)
        lookups = class_lookups(engine_project, decisions)  # once: the map and mark_mapped paint the same
    progress(2, STEPS, "writing the map")
    version, number = _map_and_publish(database, store, engine_project, project_id, (city, layer_id), lookups,
                                       user_name, progress)
    progress(4, STEPS, "importing the new predictions")
    with database.session() as session:
        summary = import_project(session, root, project_id, user_id=user_id, recount=False)
        mark_mapped(session, project_id, lookups.dense)  # and every counter recounted, once
        session.add(Training(project_id=project_id, model_version=summary["model_version"], masks=report.n_masks,
                             decisions=len(decisions), holdout_accuracy=report.holdout_accuracy,
                             holdout=report.holdout or None,
                             map_version=version, user_id=user_id))
    progress(STEPS, STEPS, "done")
    return {"project": project_id, "city": city, "layer": layer_id, "layer_version": version,
            "version_number": number, "published": city is not None,
            "policy": "reviewed" if reviewed_only else "any",
            "model_version": summary["model_version"], "trained_on_masks": report.n_masks,
            "holdout_accuracy": report.holdout_accuracy, "decisions": len(decisions)}


def _map_and_publish(database: Database, store: CatalogStore, engine_project: EngineProject, project_id: str,
                     target: tuple[str | None, str], lookups: Any, user_name: str | None,
                     progress: Any) -> tuple[str | None, int | None]:
    """Write the map of ``lookups`` and publish it as the next version of the ``target`` (city, layer)
    (a project without a city: ``map.tif`` in its folder); (layer version, number), or (None, None)."""
    from mcae.inference.mapping import write_map

    city, layer_id = target
    if city is None:
        write_map(engine_project, engine_project.root / "map.tif", prepared=lookups)
        return None, None
    out = staging_path(store, city, layer_id, f"rebuild-{os.getpid()}")
    write_map(engine_project, out, prepared=lookups)
    progress(3, STEPS, "publishing the layer (a new version; the old ones are kept)")
    with database.reader() as session:  # again: an edit may have changed the target meanwhile
        check_target(session, store, project_row(session, project_id))
    entry = publish_version(store, city, layer_id, out, by=user_name, note="rebuild", title="MCAE land cover")
    return entry.version, entry.number


@contextlib.contextmanager
def _spool_folder(root: str) -> Iterator[Path]:
    """A folder of the job's own in the project's folder (the decisions file the engine reads),
    removed when the job is done with it, whatever happens."""
    with tempfile.TemporaryDirectory(prefix=".rebuild-", dir=root) as folder:
        yield Path(folder)


def _preview_map(database: Database, project_id: str, progress: Any, out: Path | None) -> dict[str, Any]:
    from mcae.inference.mapping import write_map

    if out is None:
        raise ProjectStateError("a preview needs a file to write")
    progress(0, 2, "reading the decisions")
    with database.reader() as session:
        root = project_row(session, project_id).root
    with _spool_folder(root) as spool:
        with database.reader() as session:
            decisions = spool_decisions(session, project_id, spool / "decisions.jsonl")
        progress(1, 2, "writing the preview map (current model, every decision in force)")
        write_map(EngineProject.open(root), out, decisions=decisions)
    progress(2, 2, "done")
    return {"project": project_id, "published": False, "decisions": len(decisions)}


def _old_layer(store: CatalogStore, city: str, layer_id: str) -> Any:
    try:
        return store.layer(city, layer_id)
    except UnknownId:
        return None


def submit_one(jobs: Any, project_id: str, submit: Callable[[], tuple[Any, bool]]) -> Any:
    """Start a project's rebuild (or preview) unless one is queued or running: then 409 naming it.
    Checked and recorded under a file lock in the jobs folder, so across server processes too."""
    jobs.root.mkdir(parents=True, exist_ok=True)
    pointer = jobs.root / f"rebuild-{project_id}.current"
    with open(jobs.root / ".rebuild.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            current = pointer.read_text().strip() if pointer.is_file() else ""
            found = None
            if current:
                with contextlib.suppress(UnknownId):
                    found = jobs.get(current)
            if found is not None and found.state in ("queued", "running"):
                raise Conflict(f"a rebuild of project {project_id} is {found.state} already (job {found.id}); "
                               "one at a time: wait for it to finish",
                               details={"job": found.id, "location": f"/api/jobs/{found.id}"})
            record, _ = submit()
            with atomic_path(pointer) as tmp:
                tmp.write_text(record.id)
            return record
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
