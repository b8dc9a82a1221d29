"""The loop back to the map: retrain on every decision, rebuild the map, republish the layer.

``preview`` says what the pending decisions change before anything runs; ``run_rebuild`` is
the work of a ``rebuild`` job: train (``inference.train``) and map (``inference.mapping``)
with the database's decisions, republish the city's layer through ``tiles.layers`` (a new
layer version, so new tile URLs), re-import the new predictions and record the training.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mcae.inference.errors import ProjectStateError
from mcae.inference.project import Project as EngineProject
from mcae.platform.annotation import schemas
from mcae.platform.annotation.areas import project_area, share
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import engine_decisions, import_project
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.models import Decision, History, Mask, Training
from mcae.platform.annotation.views import aware, class_name
from mcae.tiles.catalog import CatalogStore, LayerKind, UnknownId
from mcae.tiles.layers import publish_layer

STEPS = 5


def watermark(session: Session, project_id: str) -> int:
    """The newest history entry: a rebuild of the same state is the same job."""
    return session.scalar(select(func.max(History.id)).where(History.project_id == project_id)) or 0


def preview(session: Session, project_id: str) -> schemas.RebuildPreview:
    """Masks (and their area) whose class differs from the one in the last map built."""
    project = project_row(session, project_id)
    gsd = float(project.grid.get("gsd", 0.0)) or _gsd(project.root)
    current = func.coalesce(Mask.class_id, Mask.pred_class)
    rows = session.execute(select(current, Mask.area).where(
        Mask.project_id == project_id, Mask.present.is_(True),
        (Mask.mapped_class.is_(None)) | (Mask.mapped_class != current))).all()
    last = session.scalar(select(Training).where(Training.project_id == project_id).order_by(Training.id.desc())
                          .limit(1))
    since = select(func.count(Decision.id)).where(Decision.project_id == project_id)
    if last is not None:
        since = since.where(Decision.created_at > last.at)
    return schemas.RebuildPreview(
        masks_changed=len(rows), area_m2=round(float(sum(a for _, a in rows)) * gsd * gsd, 1),
        by_class=dict(Counter(class_name(int(c)) or "?" for c, _ in rows)),
        decisions_since_last_build=session.scalar(since) or 0,
        last_build=aware(last.at) if last is not None else None,
        share=share(sum(a for _, a in rows), project.area or project_area(session, project_id)[0]))


def _gsd(root: str) -> float:
    try:
        return float(EngineProject.open(root).scene_info.gsd)
    except Exception:  # an unreadable folder says so later, when the job opens it
        return 0.0


def mark_mapped(session: Session, project_id: str, classes: dict[tuple[str, int], int]) -> None:
    """Remember the class each mask has in the map just built."""
    pks = {(p, m): pk for p, m, pk in session.execute(
        select(Mask.patch, Mask.mask_id, Mask.id).where(Mask.project_id == project_id))}
    rows = [{"id": pks[key], "mapped_class": int(cls)} for key, cls in classes.items() if key in pks]
    if rows:
        session.execute(update(Mask), rows)


def map_classes(engine_project: EngineProject, decisions: list[Any]) -> dict[tuple[str, int], int]:
    from mcae.inference.mapping import mask_classes

    table = mask_classes(engine_project, decisions)
    keys = list(zip(table.index.get_level_values("patch"), table.index.get_level_values("mask_id"), strict=True))
    return {(str(p), int(m)): int(c) for (p, m), c in zip(keys, table["class_id"].to_numpy(np.int64), strict=True)}


def run_rebuild(database: Database, store: CatalogStore, project_id: str, user_id: int | None,
                progress: Any) -> dict[str, Any]:
    """Train, map, publish, re-import: the work of one ``rebuild`` job."""
    try:  # the engine (torch, dask) loads with the first rebuild
        from mcae.inference.compute import executor
        from mcae.inference.mapping import write_map
        from mcae.inference.train import train
    except ModuleNotFoundError as exc:  # the slim platform image has no torch
        raise ProjectStateError(
            f"retraining needs {exc.name}, which this server lacks: run `mcae train` and "
            "`mcae map --publish` where the engine is installed (the inference image)") from None

    progress(0, STEPS, "reading the decisions")
    with database.reader() as session:
        project = project_row(session, project_id)
        root, city, layer_id = project.root, project.city, project.layer
        decisions = engine_decisions(session, project_id)
    engine_project = EngineProject.open(root)
    progress(1, STEPS, f"training the classifier on {len(decisions)} decisions")
    with executor("synchronous", None, True) as run:
        report = train(engine_project, run, decisions=decisions)
    progress(2, STEPS, "writing the map")
    out = _map_path(store, city, layer_id, Path(root))
    write_map(engine_project, out, decisions=decisions)
    classes = map_classes(engine_project, decisions)
    version = None
    if city is not None:
        progress(3, STEPS, "publishing the layer (serving copy)")
        old = _old_layer(store, city, layer_id)
        layer = publish_layer(store, city, out, kind=LayerKind.mcae, layer_id=layer_id,
                              title=old.title if old else "MCAE land cover",
                              provenance=old.provenance if old else "real",
                              description=old.description if old else "")
        version = store.layer_version(layer)
    progress(4, STEPS, "importing the new predictions")
    with database.session() as session:
        summary = import_project(session, root, project_id, user_id=user_id)
        mark_mapped(session, project_id, classes)
        session.add(Training(project_id=project_id, model_version=summary["model_version"], masks=report.n_masks,
                             decisions=len(decisions), holdout_accuracy=report.holdout_accuracy,
                             map_version=version, user_id=user_id))
    progress(STEPS, STEPS, "done")
    return {"project": project_id, "city": city, "layer": layer_id, "layer_version": version,
            "model_version": summary["model_version"], "trained_on_masks": report.n_masks,
            "holdout_accuracy": report.holdout_accuracy, "decisions": len(decisions)}


def _old_layer(store: CatalogStore, city: str, layer_id: str) -> Any:
    try:
        return store.layer(city, layer_id)
    except UnknownId:
        return None


def _map_path(store: CatalogStore, city: str | None, layer_id: str, root: Path) -> Path:
    """Where the map goes: over the published layer's file, else into the project folder."""
    if city is not None:
        old = _old_layer(store, city, layer_id)
        if old is not None and not old.path.startswith("s3://"):  # an object is not rewritten in place
            return store.layer_path(old)
    return root / "map.tif"
