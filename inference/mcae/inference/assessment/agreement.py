"""Agreement of two experts on the points both labelled (can't-tell answers left out)."""

from __future__ import annotations

import numpy as np


def agreement(first: list[int], second: list[int]) -> dict[str, float | int | None]:
    """Share of points with the same class, and Cohen's kappa, over pairs of labels."""
    n = len(first)
    if n != len(second):
        raise ValueError("one second label per first label")
    if n == 0:
        return {"pairs": 0, "agreement": None, "kappa": None}
    a, b = np.asarray(first), np.asarray(second)
    observed = float(np.mean(a == b))
    classes = np.union1d(a, b)
    expected = float(sum(np.mean(a == c) * np.mean(b == c) for c in classes))
    kappa = None if expected >= 1 else (observed - expected) / (1 - expected)
    return {"pairs": n, "agreement": observed, "kappa": kappa}
