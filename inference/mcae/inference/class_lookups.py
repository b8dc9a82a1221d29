"""Per patch, mask id -> map class, streamed from ``groups.parquet`` in bounded memory.

What ``map`` and ``export-dataset`` paint: a mask's class is the expert's decision when
there is one, else the classifier's prediction (``dense``); ``sparse`` keeps the decided
masks only (the rest 0). The groups table is read in record batches of three columns, never
as one frame, so what stays in memory is one byte per mask per lookup (a 4-million-mask
city: a few MB), not the table (hundreds of MB of strings and probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from mcae.inference.decisions import Decision, mask_labels, read_decisions
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


def class_lookups(project: Project, decisions: list[Decision] | None = None) -> ClassLookups:
    """The lookups of the project's map (decisions: default the project's decisions file).

    ProjectStateError when there is no model and some mask has no decision (no map to paint)."""
    labels = mask_labels(read_decisions(project) if decisions is None else decisions)["class_id"]
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
    if not labels.empty:
        for patch, part in labels.groupby(level="patch", sort=False):
            present = known.get(str(patch))
            if present is None:
                continue
            ids = part.index.get_level_values("mask_id").to_numpy(np.int64)
            keep = ids < present.size
            ids, classes = ids[keep], part.to_numpy()[keep].astype(np.uint8)
            keep = present[ids]
            ids, classes = ids[keep], classes[keep]
            out.dense[str(patch)][ids] = classes
            _grow(out.sparse, str(patch), present.size)[ids] = classes
            out.decided += int(ids.size)
    if not project.has_model() and out.decided < out.masks:
        raise ProjectStateError(
            f"no trained model yet and {out.masks - out.decided} masks have no decision, so there is no map to "
            "write; label groups (`mcae label`), then `mcae train`, then `mcae map`")
    return out

