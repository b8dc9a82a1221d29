"""The ``train`` step: fit the classifier on decided masks, then re-predict every group.

At city size (millions of decided masks) the cost is bounded by a budget, not by the city:

* **Hold-out, spatial.** Whole neighbourhoods are held out (whole patches in a city of
  fewer than ``N_FOLDS`` neighbourhoods, whole groups in a smaller one still): the
  masks of the map that no expert decided sit in places the model never saw.
* **Sample.** Up to ``KFOLD_MAX`` decided masks (a small project): all of them, scored k-fold
  (every mask out of fold), then one model on all. Beyond: about a fifth of the masks (whole units) is
  held out and never trained on; the training masks of the other units are sampled
  class-balanced to at most ``max_masks`` (the budget), the held-out ones uniformly (so the
  hold-out figure keeps the city's class mix) to at most a fifth of it. ONE model is fit: the
  one saved, whose hold-out figure the report gives.
* **Streaming.** Until the sample is drawn only the labels are held, as numbers (a patch code,
  the mask id and the class: about 13 bytes a mask, ``sampling.Labels``); they are let go once
  the sample is drawn, and only the sampled masks' features are read, one patch table at a
  time, so the fit holds the sample and nothing of the city's size.
* **Interrupted?** The model is written atomically when the fit ends, so nothing half-done
  remains: ``train`` starts over (``info`` says that a training was interrupted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mcae.inference.classifier import get_classifier
from mcae.inference.classifier.calibration import plot_reliability
from mcae.inference.compute import Executor, progress_bar
from mcae.inference.decisions import Decision, iter_decisions
from mcae.inference.errors import ProjectStateError
from mcae.inference.features import FEATURE_VERSION
from mcae.inference.groups import refresh_predictions
from mcae.inference.holdout import KFOLD_MAX, N_FOLDS, Holdout
from mcae.inference.holdout import holdout as score_holdout
from mcae.inference.project import Project
from mcae.inference.release import release_memory
from mcae.inference.sampling import Labels, balanced_sample, holdout_split, read_features, spatial_units, unit_codes

RELIABILITY_FIGURE = "reports/reliability.png"  # relative to the project folder
DEFAULT_MAX_MASKS = 250_000  # the training budget (setting ``train_max_masks``, ``--max-masks``)


@dataclass
class TrainingReport:
    n_masks: int  # masks the saved model was fit on
    classes: dict[int, int]  # class id -> masks the model was fit on
    holdout_accuracy: dict[str, float]  # per classifier kind (empty: unscored)
    holdout: dict[str, Any] = field(default_factory=dict)  # Holdout.to_dict(): reason, ECE, ...
    n_labelled: int = 0  # decided masks of the project
    n_sampled: int = 0  # masks whose features were read: fit on, or held out and scored
    n_holdout: int = 0  # masks scored by the hold-out (never trained on by the model scored)
    labelled_classes: dict[int, int] = field(default_factory=dict)  # class id -> decided masks

    def to_dict(self) -> dict[str, Any]:
        """What the training step records in the manifest."""
        return {"masks": self.n_masks, "labelled": self.n_labelled, "sampled": self.n_sampled,
                "held_out": self.n_holdout, "classes": self.classes,
                "labelled_classes": self.labelled_classes, "holdout_accuracy": self.holdout_accuracy,
                "holdout": self.holdout}


def mask_groups(project: Project, index: pd.Index) -> np.ndarray | None:
    """``neighbourhood/group`` of the masks of ``index`` ((patch, mask_id) pairs), if all known."""
    if not project.groups_path.is_file():
        return None
    groups = pd.read_parquet(project.groups_path, columns=["patch", "mask_id", "neighbourhood", "group"])
    key = pd.MultiIndex.from_frame(groups[["patch", "mask_id"]].astype({"mask_id": "int64"}))
    names = pd.Series((groups["neighbourhood"] + "/" + groups["group"]).to_numpy(), index=key)
    found = names.reindex(index)
    return None if found.isna().any() else found.to_numpy()


def _counts(y: np.ndarray) -> dict[int, int]:
    return {int(c): int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}


class _Bars:
    """The step's progress bars with their ETA (features read, epochs of the fit)."""

    def __init__(self, quiet: bool) -> None:
        self.progress = progress_bar(quiet)

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def reading(self, patches: int) -> Any:
        task = self.progress.add_task("reading sampled features", total=patches)
        return lambda: self.progress.advance(task)

    def fitting(self, what: str) -> Any:
        task = self.progress.add_task(f"fitting {what} (epochs)", total=None)

        def step(done: int, total: int) -> None:
            self.progress.update(task, completed=done, total=total)
        return step, lambda: self.progress.update(task, total=self.progress.tasks[task].completed or 1,
                                                  completed=self.progress.tasks[task].completed or 1)


