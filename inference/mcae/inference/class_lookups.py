"""Per patch, mask id -> map class, streamed from ``groups.parquet`` in bounded memory.

What ``map`` and ``export-dataset`` paint: a mask's class is the expert's decision when
there is one, else the classifier's prediction (``dense``); ``sparse`` keeps the decided
masks only (the rest 0). The groups table is read in record batches of three columns, never
as one frame, and the decisions file line by line, so what stays in memory is one byte per mask
per lookup (a 4-million-mask city: a few MB), not the table (hundreds of MB of strings and
probabilities) nor a Python object per decided mask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from mcae.inference.decisions import Decision, iter_decisions
from mcae.inference.errors import ProjectStateError
from mcae.inference.project import Project

BATCH_ROWS = 262_144


@dataclass
class ClassLookups:
    """``dense`` and ``sparse`` lookups per patch (uint8, index = mask id), and counts."""

    dense: dict[str, np.ndarray] = field(default_factory=dict)
    sparse: dict[str, np.ndarray] = field(default_factory=dict)
    masks: int = 0  # masks of the groups table
    decided: int = 0  # of them, decided by an expert

    def lookup(self, mode: str, patch_id: str) -> np.ndarray:
        """The lookup of one patch (``mode``: dense or sparse); [0] for a patch without masks."""
        return getattr(self, mode).get(patch_id, np.zeros(1, np.uint8))


def _grow(table: dict[str, np.ndarray], patch: str, size: int, dtype: type = np.uint8) -> np.ndarray:
    lut = table.get(patch)
    if lut is None or lut.size < size:
        grown: np.ndarray = np.zeros(max(size, 1), dtype)
        if lut is not None:
            grown[: lut.size] = lut
        table[patch] = lut = grown
    return lut


def class_lookups(project: Project, decisions: Iterable[Decision] | None = None) -> ClassLookups:
    """The lookups of the project's map (decisions: default the project's decisions file, read
    line by line).

    The decisions are applied to the lookups as they come, one byte a mask, never as a table
    of decided masks: group decisions in order, then mask decisions over them (a mask decision
    overrides any group decision; among one kind the later wins; class 0 undecides).
    ProjectStateError when there is no model and some mask has no decision (no map to paint)."""
    out = ClassLookups()
    known: dict[str, np.ndarray] = {}
    source = pq.ParquetFile(project.require(project.groups_path, "mcae segment"))
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=["patch", "mask_id", "pred_class"]):
        frame = batch.to_pandas()
        out.masks += len(frame)
        for patch, part in frame.groupby("patch", sort=False):
            ids = part["mask_id"].to_numpy(np.int64)
            size = int(ids.max()) + 1
            _grow(out.dense, str(patch), size)[ids] = part["pred_class"].to_numpy().astype(np.uint8)
            _grow(known, str(patch), size, bool)[ids] = True
        del frame
    _apply(out, known, iter_decisions(project) if decisions is None else decisions)
    if not project.has_model() and out.decided < out.masks:
        raise ProjectStateError(
            f"no trained model yet and {out.masks - out.decided} masks have no decision, so there is no map to "
            "write; label groups (`mcae label`), then `mcae train`, then `mcae map`")
    return out


def _apply(out: ClassLookups, known: dict[str, np.ndarray], decisions: Iterable[Decision]) -> None:
    """Paint the decisions into ``out.sparse`` (and over ``out.dense``), masks of ``known`` only."""
    overrides: dict[str, np.ndarray] = {}  # per patch with mask decisions: class, -1 where none
    for d in decisions:
        if d.target == "group":
            for patch, ids in _by_patch(d.masks or []).items():
                present = known.get(patch)
                if present is not None:
                    ids = ids[(ids >= 0) & (ids < present.size)]
                    _grow(out.sparse, patch, present.size)[ids] = d.class_id
        else:
            patch, mask = d.patch or "", int(d.mask or 0)
            present = known.get(patch)
            if present is not None and 0 <= mask < present.size:
                if patch not in overrides:
                    overrides[patch] = np.full(present.size, -1, np.int16)
                overrides[patch][mask] = d.class_id
    for patch, override in overrides.items():
        lut, given = _grow(out.sparse, patch, override.size), override >= 0
        lut[given] = override[given]
    for patch, lut in out.sparse.items():
        lut[~known[patch]] = 0
        decided = lut > 0
        out.dense[patch][decided] = lut[decided]
        out.decided += int(decided.sum())


def _by_patch(masks: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    """A group decision's (patch, mask id) pairs as mask ids per patch."""
    by: dict[str, list[int]] = {}
    for patch, mask in masks:
        by.setdefault(str(patch), []).append(int(mask))
    return {patch: np.asarray(ids, np.int64) for patch, ids in by.items()}
