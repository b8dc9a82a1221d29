"""The simulated expert: group majority labels, single-mask corrections, budget."""

from __future__ import annotations

import pandas as pd

from mcae.inference.decisions import mask_labels, resolve
from mcae.inference.expert import SimulatedExpert


def _groups() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    # Group 1-0: 5 masks, 4 Tree (one big Water mask inside); group 2-0: 3 Building masks.
    for i, (area, ref) in enumerate([(10, 5), (10, 5), (10, 5), (10, 5), (30, 6)], start=1):
        rows.append(("0-0", i, "0-0", area, "1-0", ref))
    for i, (area, ref) in enumerate([(20, 8), (20, 8), (5, 0)], start=6):
        rows.append(("0-0", i, "0-0", area, "2-0", ref))
    table = pd.DataFrame(rows, columns=["patch", "mask_id", "neighbourhood", "area", "group",
                                        "ref_class"])
    return table.drop(columns="ref_class"), table[["patch", "mask_id", "ref_class"]]


def test_greedy_actions_and_budget() -> None:
    groups, reference = _groups()
    expert = SimulatedExpert(budget=2)
    decisions = expert.decide(groups, reference)
    assert expert.actions_ == 2
    # Biggest gain first: group 1-0 (40 px of Tree) then 2-0 (40 px of Building, id order).
    assert [(d.target, d.group, d.class_id) for d in decisions] == [
        ("group", "1-0", 5), ("group", "2-0", 8)]
    full = SimulatedExpert().decide(groups, reference)
    assert full[-1].target == "mask" and full[-1].mask == 5 and full[-1].class_id == 6
    labels = mask_labels(resolve(full, groups))
    assert labels.loc[("0-0", 5), "class_id"] == 6 and labels.loc[("0-0", 1), "class_id"] == 5
    assert labels.loc[("0-0", 8), "class_id"] == 8  # unknown reference: takes its group's label


def test_decided_masks_are_not_labelled_again() -> None:
    groups, reference = _groups()
    first = resolve(SimulatedExpert().decide(groups, reference), groups)
    again = SimulatedExpert().decide(groups, reference, mask_labels(first))
    assert again == []


def test_masks_wrong_after_an_earlier_round_are_corrected_later() -> None:
    groups, reference = _groups()
    first_round = resolve(SimulatedExpert(budget=1).decide(groups, reference), groups)
    assert mask_labels(first_round).loc[("0-0", 5), "class_id"] == 5  # wrong: its truth is Water
    later = SimulatedExpert(budget=1).decide(groups, reference, mask_labels(first_round))
    # Labelling group 2-0 (40 px) gains more than correcting the 30 px Water mask.
    assert later[0].target == "group" and later[0].group == "2-0"
    last = SimulatedExpert().decide(groups, reference, mask_labels(first_round + resolve(later, groups)))
    assert [(d.target, d.mask, d.class_id) for d in last] == [("mask", 5, 6)]
