"""The simulated expert in bounded memory: the same decisions, in the same order, as one queue
of every action (the algorithm it replaced, kept here as the oracle), whatever the budget,
the earlier decisions or how the masks are cut into batches; and the compact forms of the
reference and of the labels (a few bytes a mask) say what their frames say."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcae.inference.expert as expert_module
from mcae.inference.decided_count import DecidedCount
from mcae.inference.decisions import Decision, MaskLabels, iter_resolved, mask_labels, resolve
from mcae.inference.expert import COLUMNS, SimulatedExpert
from mcae.inference.patch_values import PatchValues
from mcae.inference.project import Project


def _oracle(groups: pd.DataFrame, reference: pd.DataFrame, decided: pd.DataFrame | None,
            budget: int | None) -> Iterator[Decision]:
    """The expert as it was: one heap of every action, a Python tuple per mask."""
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
    wrong_before = table[(table["via"] == "group") & (table["ref_class"] > 0)
                         & (table["label"] != table["ref_class"])]
    for row in wrong_before.itertuples():
        heapq.heappush(heap, (-int(row.area), tie, ("mask", row.patch, int(row.mask_id), int(row.ref_class))))
        tie += 1
    hood_group = ["neighbourhood", "group"]
    open_masks = table[~table["decided"] & (table["ref_class"] > 0)]
    per_class = open_masks.groupby([*hood_group, "ref_class"], sort=True)["area"].sum().reset_index()
    best = per_class.sort_values([*hood_group, "area", "ref_class"], ascending=[True, True, False, True],
                                 kind="stable").drop_duplicates(hood_group, keep="first")
    for hood, group, majority, gain in best[[*hood_group, "ref_class", "area"]].itertuples(index=False):
        heapq.heappush(heap, (-int(gain), tie, ("group", hood, group, int(majority))))
        tie += 1
    majority_of = best[[*hood_group, "ref_class"]].rename(columns={"ref_class": "majority"})
    wrong = table.reset_index(drop=True).reset_index(names="row").merge(majority_of, on=hood_group)
    wrong = wrong[(wrong["ref_class"] > 0) & (wrong["ref_class"] != wrong["majority"])].sort_values("row")
    wrong_of = wrong.groupby(hood_group, sort=False).indices
    w_area, w_patch = wrong["area"].to_numpy(), wrong["patch"].to_numpy()
    w_mask, w_ref = wrong["mask_id"].to_numpy(), wrong["ref_class"].to_numpy()
    actions = 0
    while heap and (budget is None or actions < budget):
        neg_gain, _, action = heapq.heappop(heap)
        if -neg_gain < 1:
            break
        actions += 1
        if action[0] == "group":
            _, hood, group, majority = action
            yield Decision.model_validate({"target": "group", "neighbourhood": hood, "group": group,
                                           "class": majority, "source": "simulated"})
            for i in wrong_of.get((hood, group), ()):
                heapq.heappush(heap, (-int(w_area[i]), tie, ("mask", w_patch[i], int(w_mask[i]), int(w_ref[i]))))
                tie += 1
        else:
            _, patch, mask, cls = action
            yield Decision.model_validate({"target": "mask", "patch": patch, "mask": mask, "class": cls,
                                           "source": "simulated"})


def _city(seed: int, n: int = 900) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Masks of 6 patches in 3 neighbourhoods, groups of every size (ones of a single mask too),
    areas with many ties, a reference mostly of each group's own class; rows shuffled so a
    group's masks lie far apart (and in several batches)."""
    rng = np.random.default_rng(seed)
    patch = rng.integers(0, 6, n)
    hood = patch // 2
    group = rng.integers(0, 40, n) ** 2 // 100  # a few big groups and many small ones
    frame = pd.DataFrame({"patch": [f"0-{p}" for p in patch], "neighbourhood": [f"h{h}" for h in hood],
                          "group": [f"{g}-{g % 3}" for g in group], "area": rng.integers(1, 6, n) * 10})
    frame["mask_id"] = frame.groupby("patch").cumcount() + 1
    base = (group * 7 + hood) % 9 + 1
    ref = np.where(rng.random(n) < 0.3, rng.integers(0, 10, n), base)
    frame = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    reference = pd.DataFrame({"patch": frame["patch"], "mask_id": frame["mask_id"], "ref_class": ref})
    return frame[list(COLUMNS)], reference


