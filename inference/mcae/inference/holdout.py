"""Hold-out scores of a training: accuracy (overall and per class) and calibration.

Every scored mask is predicted by a model that did not see it. Small samples: every decided
mask, out of fold (stratified k-fold, ``N_FOLDS`` fits). Large samples (``n_fits=1``, what
``train`` asks for beyond ``KFOLD_MAX`` masks): one fold of the k-fold split is held out and
one model is fit on the rest, so the cost stays one fit whatever the city's size. Given the
masks' spatial units (``groups``: neighbourhoods, patches or groups, see
``mcae.inference.train.spatial_units``), whole units are held out together (stratified group
k-fold): neighbouring masks are near-duplicates, and the map's undecided masks sit in places
the model never saw, so mask-wise folds would flatter both the accuracy and the calibration. A class with fewer than
``MIN_PER_CLASS`` masks gets no per-class score, and the report says so in ``reason``;
the overall accuracy is still scored on every mask when the project has at least
``MIN_MASKS`` decided masks in two classes.

Calibration: the out-of-fold probabilities fit a temperature (``TemperatureScaler``).
Its honest error is measured nested: each fold is tempered by a temperature fit on the
other folds only (one held-out fold: its two halves, unit by unit, each tempered by the
other's), so no mask's calibrated confidence was fit on that mask.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from mcae.inference.classes import MCAE
from mcae.inference.classifier import get_classifier
from mcae.inference.classifier.calibration import Reliability, TemperatureScaler, reliability

Progress = Callable[[int, int], None]  # (done, total) of a fit
MIN_PER_CLASS = 5  # masks a class needs for its own hold-out accuracy
MIN_MASKS = 10  # decided masks (in two classes or more) the overall score needs
N_FOLDS = 5
KFOLD_MAX = 2_000  # decided masks up to this are scored k-fold (every mask); more: one fit (train)


@dataclass
class Holdout:
    """What the hold-out said; ``scored`` is False (and ``reason`` says why) when nothing was."""

    scored: bool
    reason: str | None  # why something (or everything) is not scored; None when all is
    accuracy: dict[str, float] = field(default_factory=dict)  # classifier kind -> accuracy
    per_class: dict[str, float] = field(default_factory=dict)  # class name -> recall
    unscored_classes: list[str] = field(default_factory=list)
    n: int = 0  # masks scored (held out)
    split: str = "masks"  # what is held out whole: neighbourhoods, patches, groups or masks
    fits: int = 0  # models fit for the score (per kind)
    temperature: float = 1.0
    before: Reliability | None = None  # the raw model's reliability
    after: Reliability | None = None  # tempered, nested (honest)
    figure: str | None = None  # the reliability PNG, relative to the project folder
    model: Any = None  # the first kind's model when one fit was made (not in ``to_dict``)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what the training step records and the dashboard reads)."""
        return {
            "scored": self.scored, "reason": self.reason, "n": self.n, "split": self.split,
            "fits": self.fits,
            "accuracy": self.accuracy, "per_class": self.per_class,
            "unscored_classes": self.unscored_classes, "temperature": round(self.temperature, 6),
            "ece": self.after.ece if self.after else None,
            "ece_uncalibrated": self.before.ece if self.before else None,
            "reliability": self.after.to_dict() if self.after else None,
            "reliability_uncalibrated": self.before.to_dict() if self.before else None,
            "figure": self.figure,
        }


def _name(class_id: int) -> str:
    return MCAE.names[class_id - 1]


