"""The groups' counters of an import, added up from the mask stream itself.

``mask_classes.refresh_totals`` recounts groups from their rows in the masks table (the right
tool for a write that touches a few groups). An import touches every group, and re-reading
every mask (and decoding the JSON of its probabilities for the class mix) was most of its
time; ``GroupTotals`` adds up the same figures from the batches as they stream past, in numpy,
with one array row per group (never per mask), then writes them with one ``executemany``.

Same rules as ``refresh_totals``: present masks only; a mask is decided when it has a class;
open = undecided and not sent to refinement; gain = open area x (1 - predicted score);
the mix counts a decided mask as one on its class and an undecided one by its probabilities
(rounded to 5 places, as stored). ``tests/test_annotation_import_bulk.py`` holds the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from mcae.inference.classes import N_CLASSES

ROWS = 5000  # groups made into rows at a time
SCALARS = ("area", "decided_area", "open_area", "open_masks", "masks", "decided", "refine")


class GroupTotals:
    """Per group (by primary key): the counters ``refresh_totals`` keeps, accumulated batch by batch."""

    def __init__(self, group_pks: np.ndarray, small: np.ndarray) -> None:
        """``small``: per group, whether it is smaller than the project's ``min_group_size``
        (its undecided masks go to refinement: ``send_small_groups``)."""
        self.pks = np.asarray(group_pks, np.int64)
        self.small = np.asarray(small, bool)
        n = len(self.pks)
        self.counts = np.zeros((n, len(SCALARS)), np.int64)
        self.gain = np.zeros(n)
        self.mix = np.zeros((n, N_CLASSES))

    def add(self, index: np.ndarray, area: np.ndarray, score: np.ndarray, proba: np.ndarray,
            class_id: np.ndarray, refine: np.ndarray) -> None:
        """One batch of present masks: ``index`` their group's position in ``group_pks``;
        ``score`` NaN where missing; ``proba`` (masks x classes) NaN where missing;
        ``class_id`` 0 where undecided; ``refine`` as stored before the import."""
        index = np.asarray(index, np.int64)
        area = np.asarray(area, np.int64)
        decided = np.asarray(class_id) > 0
        refine = np.asarray(refine, bool) | (~decided & self.small[index])  # what send_small_groups does
        is_open = ~decided & ~refine
        n = len(self.pks)

        def total(values: np.ndarray) -> np.ndarray:
            return np.bincount(index, weights=values, minlength=n)

        columns = (area, np.where(decided, area, 0), np.where(is_open, area, 0), is_open, np.ones_like(area),
                   decided, ~decided & refine)
        for i, values in enumerate(columns):
            self.counts[:, i] += np.rint(total(np.asarray(values, np.float64))).astype(np.int64)
        confidence = np.nan_to_num(np.asarray(score, np.float64), nan=0.0)
        self.gain += total(np.where(is_open, area * (1.0 - confidence), 0.0))
        weights = np.nan_to_num(np.round(np.asarray(proba, np.float64), 5), nan=0.0, posinf=0.0, neginf=0.0)
        weights[decided] = 0.0
        rows = np.flatnonzero(decided)
        weights[rows, np.asarray(class_id)[rows] - 1] = 1.0
        np.add.at(self.mix, index, weights)

    def write(self, session: Session) -> None:
        """Every group's counters (the mix as its JSON text), made into rows ``ROWS`` groups at a
        time (a city's 100,000 groups as Python rows at once were 60 MB of the import's peak):
        PostgreSQL copies them into a temporary table and applies one ``UPDATE ... FROM``; SQLite
        one driver ``executemany`` a chunk."""
        if not len(self.pks):
            return
        connection = session.connection()
        raw: Any = connection.connection.driver_connection
        names = (*SCALARS, "gain", "mix")
        if connection.dialect.name == "postgresql":
            with raw.cursor() as cursor:
                cursor.execute("CREATE TEMP TABLE import_group_totals (area bigint, decided_area bigint, "
                               "open_area bigint, open_masks bigint, masks bigint, decided bigint, refine bigint, "
                               "gain double precision, mix text, id bigint) ON COMMIT DROP")
                with cursor.copy(f"COPY import_group_totals ({', '.join((*names, 'id'))}) FROM STDIN") as copy:
                    for rows in self._rows():
                        for row in rows:
                            copy.write_row(row)
                sets = ", ".join(f"{k} = t.{k}{'::json' if k == 'mix' else ''}" for k in names)
                cursor.execute(f"UPDATE groups AS g SET {sets} FROM import_group_totals AS t WHERE g.id = t.id")
                cursor.execute("DROP TABLE import_group_totals")
            return
        sql = f"UPDATE groups SET {', '.join(f'{k} = ?' for k in names)} WHERE id = ?"
        for rows in self._rows():
            raw.executemany(sql, rows)

    def _rows(self) -> Iterator[list[tuple[Any, ...]]]:
        """(counters..., gain, mix as JSON, pk) per group, ``ROWS`` groups at a time."""
        for start in range(0, len(self.pks), ROWS):
            part = slice(start, start + ROWS)
            gains = np.round(self.gain[part], 3).tolist()
            mixes = np.round(self.mix[part], 6).tolist()
            yield [(*counts, gains[i], json.dumps(mixes[i]), pk)
                   for i, (pk, counts) in enumerate(zip(self.pks[part].tolist(), self.counts[part].tolist(),
                                                        strict=True))]
