"""The ``train`` step: fit the classifier on decided masks, then re-predict every group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mcae.inference.classifier import get_classifier
from mcae.inference.classifier.calibration import plot_reliability
from mcae.inference.compute import Executor
from mcae.inference.decisions import Decision, mask_labels, read_decisions
from mcae.inference.errors import ProjectStateError
from mcae.inference.features import FEATURE_VERSION
from mcae.inference.groups import refresh_predictions
from mcae.inference.holdout import Holdout
from mcae.inference.holdout import holdout as score_holdout
from mcae.inference.project import Project
from mcae.inference.segment import feature_columns, read_patch_tables

RELIABILITY_FIGURE = "reports/reliability.png"  # relative to the project folder


@dataclass
class TrainingReport:
    n_masks: int
    classes: dict[int, int]  # class id -> labelled masks
    holdout_accuracy: dict[str, float]  # per classifier kind, out of fold (empty: unscored)
    holdout: dict[str, Any] = field(default_factory=dict)  # Holdout.to_dict(): reason, ECE, ...


def mask_groups(project: Project, index: pd.Index) -> np.ndarray | None:
    """``neighbourhood/group`` of the masks of ``index`` ((patch, mask_id) pairs), if all known."""
    if not project.groups_path.is_file():
        return None
    groups = pd.read_parquet(project.groups_path, columns=["patch", "mask_id", "neighbourhood", "group"])
    key = pd.MultiIndex.from_frame(groups[["patch", "mask_id"]].astype({"mask_id": "int64"}))
    names = pd.Series((groups["neighbourhood"] + "/" + groups["group"]).to_numpy(), index=key)
    found = names.reindex(index)
    return None if found.isna().any() else found.to_numpy()


def labelled_features(project: Project, labels: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (indexed by patch and mask id) and labels of the decided masks, patch by patch."""
    frames = []
    for patch_id, part in labels.groupby(level="patch"):
        table = read_patch_tables(project, [str(patch_id)])
        keep = table["mask_id"].isin(part.index.get_level_values("mask_id"))
        frames.append(table[keep])
    table = pd.concat(frames, ignore_index=True)
    key = pd.MultiIndex.from_frame(table[["patch", "mask_id"]].astype({"mask_id": "int64"}))
    y = labels["class_id"].reindex(key).to_numpy()
    X = table[feature_columns(table)].set_axis(key, axis=0)  # rows named (patch, mask_id)
    return X, y.astype(np.int64)


def train(project: Project, run: Executor, classifier: str = "mlp",
          compare_baseline: bool = False, holdout: bool = True,
          decisions: list[Decision] | None = None) -> TrainingReport:
    """Fit and save the classifier, then refresh every mask's predicted class.

    ``decisions``: the expert's decisions (default: the project's decisions file).
    """
    labels = mask_labels(read_decisions(project) if decisions is None else decisions)
    if labels.empty:
        raise ProjectStateError("no decisions yet: label some groups first "
                                "(`mcae label --project DIR --decisions FILE` or --reference)")
    X, y = labelled_features(project, labels)
    classes = {int(c): int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}
    kinds = [classifier, "baseline"] if compare_baseline else [classifier]
    scored = score_holdout(X, y, kinds, groups=mask_groups(project, X.index)) if holdout \
        else Holdout(False, "not scored: hold-out off")
    if scored.before is not None and scored.after is not None:
        plot_reliability({"raw": scored.before, f"calibrated (T={scored.temperature:.2f})": scored.after},
                         project.root / RELIABILITY_FIGURE)
        scored.figure = RELIABILITY_FIGURE
    model = get_classifier(classifier, random_state=0).fit(X, y)
    model.set_temperature(scored.temperature)  # learned out of fold, never on these masks' own fit
    model.save(project.classifier_path, feature_names=list(X.columns),
               feature_version=FEATURE_VERSION)
    refresh_predictions(project, run)
    details = scored.to_dict()
    report = TrainingReport(len(y), classes, scored.accuracy, details)
    project.record_step("train", classifier=classifier, masks=len(y), classes=classes,
                        holdout_accuracy=scored.accuracy, holdout=details)
    return report