def holdout(X: pd.DataFrame, y: np.ndarray, kinds: list[str],
            groups: np.ndarray | None = None, *, n_fits: int = N_FOLDS, unit: str = "groups",
            folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
            progress: Progress | None = None) -> Holdout:
    """Out-of-fold scores of each classifier kind; calibration of the first kind.

    ``groups``: one label per mask (its spatial unit, named by ``unit``); whole units are held
    out together when there are at least ``N_FOLDS`` of them. ``n_fits``: folds fit and
    scored (1: one held-out fold, about a fifth of the masks; ``N_FOLDS``: every mask).
    ``folds``: (train, test) positions chosen by the caller (whole ``unit``s held out), used
    as they are. With a single fold, ``model`` is the first kind's fitted model.
    ``progress(done, total)``: the fits' progress (epochs of the first kind's fits).
    """
    ids, counts = np.unique(y, return_counts=True)
    small = [_name(int(c)) for c, n in zip(ids, counts, strict=True) if n < MIN_PER_CLASS]
    if len(y) < MIN_MASKS or len(ids) < 2:
        reason = (f"not scored: needs at least {MIN_MASKS} decided masks in two or more classes "
                  f"(has {len(y)} in {len(ids)})")
        return Holdout(False, reason, unscored_classes=[_name(int(c)) for c in ids], n=len(y))
    n_folds = int(min(N_FOLDS, counts.max()))
    if folds is None:
        folds = _group_folds(y, groups) if groups is not None else None
    split = unit if folds is not None else "masks"
    if folds is None:
        folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=0).split(X, y)) \
            if counts.min() >= n_folds else _loose_folds(y, n_folds)
    folds = folds[:max(1, n_fits)]
    scored = np.sort(np.concatenate([test for _, test in folds]))
    out = Holdout(True, None, n=len(scored), split=split, fits=len(folds), unscored_classes=small)
    proba_first: np.ndarray | None = None
    ys = y[scored]
    for kind in kinds:
        proba = np.zeros((len(y), len(MCAE.ids)))
        for train_idx, test_idx in folds:
            model = get_classifier(kind, random_state=0).fit(
                X.iloc[train_idx], y[train_idx], progress=progress if kind == kinds[0] else None)
            proba[test_idx] = model.predict_proba(X.iloc[test_idx])
            if len(folds) == 1 and out.model is None:
                out.model = model
        proba = proba[scored]
        pred = np.asarray(MCAE.ids)[proba.argmax(axis=1)]
        out.accuracy[kind] = round(float((pred == ys).mean()), 6)
        if proba_first is None:
            proba_first = proba
            for c, n in zip(ids, counts, strict=True):
                if n >= MIN_PER_CLASS and np.any(ys == c):
                    out.per_class[_name(int(c))] = round(float((pred[ys == c] == c).mean()), 6)
    assert proba_first is not None
    columns = ys - 1
    out.before = reliability(proba_first, columns)
    out.temperature = TemperatureScaler().fit(proba_first, columns).temperature_
    nested = np.zeros_like(proba_first)
    position = np.full(len(y), -1)
    position[scored] = np.arange(len(scored))
    for part in _calibration_parts(folds, groups, position):  # each tempered by a fit elsewhere
        rest = np.setdiff1d(np.arange(len(scored)), part)
        scaler = TemperatureScaler().fit(proba_first[rest], columns[rest])
        nested[part] = scaler.transform(proba_first[part])
    out.after = reliability(nested, columns)
    if small:
        out.reason = (f"no per-class score for {', '.join(small)}: fewer than {MIN_PER_CLASS} "
                      "decided masks each (overall accuracy counts them)")
    return out


def _calibration_parts(folds: list[tuple[np.ndarray, np.ndarray]], groups: np.ndarray | None,
                       position: np.ndarray) -> list[np.ndarray]:
    """Parts of the scored masks (positions among them) for the nested temperature: the test
    folds, or the two halves of a single one (unit by unit when the units allow)."""
    if len(folds) >= 2:
        return [position[test] for _, test in folds]
    test = folds[0][1]
    if groups is not None:
        codes = pd.factorize(pd.Series(np.asarray(groups)[test].astype(str)))[0]
        if codes.max(initial=0) >= 1:
            halves = np.random.default_rng(0).permutation(codes.max() + 1) % 2
            half = halves[codes].astype(bool)
            return [position[test[half]], position[test[~half]]]
    order = np.random.default_rng(0).permutation(len(test))
    return [position[test[order[: len(test) // 2]]], position[test[order[len(test) // 2:]]]]


def _group_folds(y: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Stratified group k-fold over the masks' groups (None with fewer than N_FOLDS groups)."""
    codes = pd.factorize(pd.Series(np.asarray(groups).astype(str)))[0]
    if len(np.unique(codes)) < N_FOLDS:
        return None
    with warnings.catch_warnings():  # rare classes: fewer groups than folds is expected
        warnings.simplefilter("ignore", UserWarning)
        split = StratifiedGroupKFold(N_FOLDS, shuffle=True, random_state=0).split(y, y, codes)
        folds = [(tr, te) for tr, te in split if len(te) and len(tr)]
    return folds if len(folds) >= 2 else None


def _loose_folds(y: np.ndarray, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds dealing each class's masks round-robin (classes smaller than ``n_folds`` too)."""
    rng = np.random.default_rng(0)
    fold_of = np.zeros(len(y), dtype=np.int64)
    start = 0
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold_of[members] = (start + np.arange(len(members))) % n_folds
        start += len(members)
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(n_folds)]
