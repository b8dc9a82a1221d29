"""The one line an expert reads about a group: ``55/57, (0.16, 0.91), {'Tree': '96.49', ...}``.

Kept apart from ``groups`` (which clusters, with scikit-learn) so that readers of groups,
such as the annotation service, format it without loading the clustering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mcae.inference.classes import MCAE, N_CLASSES


def describe_group(row: Mapping[str, Any]) -> str:
    """The expert's one-line view: ``55/57, (0.16, 0.91), {'Tree': '96.49', ...}``."""
    scores = ("(-, -)" if _missing(row["score_min"])
              else f"({row['score_min']:.2f}, {row['score_max']:.2f})")
    mix = {k: f"{v:.2f}" for k, v in row["histogram"].items()} or "{unknown}"
    return f"{row['index']}/{row['of']}, {scores}, {mix}"


def class_mix(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """A group's class mix in percent, largest first: decided masks (``labels`` > 0) count with
    their class, the others with the classifier's probabilities (rows of ``proba``, NaN before a
    model exists)."""
    weights = np.zeros(N_CLASSES)
    decided = labels > 0
    np.add.at(weights, labels[decided] - 1, 1.0)
    rest = proba[~decided]
    if rest.size and not np.isnan(rest).all():
        weights += np.nansum(rest, axis=0)
    total = weights.sum()
    if total == 0:
        return {}
    pct = 100 * weights / total
    order = np.argsort(-pct, kind="stable")
    return {MCAE.get(int(i) + 1).name: round(float(pct[i]), 2) for i in order if pct[i] >= 0.01}


def _missing(value: Any) -> bool:
    return value is None or math.isnan(float(value))
