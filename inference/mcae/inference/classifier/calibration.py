"""Honest confidence: temperature scaling, expected calibration error and reliability plots.

A classifier is calibrated when, of the masks it calls class c with confidence 0.95, about
95 % are class c. Temperature scaling (Guo et al., 2017) divides the log-probabilities by
one learned number ``T`` (``T > 1`` softens an over-confident model, ``T < 1`` sharpens an
under-confident one); the predicted class never changes, only the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator

from mcae.inference.classifier.contract import atomic_write

_EPS = 1e-12
_BOUNDS = (0.05, 20.0)  # temperatures outside this range mean the data say nothing


def scale_proba(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(proba) / T)``: the same ranking, confidence tempered by ``T``."""
    proba = np.asarray(proba, dtype=np.float64)
    if len(proba) == 0 or temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    out[proba <= 0] = 0.0  # a class the model never saw stays impossible
    return out / np.maximum(out.sum(axis=1, keepdims=True), _EPS)


def _nll(proba: np.ndarray, columns: np.ndarray) -> float:
    picked = proba[np.arange(len(columns)), columns]
    return float(-np.log(np.clip(picked, _EPS, 1.0)).mean())


class TemperatureScaler(BaseEstimator):
    """Learns the temperature minimising the log-loss of held-out probabilities.

    ``fit(proba, y)`` takes held-out probabilities ``(n, k)`` and the true column index
    (0..k-1) of each row; learned: ``temperature_`` (1.0 when there is nothing to learn
    from), ``nll_before_`` and ``nll_after_``.
    """

    def __init__(self, bounds: tuple[float, float] = _BOUNDS) -> None:
        self.bounds = bounds

    def fit(self, proba: Any, y: Any) -> TemperatureScaler:
        """Fit ``temperature_`` on held-out ``proba`` and true columns ``y``."""
        proba = np.asarray(proba, dtype=np.float64)
        columns = np.asarray(y, dtype=np.int64).ravel()
        if proba.ndim != 2 or len(proba) != len(columns):
            raise ValueError("proba must be (n, k) with one true column per row")
        if len(columns) and (columns.min() < 0 or columns.max() >= proba.shape[1]):
            raise ValueError("y must be column indices 0..k-1 of proba")
        self.temperature_ = 1.0
        self.nll_before_ = self.nll_after_ = _nll(proba, columns) if len(columns) else float("nan")
        if len(columns) < 2:
            return self
        # search log T, so halving and doubling weigh the same
        lo, hi = np.log(self.bounds[0]), np.log(self.bounds[1])
        res = minimize_scalar(lambda t: _nll(scale_proba(proba, float(np.exp(t))), columns),
                              bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
        if res.success and res.fun < self.nll_before_:
            self.temperature_ = float(np.exp(res.x))
            self.nll_after_ = float(res.fun)
        return self

    def transform(self, proba: Any) -> np.ndarray:
        """``proba`` tempered by the learned temperature."""
        return scale_proba(np.asarray(proba, dtype=np.float64), self.temperature_)


@dataclass(frozen=True)
class Reliability:
    """Confidence bins of held-out predictions: what a reliability diagram draws.

    ``ece`` is the expected calibration error: the count-weighted mean gap between
    confidence and accuracy over the bins (0 is perfectly honest).
    """

    edges: list[float]
    count: list[int]
    confidence: list[float | None]  # mean confidence per bin (None: empty bin)
    accuracy: list[float | None]  # share right per bin
    ece: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"edges": self.edges, "count": self.count, "confidence": self.confidence,
                "accuracy": self.accuracy, "ece": self.ece, "n": self.n}


def reliability(proba: np.ndarray, correct_column: np.ndarray, n_bins: int = 10) -> Reliability:
    """Bin held-out predictions by confidence (the top probability) and score each bin."""
    proba = np.asarray(proba, dtype=np.float64)
    truth = np.asarray(correct_column, dtype=np.int64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if len(proba) == 0:
        return Reliability(edges.round(6).tolist(), [0] * n_bins, [None] * n_bins,
                           [None] * n_bins, float("nan"), 0)
    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == truth).astype(np.float64)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=conf, minlength=n_bins)
    right_sum = np.bincount(which, weights=right, minlength=n_bins)
    safe = np.maximum(count, 1)
    mean_conf, mean_acc = conf_sum / safe, right_sum / safe
    ece = float(np.sum(count * np.abs(mean_conf - mean_acc)) / len(conf))
    return Reliability(
        edges=edges.round(6).tolist(), count=count.astype(int).tolist(),
        confidence=[round(float(c), 6) if k else None for c, k in zip(mean_conf, count, strict=True)],
        accuracy=[round(float(a), 6) if k else None for a, k in zip(mean_acc, count, strict=True)],
        ece=round(ece, 6), n=len(conf))


def expected_calibration_error(proba: np.ndarray, correct_column: np.ndarray,
                               n_bins: int = 10) -> float:
    """ECE of ``proba`` against the true columns (10 equal-width confidence bins)."""
    return reliability(proba, correct_column, n_bins).ece


def plot_reliability(curves: dict[str, Reliability], path: str | Path, *,
                     title: str = "Reliability on held-out masks") -> Path:
    """PNG reliability diagram: accuracy against confidence per bin, one line per curve."""
    from matplotlib.figure import Figure  # Agg canvas, no pyplot global state

    fig = Figure(figsize=(4.8, 4.8), dpi=110)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#9aa5b1", linestyle="--", linewidth=1, label="honest")
    colours = ["#1f5fd6", "#d6691f", "#11743c"]
    n = 0
    for (name, curve), colour in zip(curves.items(), colours, strict=False):
        pts = [(c, a) for c, a in zip(curve.confidence, curve.accuracy, strict=True)
               if c is not None and a is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", color=colour, label=f"{name} (ECE {curve.ece:.3f})")
        n = max(n, curve.n)
    last = next(iter(curves.values()), None)
    if last is not None and last.n:
        widths = np.diff(last.edges)
        share = np.asarray(last.count) / last.n
        ax.bar(last.edges[:-1], share, width=widths, align="edge", color="#d9e2ec",
               edgecolor="#bcccdc", zorder=0, label="share of masks")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("share right")
    ax.set_title(f"{title}\n{n:,} masks", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))
