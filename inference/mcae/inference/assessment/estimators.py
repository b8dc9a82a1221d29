"""Stratified estimators of accuracy and area (Olofsson et al. 2014, eqs. 2-12).

Strata are the map's classes. ``counts[i, j]`` is the number of sample points of stratum
(map class) ``classes[i]`` whose reference class is ``classes[j]``; ``stratum_area[i]`` is
the mapped area of stratum ``i`` (pixels, m² or any unit: only proportions and the total
matter). Every estimate comes with its standard error; 95 % intervals are ± 1.96 SE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.96  # the convention of Olofsson et al. (2014) and of its printed example


@dataclass(frozen=True)
class Estimates:
    """The estimates of one sample (arrays indexed like ``classes``)."""

    classes: tuple[int, ...]
    counts: np.ndarray           # n_ij, stratum (map) rows, reference columns
    weights: np.ndarray          # W_i, mapped area proportion of each stratum
    proportions: np.ndarray      # p_ij, the error matrix in estimated area proportions
    overall: float               # OA
    overall_se: float
    users: np.ndarray            # UA_i (nan where a stratum has no point)
    users_se: np.ndarray
    producers: np.ndarray        # PA_j (nan where no area is estimated for class j)
    producers_se: np.ndarray
    area_proportion: np.ndarray  # p.j, estimated area proportion of each class
    area_proportion_se: np.ndarray
    total_area: float            # sum of the strata areas (the unit of ``stratum_area``)

    @property
    def area(self) -> np.ndarray:
        """Estimated (error-adjusted) area of each class."""
        return self.area_proportion * self.total_area

    @property
    def area_se(self) -> np.ndarray:
        return self.area_proportion_se * self.total_area


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def stratified_estimates(counts: np.ndarray, stratum_area: np.ndarray,
                         classes: tuple[int, ...] | list[int] | None = None) -> Estimates:
    """Olofsson et al. (2014) estimates from an error matrix of sample counts.

    A stratum with mapped area but no labelled point cannot be estimated: it is left out
    (its weight is spread over the others) and callers should report it. A stratum with
    one point has no variance estimate (n_i - 1 = 0): its variance terms count as 0.
    """
    n = np.asarray(counts, dtype=float)
    if n.ndim != 2 or n.shape[0] != n.shape[1]:
        raise ValueError("counts must be a square matrix (strata = map classes)")
    area = np.asarray(stratum_area, dtype=float)
    if area.shape != (n.shape[0],) or (area < 0).any():
        raise ValueError("stratum_area needs one non-negative area per class")
    k = n.shape[0]
    cls = tuple(int(c) for c in (classes if classes is not None else range(k)))
    n_i = n.sum(axis=1)
    sampled = (n_i > 0) & (area > 0)
    total = float(area.sum())
    w = np.where(sampled, area, 0.0)
    w = w / w.sum() if w.sum() > 0 else w
    row_share = _safe_div(n, n_i[:, None])                 # n_ij / n_i.
    row_share = np.where(sampled[:, None], row_share, 0.0)
    p = w[:, None] * row_share                             # eq. 4
    dof = np.where(n_i > 1, n_i - 1, np.inf)               # n_i. - 1 (no variance from one point)

    users = np.where(n_i > 0, _safe_div(np.diag(n), n_i), np.nan)              # eq. 2
    users_var = np.where(n_i > 0, users * (1 - np.nan_to_num(users)) / dof, np.nan)  # eq. 6
    overall = float(np.trace(p))                                                # eq. 1
    u0 = np.nan_to_num(users)
    overall_var = float(np.sum(w ** 2 * u0 * (1 - u0) / dof))                   # eq. 5

    p_col = p.sum(axis=0)                                  # p.j (eq. 9)
    area_var = np.sum((w[:, None] * p - p ** 2) / dof[:, None], axis=0)          # eq. 10

    producers = _safe_div(np.diag(p), p_col)                                     # eq. 3
    # eq. 7, with N_i. proportional to W_i (the total cancels)
    n_hat_col = np.sum(w[:, None] * row_share, axis=0)     # N^.j / N
    producers_var = np.full(k, np.nan)
    for j in range(k):
        if n_hat_col[j] <= 0:
            continue
        pj = producers[j]
        own = w[j] ** 2 * (1 - pj) ** 2 * u0[j] * (1 - u0[j]) / dof[j]
        others = sum(w[i] ** 2 * row_share[i, j] * (1 - row_share[i, j]) / dof[i] for i in range(k) if i != j)
        producers_var[j] = (own + pj ** 2 * others) / n_hat_col[j] ** 2
    return Estimates(
        classes=cls, counts=n.astype(int), weights=w, proportions=p, overall=overall,
        overall_se=float(np.sqrt(overall_var)), users=users, users_se=np.sqrt(users_var),
        producers=producers, producers_se=np.sqrt(producers_var), area_proportion=p_col,
        area_proportion_se=np.sqrt(area_var), total_area=total)


def error_matrix(strata: np.ndarray, reference: np.ndarray, classes: list[int] | tuple[int, ...]) -> np.ndarray:
    """Counts n_ij of labelled points: stratum (map class) rows, reference columns."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for s, r in zip(np.asarray(strata).tolist(), np.asarray(reference).tolist(), strict=True):
        out[index[int(s)], index[int(r)]] += 1
    return out
