"""A simulated expert: labels whole groups by majority and corrects single masks.

It stands in for a person when a reference label raster exists (benchmarks, the
demo). Every step is one action, as for a person: labelling a group is one action,
correcting one mask is one action. It always takes the action that makes the most
pixels certain next: a group's majority class covers its undecided masks of that
class; once a group is labelled, each of its masks whose reference differs can be
corrected. Ties go to what was offered first: masks an earlier group decision got wrong
(in row order), then groups (in (neighbourhood, group) order), then each labelled group's
corrections (in the order the groups were labelled, rows in order).

At city size (``iter_decide_project``) nothing is held per mask but numbers: the choices are
gathered from ``groups.parquet`` a batch of rows at a time (``mcae.inference.expert_plan``),
and the actions are taken by merging sorted runs (the groups, and the corrections of each
group labelled so far), so the queue holds one entry per labelled group, not one per mask.
A budget takes the same actions, in the same order, as a queue of every action would.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mcae.inference.decisions import Decision
from mcae.inference.expert_plan import ExpertPlan, gather
from mcae.inference.patch_values import PatchValues
from mcae.inference.project import Project

COLUMNS = ("patch", "mask_id", "neighbourhood", "group", "area")  # of groups.parquet, all it reads
BATCH_ROWS = 65_536  # rows of groups.parquet read at a time
_STATIC = -1  # the run of the actions known from the start (earlier groups' mistakes, groups)


@dataclass
class SimulatedExpert:
    """Greedy expert with an action ``budget`` (None: until nothing is left to gain)."""

    budget: int | None = None
    min_gain_pixels: int = 1
    actions_: int = field(default=0, init=False)

    def decide(self, groups: pd.DataFrame, reference: pd.DataFrame,
               decided: pd.DataFrame | None = None) -> list[Decision]:
        """Decisions for one round, as a list (``iter_decide`` yields them one at a time)."""
        return list(self.iter_decide(groups, reference, decided))

    def iter_decide(self, groups: pd.DataFrame, reference: pd.DataFrame,
                    decided: pd.DataFrame | None = None) -> Iterator[Decision]:
        """Decisions for one round, yielded as they are taken (``actions_`` counts them so far).

        ``groups`` is ``groups.parquet``; ``reference`` has ``ref_class`` per mask;
        ``decided`` is the current mask labels (index patch, mask_id). Group decisions name
        their group, not its masks (``iter_resolved`` fills them in).
        """
        table = groups[list(COLUMNS)].merge(reference[["patch", "mask_id", "ref_class"]],
                                            on=["patch", "mask_id"], how="left")
        table["ref_class"] = table["ref_class"].fillna(0).astype(int)
        keys = pd.MultiIndex.from_frame(table[["patch", "mask_id"]].astype({"mask_id": "int64"}))
        if decided is not None and len(decided):
            table["label"] = decided["class_id"].reindex(keys).fillna(0).to_numpy().astype(int)
            table["via_group"] = (decided["via"].reindex(keys) == "group").to_numpy()
        else:
            table["label"], table["via_group"] = 0, False
        frames = [table]
        del table, keys
        plan = gather(lambda: frames)
        frames.clear()
        yield from self._take(plan)

    def iter_decide_project(self, project: Project, reference: PatchValues,
                            decided: pd.DataFrame | None = None) -> Iterator[Decision]:
        """The decisions of ``iter_decide`` for the whole project, each group decision with its
        masks filled in, in memory bounded by numbers per mask (see the module docs).

        ``reference``: the reference class of each mask (``reference_classes``); ``decided``: the
        current mask labels (``mask_labels``), read once into a byte per mask."""
        labels = via_group = None
        if decided is not None and len(decided):
            patches = decided.index.get_level_values(0).to_numpy()
            ids = decided.index.get_level_values(1).to_numpy()
            labels = PatchValues.from_pairs(patches, ids, decided["class_id"].to_numpy(np.uint8))
            via_group = PatchValues.from_pairs(patches, ids, (decided["via"] == "group").to_numpy())
            del patches, ids
        del decided
        path = project.require(project.groups_path, "mcae segment")

        def batches() -> Iterator[pd.DataFrame]:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(BATCH_ROWS, columns=list(COLUMNS)):
                frame = batch.to_pandas()
                patch, mask = frame["patch"].to_numpy(), frame["mask_id"].to_numpy()
                frame["ref_class"] = reference.lookup(patch, mask)
                frame["label"] = labels.lookup(patch, mask) if labels is not None else 0
                frame["via_group"] = via_group.lookup(patch, mask) if via_group is not None else False
                yield frame

        yield from self._take(gather(batches, members=True))

    def _take(self, plan: ExpertPlan) -> Iterator[Decision]:
        """The actions, best gain first, as one queue of them all would take them: the sorted
        run known from the start, and each labelled group's corrections, merged."""
        before, wrong, start = plan.before, plan.wrong, plan.wrong_start
        groups = np.flatnonzero(plan.rank >= 0)
        # the run known from the start: earlier mistakes (tie = row rank), then groups
        gain = np.concatenate([before.area, plan.gain[groups]])
        tie = np.concatenate([np.arange(len(before.area)), len(before.area) + plan.rank[groups]])
        order = np.lexsort((tie, -gain))
        gain, tie = gain[order].tolist(), tie[order].tolist()
        what = order.tolist()  # < len(before.area): a correction; beyond: a group
        n_before = len(before.area)
        counter = len(tie)  # the tie of the next action offered, as a queue would number it
        base = np.zeros(len(plan.majority), np.int64)  # per group: the tie of its first correction
        heap: list[tuple[int, int, int, int]] = []
        if gain:
            heap.append((-gain[0], tie[0], _STATIC, 0))
        self.actions_ = 0
        while heap and (self.budget is None or self.actions_ < self.budget):
            neg_gain, _, run, pos = heapq.heappop(heap)
            if -neg_gain < self.min_gain_pixels:
                break
            self.actions_ += 1
            if run == _STATIC:
                if pos + 1 < len(gain):
                    heapq.heappush(heap, (-gain[pos + 1], tie[pos + 1], _STATIC, pos + 1))
                item = what[pos]
                if item < n_before:
                    yield _mask_decision(plan.patches[int(before.patch[item])], int(before.mask[item]),
                                         int(before.ref[item]))
                    continue
                g = int(groups[item - n_before])
                yield self._group_decision(plan, g)
                first, end = int(start[g]), int(start[g + 1])
                if first < end:  # its corrections, offered in row order
                    base[g] = counter
                    counter += end - first
                    heapq.heappush(heap, (-int(wrong.area[first]), int(base[g] + wrong.key[first]), g, first))
            else:
                yield _mask_decision(plan.patches[int(wrong.patch[pos])], int(wrong.mask[pos]), int(wrong.ref[pos]))
                if pos + 1 < int(start[run + 1]):
                    heapq.heappush(heap, (-int(wrong.area[pos + 1]), int(base[run] + wrong.key[pos + 1]),
                                          run, pos + 1))

    @staticmethod
    def _group_decision(plan: ExpertPlan, g: int) -> Decision:
        hood, group = plan.groups[g]
        masks = None
        if plan.member_start is not None and plan.member_patch is not None and plan.member_mask is not None:
            rows = slice(int(plan.member_start[g]), int(plan.member_start[g + 1]))
            names = plan.patches
            masks = [(names[p], m) for p, m in zip(plan.member_patch[rows].tolist(),
                                                    plan.member_mask[rows].tolist(), strict=True)]
        # built, not validated: a majority class of the reference (1-9) and the plan's own keys
        # (validating each of a city's million decisions took a quarter of the expert's time)
        return Decision.model_construct(target="group", neighbourhood=hood, group=group,
                                        class_id=int(plan.majority[g]), masks=masks, source="simulated")


def _mask_decision(patch: str, mask: int, cls: int) -> Decision:
    return Decision.model_construct(target="mask", patch=patch, mask=mask, class_id=cls, source="simulated")
