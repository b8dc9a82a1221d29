"""Neighbourhood clustering and the ``x-y`` groups the expert labels.

Inside each neighbourhood the masks are clustered on their features; a group
``x-y`` is cluster ``x`` split by the class ``y`` the classifier predicted *when the
clusters were made* (``y`` is 0, shown as "Unknown", when no model existed then). Only
masks that own pixels of their patch's core take part, so overlapping patches never
offer a mask twice.

Group identity is stable: retraining (``refresh_predictions``) re-predicts every mask's
``pred_class`` but never moves a mask to another group, so group keys, links to them,
review labels and a group's history survive a retrain. The current prediction is an
attribute of each mask to split or filter a group by, not part of its identity; only
re-clustering (``build_groups``, i.e. ``mcae segment``) makes new groups.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mcae.inference.atomic import write_parquet, write_parquet_stream
from mcae.inference.classes import MCAE, N_CLASSES
from mcae.inference.clustering import NeighbourhoodClusterer
from mcae.inference.compute import Executor
from mcae.inference.group_line import class_mix, describe_group  # noqa: F401  (describe_group: re-exported)
from mcae.inference.project import Project
from mcae.inference.release import release_memory
from mcae.inference.segment import feature_columns, read_patch_tables

PROBA_COLUMNS = [f"proba_{c.id}" for c in MCAE]
PARTS = "groups.parts"  # one parquet file per neighbourhood while groups.parquet is made
GROUP_COLUMNS = ["patch", "mask_id", "neighbourhood", "area", "cluster", "pred_class",
                 "pred_score", *PROBA_COLUMNS, "group"]


@dataclass(frozen=True)
class GroupCounts:
    """What ``groups.parquet`` holds: its masks and its groups."""

    masks: int
    groups: int


def build_groups(project: Project, run: Executor) -> GroupCounts:
    """Cluster every neighbourhood (and predict classes once a model exists)."""
    hoods = project.grid.neighbourhoods()
    model = str(project.classifier_path) if project.has_model() else None
    counts = run.map(group_neighbourhood, list(hoods.items()), "neighbourhood clusters",
                     root=str(project.root), model_path=model, recluster=True)
    return _save(project, list(hoods), counts)


def refresh_predictions(project: Project, run: Executor) -> GroupCounts:
    """Re-predict classes with the current model, keeping the clusters."""
    hoods = project.grid.neighbourhoods()
    counts = run.map(group_neighbourhood, list(hoods.items()), "class predictions",
                     root=str(project.root), model_path=str(project.classifier_path),
                     recluster=False)
    return _save(project, list(hoods), counts)


def _save(project: Project, names: list[str], counts: list[tuple[int, int]]) -> GroupCounts:
    """``groups.parquet`` from the neighbourhoods' parts, one part in memory at a time."""
    parts = [_part_path(project, name) for name in names]
    masks = write_parquet_stream(project.groups_path, (pd.read_parquet(p) for p in parts), GROUP_COLUMNS)
    shutil.rmtree(project.root / PARTS, ignore_errors=True)
    return GroupCounts(masks, sum(groups for _, groups in counts))


def _part_path(project: Project, neighbourhood: str) -> Path:
    return project.root / PARTS / f"{neighbourhood}.parquet"


def group_neighbourhood(item: tuple[str, list[str]], *, root: str, model_path: str | None,
                        recluster: bool) -> tuple[int, int]:
    """Clusters and predictions of one neighbourhood (runs on a Dask worker), written to its
    part of ``groups.parquet``; returns its masks and groups."""
    name, patch_ids = item
    project = Project(root, {})
    table = read_patch_tables(project, patch_ids)
    table = table[table["core_area"] > 0].reset_index(drop=True)
    X = table[feature_columns(table)]
    out = table[["patch", "mask_id", "neighbourhood", "area"]].copy()
    keep = not recluster and project.groups_path.is_file()
    if keep:  # the clusters and group keys stay; only the predictions change
        old = pd.read_parquet(project.groups_path, columns=["patch", "mask_id", "cluster", "group"],
                              filters=[("neighbourhood", "==", name)])  # this neighbourhood's rows only
        out = out.merge(old, on=["patch", "mask_id"], how="left")
        out["cluster"] = out["cluster"].fillna(0).astype(np.int32)
    else:
        out["cluster"] = NeighbourhoodClusterer(random_state=0, n_init=1).fit(X.to_numpy()).labels_
    proba = _predict(model_path, X)
    out["pred_class"] = np.where(np.isnan(proba).any(axis=1), 0,
                                 np.nanargmax(np.nan_to_num(proba, nan=-1), axis=1) + 1)
    out["pred_score"] = proba.max(axis=1) if not np.isnan(proba).all() else np.nan
    for i, col in enumerate(PROBA_COLUMNS):
        out[col] = proba[:, i].astype(np.float32)
    out["cluster"] = out["cluster"].astype(np.int32)
    out["pred_class"] = out["pred_class"].astype(np.int32)
    fresh = out["cluster"].astype(str) + "-" + out["pred_class"].astype(str)
    out["group"] = out["group"].fillna(fresh) if keep else fresh
    write_parquet(_part_path(project, name), out[GROUP_COLUMNS])
    counts = len(out), int(out["group"].nunique())
    del table, X, out, proba
    release_memory()  # else one process re-predicting a city's neighbourhoods grows with each
    return counts


def _predict(model_path: str | None, X: pd.DataFrame) -> np.ndarray:
    if model_path is None or len(X) == 0:
        return np.full((len(X), N_CLASSES), np.nan, np.float32)
    from mcae.inference.classifier import load_classifier

    model = load_classifier(Path(model_path), expected_feature_names=list(X.columns))
    return np.asarray(model.predict_proba(X), dtype=np.float32)


def group_summary(groups: pd.DataFrame, labels: pd.Series | None = None) -> pd.DataFrame:
    """One row per (neighbourhood, group): what the expert sees before deciding.

    ``histogram`` is the group's class mix in percent: decided masks count with
    their label, the others with the classifier's probabilities.
    """
    frame = groups.copy()
    if labels is not None:
        frame["label"] = labels.reindex(pd.MultiIndex.from_frame(frame[["patch", "mask_id"]]))\
            .fillna(0).to_numpy().astype(int)
    else:
        frame["label"] = 0
    rows = []
    keys = frame.groupby(["neighbourhood", "group"], sort=False)
    for (hood, group), part in keys:
        mix = _class_mix(part)
        rows.append({
            "neighbourhood": hood, "group": group, "cluster": int(part["cluster"].iloc[0]),
            "pred_class": majority_class(part["pred_class"].to_numpy()), "size": len(part),
            "decided": int((part["label"] > 0).sum()),
            "score_min": float(part["pred_score"].min()), "score_max": float(part["pred_score"].max()),
            "histogram": mix,
        })
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    summary = summary.sort_values(["neighbourhood", "cluster", "group"], ignore_index=True)
    summary["index"] = summary.groupby("neighbourhood").cumcount() + 1
    summary["of"] = summary.groupby("neighbourhood")["group"].transform("size")
    return summary


def majority_class(pred: np.ndarray) -> int:
    """The class most of a group's masks are predicted (ties: the lowest id; 0 if empty)."""
    if len(pred) == 0:
        return 0
    return int(np.argmax(np.bincount(np.asarray(pred, dtype=np.int64))))


def _class_mix(part: pd.DataFrame) -> dict[str, float]:
    return class_mix(part["label"].to_numpy(), part[PROBA_COLUMNS].to_numpy(np.float64))
