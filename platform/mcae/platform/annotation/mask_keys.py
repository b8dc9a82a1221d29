"""``(patch, mask id) -> primary key`` of a project's masks: the one resolver of masks named by
their engine keys (an engine decision's, a Load line's).

Each patch's masks are read once, by the masks table's ``(project, patch, mask id)`` index, and
kept as two arrays indexed by mask id (the primary key, 8 bytes, and whether the mask is live:
present in the latest import and in a group, 1 byte), so a city's decisions resolve in one
query a patch rather than one lookup a mask.
"""

from __future__ import annotations

import itertools

import numpy as np
from sqlalchemy import and_, case, select
from sqlalchemy.orm import Session

from mcae.platform.annotation.fast_rows import read_tuples
from mcae.platform.annotation.models import Mask


class MaskPks:
    """The primary keys of one project's masks, by ``(patch, mask id)``, read a patch at a time."""

    def __init__(self, session: Session, project_id: str) -> None:
        self.session, self.project_id = session, project_id
        self.patches: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, patch: str, mask_id: int, live_only: bool = False) -> int | None:
        """The mask's primary key; None if the project has no such mask (``live_only``: or it is
        absent from the latest import, or in no group: it lies in a neighbour's core)."""
        pks, live = self._patch(patch)
        if not 0 <= mask_id < len(pks) or (live_only and not live[mask_id]):
            return None
        return int(pks[mask_id]) or None

    def _patch(self, patch: str) -> tuple[np.ndarray, np.ndarray]:
        found = self.patches.get(patch)
        if found is None:
            found = self.patches[patch] = self._read(patch)
        return found

    def _read(self, patch: str) -> tuple[np.ndarray, np.ndarray]:
        live = case((and_(Mask.present.is_(True), Mask.group_id.is_not(None)), 1), else_=0)
        self.session.flush()  # (read with the driver: as an ORM read would have autoflushed)
        result = read_tuples(self.session, select(Mask.mask_id, Mask.id, live).where(
            Mask.project_id == self.project_id, Mask.patch == patch))
        # flat through fromiter: numpy probing each Row object as a sequence costs 20 times more
        rows = np.fromiter(itertools.chain.from_iterable(result), np.int64).reshape(-1, 3)
        size = int(rows[:, 0].max()) + 1 if len(rows) else 0
        pks, flags = np.zeros(size, np.int64), np.zeros(size, bool)
        pks[rows[:, 0]], flags[rows[:, 0]] = rows[:, 1], rows[:, 2].astype(bool)
        return pks, flags
