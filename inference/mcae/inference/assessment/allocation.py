"""Sample size and its allocation to strata (Olofsson et al. 2014, section 5.1)."""

from __future__ import annotations

import math

import numpy as np


def size_for_target_se(weights: np.ndarray, expected_ua: np.ndarray, target_se: float) -> int:
    """Points needed for a standard error ``target_se`` of overall accuracy (eq. 13):
    n = (sum W_i S_i / S(O))², S_i = sqrt(U_i (1 - U_i)), U_i the expected user's accuracy."""
    if not 0 < target_se < 1:
        raise ValueError("the target standard error is a proportion between 0 and 1")
    w = np.asarray(weights, dtype=float)
    u = np.clip(np.asarray(expected_ua, dtype=float), 0.0, 1.0)
    return math.ceil(float(np.sum(w * np.sqrt(u * (1 - u))) / target_se) ** 2)


def allocate(n: int, pixels: np.ndarray, min_per_class: int = 50) -> np.ndarray:
    """Points per stratum: ``min_per_class`` each (at most the stratum's pixels), the rest in
    proportion to the strata sizes (largest remainders). Empty strata get none."""
    size = np.asarray(pixels, dtype=np.int64)
    if n < 1:
        raise ValueError("the sample needs at least one point")
    if size.sum() < n:
        raise ValueError(f"the map has {int(size.sum())} pixels with a class, fewer than {n} points")
    base = np.minimum(size, max(min_per_class, 0))
    if base.sum() > n:  # the minimum alone is more than asked: share n equally, capped
        base = np.zeros_like(size)
        while base.sum() < n:
            growing = size > base
            base[growing] += 1
            excess = int(base.sum() - n)
            if excess > 0:  # undo the last round on the largest strata first
                for i in np.argsort(-size, kind="stable")[:excess]:
                    base[i] -= 1
        return base
    rest = n - int(base.sum())
    room = size - base
    share = rest * room / room.sum() if room.sum() else np.zeros(len(size))
    out = base + np.floor(share).astype(np.int64)
    left = n - int(out.sum())
    for i in np.argsort(-(share - np.floor(share)), kind="stable"):
        if left == 0:
            break
        if out[i] < size[i]:
            out[i] += 1
            left -= 1
    return out
