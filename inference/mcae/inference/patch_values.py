"""A small value per mask of a whole city (a class, a flag), kept as one array per patch.

Indexed by mask id (position ``mask_id - 1``), a few bytes a mask and no Python object per
mask: 3.5 MB per byte of value for a city of 3.5 M masks, where a pandas frame keyed by
(patch, mask id) takes tens of bytes a mask. Looked up a batch of (patch, mask id) pairs at a
time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


class PatchValues:
    """Values per mask as one array per patch (``arrays[patch][mask_id - 1]``); a mask no
    array covers (unknown patch, id out of range) has ``default``."""

    def __init__(self, arrays: Mapping[str, np.ndarray], default: Any = 0,
                 dtype: np.dtype[Any] | type | None = None) -> None:
        names = [str(n) for n in arrays]
        parts = [np.asarray(a) for a in arrays.values()]
        sizes = np.array([len(a) for a in parts], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._where = {n: (int(s), int(z)) for n, s, z in zip(names, starts, sizes, strict=True)}
        kind = dtype or (parts[0].dtype if parts else np.uint8)
        self.values = np.concatenate(parts).astype(kind, copy=False) if parts else np.zeros(0, kind)
        self.default = default

    @classmethod
    def from_pairs(cls, patches: np.ndarray, mask_ids: np.ndarray, values: np.ndarray,
                   default: Any = 0) -> PatchValues:
        """From one value per (patch, mask id) pair (a later pair wins over an earlier one)."""
        values = np.asarray(values)
        codes, names = pd.factorize(pd.Series(np.asarray(patches, dtype=object)))
        ids = np.asarray(mask_ids, dtype=np.int64)
        arrays: dict[str, np.ndarray] = {}
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        for code, name in enumerate(names):
            rows = order[bounds[code]:bounds[code + 1]]
            keep = ids[rows] >= 1
            rows = rows[keep]
            out = np.full(int(ids[rows].max(initial=0)), default, dtype=values.dtype)
            out[ids[rows] - 1] = values[rows]
            arrays[str(name)] = out
        return cls(arrays, default, values.dtype)

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, patches: np.ndarray, mask_ids: np.ndarray) -> np.ndarray:
        """The values of the masks (``patches[i]``, ``mask_ids[i]``)."""
        codes, names = pd.factorize(pd.Series(np.asarray(patches, dtype=object)))
        where = np.array([self._where.get(str(n), (0, 0)) for n in names], dtype=np.int64).reshape(-1, 2)
        ids = np.asarray(mask_ids, dtype=np.int64) - 1
        out = np.full(len(ids), self.default, dtype=self.values.dtype)
        if not len(names):
            return out
        start, size = where[codes, 0], where[codes, 1]
        ok = (codes >= 0) & (ids >= 0) & (ids < size)
        out[ok] = self.values[start[ok] + ids[ok]]
        return out