def _same(a: list[Decision], b: list[Decision]) -> None:
    assert [d.to_json() for d in a] == [d.to_json() for d in b]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("budget", [None, 1, 7, 60])
def test_the_same_decisions_in_the_same_order_as_one_queue_of_every_action(seed: int, budget: int | None) -> None:
    groups, reference = _city(seed)
    expert = SimulatedExpert(budget=budget)
    decided = expert.decide(groups, reference)
    _same(decided, list(_oracle(groups, reference, None, budget)))
    assert expert.actions_ == len(decided) and (budget is None or len(decided) == budget)


@pytest.mark.parametrize("seed", [3, 4])
def test_later_rounds_the_same_too_corrections_of_earlier_rounds_included(seed: int) -> None:
    groups, reference = _city(seed)
    first = resolve(SimulatedExpert(budget=25).decide(groups, reference), groups)
    # a second round on other truths: earlier group labels now wrong, some bigger than any gain left
    other = reference.assign(ref_class=np.where(np.arange(len(reference)) % 4 == 0, 9, reference["ref_class"]))
    other.loc[other.index[::13], "ref_class"] = 0
    for budget in (None, 3, 40):
        decided = mask_labels(first)
        mine = SimulatedExpert(budget=budget).decide(groups, other, decided)
        earlier = set(decided.index)
        assert budget == 3 or any(d.target == "mask" and (d.patch, d.mask) in earlier for d in mine)
        _same(mine, list(_oracle(groups, other, decided, budget)))


@pytest.mark.parametrize("rows", [7, 64, 100_000])
def test_a_project_read_in_batches_gives_the_frames_decisions_with_their_masks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    groups, reference = _city(5)
    project = Project(tmp_path, {})
    groups.astype({"mask_id": "int32"}).to_parquet(project.groups_path, index=False)
    ref = PatchValues.from_pairs(reference["patch"].to_numpy(), reference["mask_id"].to_numpy(),
                                 reference["ref_class"].to_numpy(np.uint8))
    monkeypatch.setattr(expert_module, "BATCH_ROWS", rows)  # groups cross batches: two passes still agree
    for budget in (None, 30):
        expected = list(iter_resolved(SimulatedExpert(budget=budget).iter_decide(groups, reference), groups))
        got = list(SimulatedExpert(budget=budget).iter_decide_project(project, ref))
        _same(got, expected)
    first = expected[:10]
    decided = mask_labels(first)
    later = list(iter_resolved(SimulatedExpert().iter_decide(groups, reference, decided), groups))
    _same(list(SimulatedExpert().iter_decide_project(project, ref, decided)), later)


def test_patch_values_look_up_masks_and_default_elsewhere() -> None:
    values = PatchValues.from_pairs(np.array(["a", "b", "a"], dtype=object), np.array([3, 1, 1]),
                                    np.array([7, 8, 9], np.uint8))
    assert len(values) == 4  # a: ids 1..3, b: id 1
    found = values.lookup(np.array(["a", "a", "a", "b", "b", "c", "a"], dtype=object), np.array([1, 2, 3, 1, 2, 1, 0]))
    assert found.tolist() == [9, 0, 7, 8, 0, 0, 0]


def test_the_compact_labels_and_count_say_what_the_frame_says() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        tally, count, decisions = MaskLabels(), DecidedCount(), []
        for _ in range(int(rng.integers(1, 60))):
            if rng.random() < 0.5:
                masks = [(f"{rng.integers(0, 3)}-{rng.integers(0, 12)}", int(rng.integers(1, 40)))
                         for _ in range(int(rng.integers(1, 8)))]
                d = Decision.model_validate({"target": "group", "neighbourhood": "h", "group": "g",
                                             "class": int(rng.integers(0, 10)), "masks": masks})
            else:
                d = Decision.model_validate({"target": "mask", "patch": f"{rng.integers(0, 3)}-{rng.integers(0, 12)}",
                                             "mask": int(rng.integers(1, 40)), "class": int(rng.integers(0, 10))})
            decisions.append(d)
            tally.add(d)
            count.add(d)
        frame = mask_labels(decisions)
        names, patch, mask, cls = tally.compact()
        assert list(zip(names[patch], mask.tolist(), strict=True)) == list(frame.index)
        assert cls.tolist() == frame["class_id"].tolist()
        assert count.count() == len(frame)
