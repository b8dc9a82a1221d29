"""The one line an expert reads about a group: ``55/57, (0.16, 0.91), {'Tree': '96.49', ...}``.

Kept apart from ``groups`` (which clusters, with scikit-learn) so that readers of groups,
such as the annotation service, format it without loading the clustering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def describe_group(row: Mapping[str, Any]) -> str:
    """The expert's one-line view: ``55/57, (0.16, 0.91), {'Tree': '96.49', ...}``."""
    scores = ("(-, -)" if _missing(row["score_min"])
              else f"({row['score_min']:.2f}, {row['score_max']:.2f})")
    mix = {k: f"{v:.2f}" for k, v in row["histogram"].items()} or "{unknown}"
    return f"{row['index']}/{row['of']}, {scores}, {mix}"


def _missing(value: Any) -> bool:
    return value is None or math.isnan(float(value))
