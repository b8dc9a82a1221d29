"""What ``train`` fits on at city size: spatial units, a spatial hold-out and a class-balanced
sample of the decided masks, and their features streamed patch by patch.

Everything here works on the labels alone (patch, mask id, class: a few bytes a mask) until
the sample is drawn; only the sampled masks' features are ever read, one patch table at a
time, so training memory is bounded by the budget, not by the city.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mcae.inference.project import Project
from mcae.inference.segment import feature_columns

SPATIAL_LEVELS = ("neighbourhoods", "patches")  # coarsest first; "groups" and "masks" follow


def balanced_sample(y: np.ndarray, budget: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``budget`` of ``y``: classes as even as their sizes allow.

    Water-filling: every class gets an equal share; a class smaller than its share gives all
    its masks and the rest of its share to the others. All positions when ``len(y) <= budget``.
    """
    if len(y) <= budget:
        return np.arange(len(y))
    ids, counts = np.unique(y, return_counts=True)
    quota = np.zeros(len(ids), dtype=np.int64)
    left = int(budget)
    for rank, i in enumerate(np.argsort(counts, kind="stable")):
        quota[i] = min(int(counts[i]), left // (len(ids) - rank))
        left -= int(quota[i])
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(y == c), int(q), replace=False) for c, q in zip(ids, quota, strict=True)]
    return np.sort(np.concatenate(picks))


def spatial_units(project: Project, patches: np.ndarray, min_units: int) -> tuple[str, np.ndarray | None]:
    """(level, one unit label per mask) for a spatial hold-out of masks in ``patches``.

    Whole neighbourhoods when the masks span at least ``min_units`` of them, else whole
    patches; (``"groups"``, None) when neither does (the caller falls back on groups)."""
    hood_of = {p.id: p.neighbourhood for p in project.grid.patches()}
    codes, uniques = pd.factorize(pd.Series(patches, dtype=object))
    hoods = np.asarray([hood_of.get(str(p), str(p)) for p in uniques], dtype=object)
    if len(set(hoods)) >= min_units:
        return "neighbourhoods", hoods[codes]
    if len(uniques) >= min_units:
        return "patches", np.asarray(uniques, dtype=object)[codes]
    return "groups", None


def holdout_split(units: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask of the held-out masks: whole units, drawn at random until ``fraction`` of
    the masks (at least one unit, never all of them)."""
    codes, uniques = pd.factorize(pd.Series(units, dtype=object))
    sizes = np.bincount(codes, minlength=len(uniques))
    order = np.random.default_rng(seed).permutation(len(uniques))
    taken = np.cumsum(sizes[order]) <= max(fraction * len(codes), sizes[order[0]])
    taken[0] = True
    if taken.all():
        taken[-1] = False
    held = np.zeros(len(uniques), dtype=bool)
    held[order[taken]] = True
    return held[codes]


def read_features(project: Project, keys: pd.MultiIndex,
                  advance: Callable[[], None] | None = None) -> pd.DataFrame:
    """Features of the masks ``keys`` ((patch, mask_id) pairs), rows in the order of ``keys``,
    read one patch table at a time (``advance`` is called after each). A key no patch table
    holds is left out."""
    frames = []
    wanted = pd.Series(np.arange(len(keys)), index=keys)
    for patch_id, part in wanted.groupby(level=0, sort=False):
        table = pd.read_parquet(project.patch_table(str(patch_id)))
        table = table[table["mask_id"].isin(part.index.get_level_values(1))]
        order = part.reindex(pd.MultiIndex.from_arrays([table["patch"], table["mask_id"].astype("int64")]))
        frames.append(table[feature_columns(table)].set_axis(order.to_numpy(), axis=0))
        if advance is not None:
            advance()
    if not frames:
        return pd.DataFrame(index=keys[:0])
    X = pd.concat(frames).sort_index()
    return X.set_axis(keys[X.index.to_numpy()], axis=0)
