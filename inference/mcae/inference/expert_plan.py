"""What the simulated expert can do, gathered from a city's masks a batch at a time.

The expert (``mcae.inference.expert``) needs, per group, its majority class and the pixels
labelling it gains, and per mask only the corrections it may make next. Those are gathered in
two passes over the masks (``groups.parquet`` read a batch of rows at a time): the first sums
the open masks' area per group and class (a group never crosses a neighbourhood, and its
rows may lie in several batches), the second finds the masks each group's label gets wrong
and, when asked, every group's members. What is kept is numbers: a few bytes per correction
and 8 bytes per member mask, never a pandas frame or a Python object per mask.

A batch is a frame with the columns ``patch``, ``mask_id``, ``neighbourhood``, ``group``,
``area`` (of ``groups.parquet``), ``ref_class`` (the reference's majority, 0: none), ``label``
(the mask's current label, 0: undecided) and ``via_group`` (that label came from a group
decision).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mcae.inference.classes import N_CLASSES

Batches = Callable[[], Iterable[pd.DataFrame]]  # each call yields the masks again, in the same order


@dataclass
class Corrections:
    """Single-mask corrections: area, patch code, mask id and reference class, with ``key``
    (the order they are offered in, per source)."""

    area: np.ndarray
    patch: np.ndarray
    mask: np.ndarray
    ref: np.ndarray
    key: np.ndarray

    def take(self, order: np.ndarray) -> Corrections:
        return Corrections(self.area[order], self.patch[order], self.mask[order], self.ref[order],
                           self.key[order])


@dataclass
class ExpertPlan:
    """Everything the greedy expert chooses from (see ``gather``)."""

    patches: list[str]  # patch code -> patch id
    groups: list[tuple[str, str]]  # group code -> (neighbourhood, group)
    majority: np.ndarray  # per group: its open masks' majority class (0: no open mask)
    gain: np.ndarray  # per group: the pixels its label makes certain
    rank: np.ndarray  # per group: its place in (neighbourhood, group) order among those with a gain
    before: Corrections  # masks an earlier group decision got wrong, in row order (key: row)
    wrong: Corrections  # masks each group's label gets wrong: by group, then row (key: rank in group)
    wrong_start: np.ndarray  # per group: where its masks start in ``wrong`` (and one past the end)
    member_patch: np.ndarray | None = None  # patch code of each mask, by group, then row
    member_mask: np.ndarray | None = None
    member_start: np.ndarray | None = None


class _Codes:
    """Small integer codes for the strings of a column, the same over every batch."""

    def __init__(self) -> None:
        self.code: dict[object, int] = {}

    def of(self, values: np.ndarray) -> np.ndarray:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        known = np.array([self.code.setdefault(u, len(self.code)) for u in uniques], dtype=np.int32)
        return known[codes] if len(known) else np.zeros(len(codes), np.int32)


class _GroupCodes:
    """Codes of (neighbourhood, group) pairs, the same over every batch."""

    def __init__(self) -> None:
        self.code: dict[tuple[object, object], int] = {}

    def of(self, hoods: np.ndarray, groups: np.ndarray) -> np.ndarray:
        h, hu = pd.factorize(pd.Series(hoods, dtype=object))
        g, gu = pd.factorize(pd.Series(groups, dtype=object))
        pair = h.astype(np.int64) * max(len(gu), 1) + g
        uniq, inverse = np.unique(pair, return_inverse=True)
        known = np.array([self.code.setdefault((hu[u // max(len(gu), 1)], gu[u % max(len(gu), 1)]),
                                               len(self.code)) for u in uniq], dtype=np.int32)
        return known[inverse.ravel()] if len(known) else np.zeros(len(pair), np.int32)


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    return array if len(array) >= rows else np.concatenate(
        [array, np.zeros((rows - len(array), *array.shape[1:]), array.dtype)])


def gather(batches: Batches, members: bool = False) -> ExpertPlan:
    """The expert's choices from the masks of ``batches`` (two passes; see the module docs).
    ``members``: also keep each group's masks (patch code and mask id), to resolve its decision."""
    patch_codes, group_codes = _Codes(), _GroupCodes()
    area_of = np.zeros((0, N_CLASSES + 1), np.int64)  # open masks' area per group and class
    open_of = np.zeros((0, N_CLASSES + 1), np.int64)  # and how many
    before: list[tuple[np.ndarray, ...]] = []
    row = 0
    for frame in batches():
        gid = group_codes.of(frame["neighbourhood"].to_numpy(), frame["group"].to_numpy())
        ref, label = frame["ref_class"].to_numpy(np.int64), frame["label"].to_numpy(np.int64)
        area = frame["area"].to_numpy(np.int64)
        area_of, open_of = _grown(area_of, len(group_codes.code)), _grown(open_of, len(group_codes.code))
        is_open = (label == 0) & (ref > 0)
        cell = gid[is_open].astype(np.int64) * (N_CLASSES + 1) + ref[is_open]
        size = area_of.size
        area_of += np.rint(np.bincount(cell, weights=area[is_open], minlength=size)).astype(np.int64) \
            .reshape(area_of.shape)
        open_of += np.bincount(cell, minlength=size).reshape(open_of.shape)
        redo = frame["via_group"].to_numpy(bool) & (ref > 0) & (label != ref)
        if redo.any():
            before.append((area[redo], patch_codes.of(frame["patch"].to_numpy()[redo]),
                           frame["mask_id"].to_numpy(np.int64)[redo], ref[redo], row + np.flatnonzero(redo)))
        row += len(frame)
    n_groups = len(group_codes.code)
    area_of, open_of = _grown(area_of, n_groups), _grown(open_of, n_groups)
    # the majority: the largest area among the classes with open masks, the lower class on a tie
    majority = np.where(open_of.sum(axis=1) > 0, np.where(open_of > 0, area_of, -1).argmax(axis=1), 0)
    gain = area_of[np.arange(n_groups), majority]
    del area_of, open_of
    wrong: list[tuple[np.ndarray, ...]] = []
    member_parts: list[tuple[np.ndarray, ...]] = []
    for frame in batches():
        gid = group_codes.of(frame["neighbourhood"].to_numpy(), frame["group"].to_numpy())
        ref = frame["ref_class"].to_numpy(np.int64)
        patch = patch_codes.of(frame["patch"].to_numpy())
        mask = frame["mask_id"].to_numpy(np.int64)
        off = (majority[gid] > 0) & (ref > 0) & (ref != majority[gid])
        wrong.append((frame["area"].to_numpy(np.int64)[off], patch[off], mask[off], ref[off], gid[off]))
        if members:
            member_parts.append((gid, patch, mask.astype(np.int32)))
    names = list(group_codes.code)
    with_gain = np.flatnonzero(majority > 0)
    rank = np.full(n_groups, -1, np.int64)
    rank[with_gain[sorted(range(len(with_gain)), key=lambda i: names[with_gain[i]])]] = np.arange(len(with_gain))
    plan = ExpertPlan(list(map(str, patch_codes.code)), [(str(h), str(g)) for h, g in names], majority, gain, rank,
                      _corrections(before), *_wrong(wrong, n_groups))
    if members:
        gid = np.concatenate([p[0] for p in member_parts]) if member_parts else np.zeros(0, np.int32)
        order = np.argsort(gid, kind="stable")
        plan.member_patch = np.concatenate([p[1] for p in member_parts])[order] if member_parts else gid
        plan.member_mask = np.concatenate([p[2] for p in member_parts])[order] if member_parts else gid
        plan.member_start = np.searchsorted(gid[order], np.arange(n_groups + 1))
    return plan


def _corrections(parts: list[tuple[np.ndarray, ...]]) -> Corrections:
    if not parts:
        empty = np.zeros(0, np.int64)
        return Corrections(empty, empty, empty, empty, empty)
    area, patch, mask, ref, key = (np.concatenate(column) for column in zip(*parts, strict=True))
    return Corrections(area, patch, mask, ref, key)


def _wrong(parts: list[tuple[np.ndarray, ...]], n_groups: int) -> tuple[Corrections, np.ndarray]:
    """The corrections per group, each group's sorted as the expert takes them (largest area
    first, row order on a tie); ``key`` is each one's rank in row order within its group."""
    every = _corrections(parts)
    gid = every.key
    by_group = np.argsort(gid, kind="stable")  # by group, rows in order
    every = every.take(by_group)
    gid = gid[by_group]
    start = np.searchsorted(gid, np.arange(n_groups + 1))
    every.key = np.arange(len(gid)) - start[gid]
    order = np.lexsort((every.key, -every.area, gid))
    return every.take(order), start
