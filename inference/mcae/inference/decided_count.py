"""How many masks a stream of decisions leaves decided, counted as they go by.

``len(mask_labels(decisions))`` builds a frame of every decided mask (tens of bytes a mask);
``DecidedCount`` keeps two bytes per mask id of each patch (a group decision's class and a
mask decision's), with the same rules: a mask decision overrides any group decision, among
decisions of one kind the later wins, and class 0 ("Unknown") leaves a mask undecided.
"""

from __future__ import annotations

import numpy as np

from mcae.inference.decisions import UNKNOWN, Decision

_NONE = 255  # no decision of this kind for the mask


class DecidedCount:
    """Decisions added one at a time (``add``, e.g. as a writer's ``seen``); ``count()``."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}  # patch -> (2, max id + 1): group, mask class
        self._odd: dict[tuple[str, int], list[int]] = {}  # negative mask ids: [group, mask]

    def _of(self, patch: str, top: int) -> np.ndarray:
        have = self._arrays.get(patch)
        if have is None or have.shape[1] <= top:
            size = max(top + 1, 2 * (have.shape[1] if have is not None else 0))
            grown = np.full((2, size), _NONE, np.uint8)
            if have is not None:
                grown[:, : have.shape[1]] = have
            self._arrays[patch] = have = grown
        return have

    def add(self, d: Decision) -> None:
        if d.target == "group":
            by_patch: dict[str, list[int]] = {}
            for p, m in d.masks or []:
                by_patch.setdefault(str(p), []).append(int(m))
            for name, listed in by_patch.items():
                mine = np.asarray(listed, dtype=np.int64)
                for m in mine[mine < 0].tolist():
                    self._odd.setdefault((name, m), [_NONE, _NONE])[0] = d.class_id
                mine = mine[mine >= 0]
                if len(mine):
                    self._of(name, int(mine.max()))[0, mine] = d.class_id
        else:
            patch, mask = d.patch or "", int(d.mask or 0)
            if mask < 0:
                self._odd.setdefault((patch, mask), [_NONE, _NONE])[1] = d.class_id
            else:
                self._of(patch, mask)[1, mask] = d.class_id

    def count(self) -> int:
        """Masks decided (a class other than "Unknown") by the decisions added so far."""
        total = 0
        for both in self._arrays.values():
            final = np.where(both[1] != _NONE, both[1], both[0])
            total += int(((final != _NONE) & (final != UNKNOWN)).sum())
        for group, mask in self._odd.values():
            final = mask if mask != _NONE else group
            total += int(final not in (_NONE, UNKNOWN))
        return total
