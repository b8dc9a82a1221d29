"""What ``train`` fits on at city size: spatial units, a spatial hold-out and a class-balanced
sample of the decided masks, and their features streamed patch by patch.

Everything here works on the labels alone (patch, mask id, class: a few bytes a mask) until
the sample is drawn; only the sampled masks' features are ever read, one patch table at a
time, so training memory is bounded by the budget, not by the city.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mcae.inference.decisions import Decision, MaskLabels
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


@dataclass
class Labels:
    """The decided masks of a city as numbers (``MaskLabels.compact``), in (patch, mask id)
    order: ``patch`` codes into ``names``, ``mask`` ids, class ``y``. About 13 bytes a mask."""

    names: np.ndarray
    patch: np.ndarray
    mask: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, decisions: Iterable[Decision]) -> Labels:
        tally = MaskLabels()
        for d in decisions:
            tally.add(d)
        return cls(*tally.compact())

    def __len__(self) -> int:
        return len(self.y)

    def keys(self, rows: np.ndarray | slice = slice(None)) -> pd.MultiIndex:
        """The (patch, mask_id) index of ``rows``."""
        return pd.MultiIndex.from_arrays([self.names[self.patch[rows]], self.mask[rows]], names=["patch", "mask_id"])

    def series(self) -> pd.Series:
        """``class_id`` by (patch, mask_id), as ``mask_labels`` gives it (small projects)."""
        return pd.Series(self.y.astype(np.int64), index=self.keys(), name="class_id")

    def drop(self) -> None:
        """Let go of the city's labels (the sample drawn, before the fit)."""
        self.patch, self.mask, self.y = (np.zeros(0, a.dtype) for a in (self.patch, self.mask, self.y))


def spatial_units(project: Project, patches: np.ndarray, min_units: int) -> tuple[str, np.ndarray | None]:
    """(level, one unit label per mask) for a spatial hold-out of masks in ``patches``.

    Whole neighbourhoods when the masks span at least ``min_units`` of them, else whole
    patches; (``"groups"``, None) when neither does (the caller falls back on groups)."""
    codes, uniques = pd.factorize(pd.Series(patches, dtype=object))
    unit, of_patch, names = unit_codes(project, np.asarray(uniques, dtype=object), min_units)
    return unit, None if of_patch is None else names[of_patch[codes]]


def unit_codes(project: Project, patches: np.ndarray,
               min_units: int) -> tuple[str, np.ndarray | None, np.ndarray]:
    """``spatial_units`` for each of the distinct ``patches``: (level, a unit code per patch,
    the units' names); a mask's unit is ``names[codes[its patch]]``, one code per name."""
    hood_of = {p.id: p.neighbourhood for p in project.grid.patches()}
    hoods = np.asarray([hood_of.get(str(p), str(p)) for p in patches], dtype=object)
    if len(set(hoods)) >= min_units:
        codes, names = pd.factorize(pd.Series(hoods, dtype=object))
        return "neighbourhoods", codes.astype(np.int32), np.asarray(names, dtype=object)
    if len(patches) >= min_units:
        codes, names = pd.factorize(pd.Series(patches, dtype=object))
        return "patches", codes.astype(np.int32), np.asarray(names, dtype=object)
    return "groups", None, np.zeros(0, dtype=object)


def holdout_split(units: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask of the held-out masks: whole units, drawn at random until ``fraction`` of
    the masks (at least one unit, never all of them)."""
    units = np.asarray(units)
    codes, uniques = pd.factorize(units if units.dtype.kind in "iub" else pd.Series(units, dtype=object))
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
