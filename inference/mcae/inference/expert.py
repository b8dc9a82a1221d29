"""A simulated expert: labels whole groups by majority and corrects single masks.

It stands in for a person when a reference label raster exists (benchmarks, the
demo). Every step is one action, as for a person: labelling a group is one action,
correcting one mask is one action. It always takes the action that makes the most
pixels certain next: a group's majority class covers its undecided masks of that
class; once a group is labelled, each of its masks whose reference differs can be
corrected.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from mcae.inference.decisions import Decision

COLUMNS = ("patch", "mask_id", "neighbourhood", "group", "area")  # of groups.parquet, all it reads


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
        """Decisions for one round, yielded as they are taken (``actions_`` counts them so far):
        a city's decisions are written as they come, never held in a list.

        ``groups`` is ``groups.parquet``; ``reference`` has ``ref_class`` per mask;
        ``decided`` is the current mask labels (index patch, mask_id).
        """
        table = groups[list(COLUMNS)].merge(reference[["patch", "mask_id", "ref_class"]],
                                            on=["patch", "mask_id"], how="left")
        table["ref_class"] = table["ref_class"].fillna(0).astype(int)
        keys = pd.MultiIndex.from_frame(table[["patch", "mask_id"]].astype({"mask_id": "int64"}))
        if decided is not None and len(decided):
            table["label"] = decided["class_id"].reindex(keys).fillna(0).to_numpy().astype(int)
            table["via"] = decided["via"].reindex(keys).fillna("").to_numpy()
        else:
            table["label"], table["via"] = 0, ""
        table["decided"] = table["label"] > 0
        heap: list[tuple[int, int, tuple]] = []
        tie = 0
        # Masks an earlier group decision got wrong can still be corrected one by one.
        wrong_before = table[(table["via"] == "group") & (table["ref_class"] > 0)
                             & (table["label"] != table["ref_class"])]
        for row in wrong_before.itertuples():
            heapq.heappush(heap, (-int(row.area), tie,
                                  ("mask", row.patch, int(row.mask_id), int(row.ref_class))))
            tie += 1
        # Each group with open masks: its majority (largest area, the lower class on a tie),
        # in (neighbourhood, group) order; all at once, not group by group (a city has 100,000s).
        hood_group = ["neighbourhood", "group"]
        open_masks = table[~table["decided"] & (table["ref_class"] > 0)]
        per_class = open_masks.groupby([*hood_group, "ref_class"], sort=True)["area"].sum().reset_index()
        best = per_class.sort_values([*hood_group, "area", "ref_class"], ascending=[True, True, False, True],
                                     kind="stable").drop_duplicates(hood_group, keep="first")
        for hood, group, majority, gain in best[[*hood_group, "ref_class", "area"]].itertuples(index=False):
            heapq.heappush(heap, (-int(gain), tie, ("group", hood, group, int(majority))))
            tie += 1
        # The masks each group decision will get wrong (to correct next), found once.
        majority_of = best[[*hood_group, "ref_class"]].rename(columns={"ref_class": "majority"})
        wrong = table.reset_index(drop=True).reset_index(names="row").merge(majority_of, on=hood_group)
        wrong = wrong[(wrong["ref_class"] > 0) & (wrong["ref_class"] != wrong["majority"])].sort_values("row")
        wrong_of = wrong.groupby(hood_group, sort=False).indices
        w_area, w_patch = wrong["area"].to_numpy(), wrong["patch"].to_numpy()
        w_mask, w_ref = wrong["mask_id"].to_numpy(), wrong["ref_class"].to_numpy()
        del table, keys, wrong_before, open_masks, per_class, best, majority_of, wrong  # the heap holds the rest
        self.actions_ = 0
        while heap and (self.budget is None or self.actions_ < self.budget):
            neg_gain, _, action = heapq.heappop(heap)
            if -neg_gain < self.min_gain_pixels:
                break
            self.actions_ += 1
            if action[0] == "group":
                _, hood, group, majority = action
                yield Decision.model_validate({
                    "target": "group", "neighbourhood": hood, "group": group, "class": majority,
                    "source": "simulated"})
                for i in wrong_of.get((hood, group), ()):
                    heapq.heappush(heap, (-int(w_area[i]), tie, ("mask", w_patch[i], int(w_mask[i]), int(w_ref[i]))))
                    tie += 1
            else:
                _, patch, mask, cls = action
                yield Decision.model_validate({
                    "target": "mask", "patch": patch, "mask": mask, "class": cls,
                    "source": "simulated"})