def train(project: Project, run: Executor, classifier: str = "mlp",
          compare_baseline: bool = False, holdout: bool = True,
          decisions: Iterable[Decision] | None = None, max_masks: int = DEFAULT_MAX_MASKS) -> TrainingReport:
    """Fit and save the classifier, then refresh every mask's predicted class.

    ``decisions``: the expert's decisions (default: the project's decisions file; a stream, such as
    a ``DecisionsFile``, is read once, into columns of numbers).
    ``max_masks``: the training budget (see the module docs).
    """
    labels = Labels.of(iter_decisions(project) if decisions is None else decisions)  # numbers, not a frame
    if not len(labels):
        raise ProjectStateError("no decisions yet: label some groups first "
                                "(`mcae label --project DIR --decisions FILE` or --reference)")
    project.mark_running("train")
    n_labelled, labelled_classes = len(labels), _counts(labels.y)
    kinds = [classifier, "baseline"] if compare_baseline else [classifier]
    with _Bars(run.quiet) as bars:
        if n_labelled <= KFOLD_MAX:
            model, scored, X, y, n_sampled = _train_small(project, labels.series(), kinds, holdout, bars)
        else:  # the city's labels are let go once the sample is drawn, before the fit
            model, scored, X, y, n_sampled = _train_large(project, labels, kinds, holdout, max_masks, bars)
    del labels
    feature_names, n_fit, fit_classes = list(X.columns), len(y), _counts(y)
    del X, y  # only the model goes on to the predictions
    if scored.before is not None and scored.after is not None:
        plot_reliability({"raw": scored.before, f"calibrated (T={scored.temperature:.2f})": scored.after},
                         project.root / RELIABILITY_FIGURE)
        scored.figure = RELIABILITY_FIGURE
    model.set_temperature(scored.temperature)  # learned on held-out masks, never on those fit on
    model.save(project.classifier_path, feature_names=feature_names, feature_version=FEATURE_VERSION)
    refresh_predictions(project, run)
    report = TrainingReport(n_fit, fit_classes, scored.accuracy, scored.to_dict(), n_labelled=n_labelled,
                            n_sampled=n_sampled, n_holdout=scored.n, labelled_classes=labelled_classes)
    project.record_step("train", classifier=classifier, max_masks=max_masks, **report.to_dict())
    return report


def _train_small(project: Project, labels: pd.Series, kinds: list[str], holdout: bool,
                 bars: _Bars) -> tuple[Any, Holdout, pd.DataFrame, np.ndarray, int]:
    """Every decided mask: k-fold hold-out over spatial units, then one model on all."""
    keys = labels.index
    X = read_features(project, keys, bars.reading(keys.get_level_values(0).nunique()))
    y = labels.reindex(X.index).to_numpy(np.int64)
    scored = Holdout(False, "not scored: hold-out off")
    if holdout:
        unit, units = spatial_units(project, X.index.get_level_values(0).to_numpy(), N_FOLDS)
        if units is None:
            units = mask_groups(project, X.index)
        bars.progress.add_task(f"scoring: up to {N_FOLDS} hold-out fits", total=None)
        scored = score_holdout(X, y, kinds, groups=units, unit=unit)
    step, done = bars.fitting("the model on every decided mask")
    model = get_classifier(kinds[0], random_state=0).fit(X, y, progress=step)
    done()
    return model, scored, X, y, len(y)


def _mask_units(project: Project, labels: Labels) -> tuple[str, np.ndarray, np.ndarray]:
    """(level, a unit code per decided mask, the units' names) for the spatial hold-out."""
    present = np.unique(labels.patch)  # the patches with decided masks, by code
    unit, of_patch, names = unit_codes(project, labels.names[present], N_FOLDS)
    codes: np.ndarray | None = None
    if of_patch is not None:
        code_of = np.zeros(len(labels.names), np.int32)
        code_of[present] = of_patch
        codes = code_of[labels.patch]
    else:  # fewer than N_FOLDS patches: whole groups, else masks
        groups = mask_groups(project, labels.keys())
        if groups is not None:
            codes, names = pd.factorize(pd.Series(groups, dtype=object))
    if codes is None or len(np.unique(codes)) < 2:
        return "masks", np.arange(len(labels)), np.arange(len(labels)).astype(str).astype(object)
    return unit, codes, np.asarray(names, dtype=object)


def _train_large(project: Project, labels: Labels, kinds: list[str], holdout: bool, max_masks: int,
                 bars: _Bars) -> tuple[Any, Holdout, pd.DataFrame, np.ndarray, int]:
    """Whole units held out, a class-balanced budget sample of the rest; one fit. The city's
    ``labels`` are dropped once the sample is drawn: the fit holds the sample only."""
    unit, units, unit_names = _mask_units(project, labels)
    held = holdout_split(units, 1 / N_FOLDS) if holdout else np.zeros(len(labels), dtype=bool)
    train_pos = np.flatnonzero(~held)[balanced_sample(labels.y[~held], max_masks)]
    rng = np.random.default_rng(1)
    test_pos = np.flatnonzero(held)
    if len(test_pos) > max(1, max_masks // N_FOLDS):
        test_pos = np.sort(rng.choice(test_pos, max_masks // N_FOLDS, replace=False))
    sample = np.concatenate([train_pos, test_pos])
    keys = labels.keys(sample)
    y_sample, sample_units = labels.y[sample].astype(np.int64), unit_names[units[sample]]
    n_patches, n_train = pd.unique(labels.patch[sample]).size, len(train_pos)
    del held, train_pos, test_pos, units, unit_names
    labels.drop()
    release_memory()
    X = read_features(project, keys, bars.reading(n_patches))
    found = keys.isin(X.index)
    y = y_sample[found]
    is_train = np.zeros(len(sample), dtype=bool)
    is_train[:n_train] = True
    is_train = is_train[found]
    step, done = bars.fitting(f"the model on {int(is_train.sum()):,} sampled masks")
    scored = Holdout(False, "not scored: hold-out off")
    if holdout:
        folds = [(np.flatnonzero(is_train), np.flatnonzero(~is_train))]
        scored = score_holdout(X, y, kinds, groups=sample_units[found], unit=unit, folds=folds, progress=step)
    model = scored.model
    if model is None:  # hold-out off, or too few held-out masks to score: fit on the training part
        model = get_classifier(kinds[0], random_state=0).fit(X[is_train], y[is_train], progress=step)
    done()
    return model, scored, X[is_train], y[is_train], len(X)
