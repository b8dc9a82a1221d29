"""A decisions file made elsewhere, checked against a project's groups, then streamed.

What ``mcae label --decisions`` records. A city's file may hold a million decisions and its
groups table millions of masks, so neither is read whole:

1. the file is read once, line by line, for the keys it names: the groups of group decisions
   that do not list their masks, and the (patch, mask) of mask decisions;
2. ``groups.parquet`` is read a batch at a time: the named masks are looked for, and the
   members of the named groups kept as two small integers each (a patch's code and the mask id);
3. an unknown group or mask is refused (``InputError``, the first in file order) before anything
   is recorded; then each iteration reads the file again, a decision at a time, group decisions
   with their member masks filled in.

Memory: the keys the file names, and the named groups' members at 8 bytes each; never a
frame of the city's masks, never a list of the file's decisions.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mcae.inference.decisions import Decision, iter_decisions_file
from mcae.inference.errors import InputError

BATCH_ROWS = 65_536  # rows of groups.parquet read at a time
_SEP = "\x1f"  # joins the parts of a key (unit separator: in no name)

GroupKey = tuple[str, str]  # (neighbourhood, group)
MaskKey = tuple[str, int]  # (patch, mask id)


class CheckedDecisions:
    """The decisions of ``path``, checked against ``groups_path`` when made (``InputError`` for
    an unknown group or mask, or a line that does not parse), then read from the file again at
    each iteration, one at a time, group decisions with their members (``masks``) filled in."""

    def __init__(self, path: str | Path, groups_path: str | Path, batch_rows: int = BATCH_ROWS) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{path}: no such decisions file")
        groups, masks = _named(self.path)
        self.patches_: list[str] = []
        self.members_: dict[GroupKey, tuple[array[int], array[int]]] = {key: (array("i"), array("i"))
                                                                        for key in groups}
        found = self._scan(Path(groups_path), masks, batch_rows)
        for patch, mask in masks:
            if (patch, mask) not in found:
                raise InputError(f"no mask {mask} in patch {patch} (or it lies in a neighbour's core)")
        for (neighbourhood, group), (codes, _) in self.members_.items():
            if not codes:
                raise InputError(f"no group {group} in neighbourhood {neighbourhood}")

    def __iter__(self) -> Iterator[Decision]:
        for d in iter_decisions_file(self.path):
            if d.target == "group" and d.masks is None:
                codes, ids = self.members_[(str(d.neighbourhood), str(d.group))]
                d = d.model_copy(update={"masks": [(self.patches_[c], m) for c, m in zip(codes, ids, strict=True)]})
            yield d

    def _scan(self, groups_path: Path, masks: dict[MaskKey, None], batch_rows: int) -> set[MaskKey]:
        """Members of the named groups, and which named masks exist, a batch of rows at a time."""
        group_keys = pa.array([f"{n}{_SEP}{g}" for n, g in self.members_], pa.large_string())
        mask_keys = pa.array([f"{p}{_SEP}{m}" for p, m in masks], pa.large_string())
        separator = pa.scalar(_SEP, pa.large_string())
        codes: dict[str, int] = {}
        found: set[MaskKey] = set()
        columns = ["patch", "mask_id", "neighbourhood", "group"]
        for batch in pq.ParquetFile(groups_path).iter_batches(batch_size=batch_rows, columns=columns):
            patch, mask_id = _text(batch.column(0)), batch.column(1)
            if len(group_keys):
                key = pc.binary_join_element_wise(_text(batch.column(2)), _text(batch.column(3)), separator)
                hit = pc.is_in(key, value_set=group_keys)
                for k, p, m in zip(*(pc.filter(c, hit).to_pylist() for c in (key, patch, mask_id)), strict=True):
                    neighbourhood, group = k.split(_SEP, 1)
                    member_codes, member_ids = self.members_[(neighbourhood, group)]
                    member_codes.append(codes.setdefault(p, len(codes)))
                    member_ids.append(m)
            if len(mask_keys):
                key = pc.binary_join_element_wise(patch, pc.cast(mask_id, pa.large_string()), separator)
                hit = pc.is_in(key, value_set=mask_keys)
                found.update(zip(pc.filter(patch, hit).to_pylist(), pc.filter(mask_id, hit).to_pylist(), strict=True))
        self.patches_ = list(codes)
        return found


def _named(path: Path) -> tuple[dict[GroupKey, None], dict[MaskKey, None]]:
    """The group keys (of group decisions without masks) and mask keys ``path`` names, in file
    order; every line parsed (a bad one is refused here, before anything is recorded)."""
    groups: dict[GroupKey, None] = {}
    masks: dict[MaskKey, None] = {}
    for d in iter_decisions_file(path):
        if d.target == "group" and d.masks is None:
            groups[(str(d.neighbourhood), str(d.group))] = None
        elif d.target == "mask":
            masks[(str(d.patch), int(d.mask or 0))] = None
    return groups, masks


def _text(column: pa.Array) -> pa.Array:
    return column if pa.types.is_large_string(column.type) else pc.cast(column, pa.large_string())
