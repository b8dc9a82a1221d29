"""Turning raw segment ids into clean masks: connected, no specks, ids 1..N."""

from __future__ import annotations

import numpy as np
from skimage.measure import label as label_regions


def connected_masks(raw: np.ndarray, valid: np.ndarray, min_area: int = 0) -> np.ndarray:
    """Clean masks from a raw segment-id raster.

    Segments are split into 4-connected parts, invalid pixels become 0, parts
    smaller than ``min_area`` join the neighbour they share the longest border
    with, and ids are numbered 1..N in raster order of each mask's first pixel,
    so the result is deterministic.
    """
    raw = np.where(valid, raw.astype(np.int64) + 1, 0)
    labels = label_regions(raw, background=0, connectivity=1).astype(np.int32)
    if min_area > 1:
        labels = merge_small_masks(labels, min_area)
    return renumber_raster_order(labels)


def border_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of different, non-zero ids that touch (4-connectivity), with border length."""
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        touch = (a != b) & (a > 0) & (b > 0)
        pairs.append(np.stack([a[touch], b[touch]]))
    both = np.concatenate(pairs, axis=1)
    both = np.concatenate([both, both[::-1]], axis=1)  # symmetric
    if both.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    # one int64 per pair (sorted as the pairs are): a row-wise ``np.unique(axis=0)`` sorts
    # void views of the rows, several times slower on a patch's million border pixels
    span = int(both.max()) + 1
    codes, counts = np.unique(both[0].astype(np.int64) * span + both[1], return_counts=True)
    return codes // span, codes % span, counts


def merge_small_masks(labels: np.ndarray, min_area: int, max_rounds: int = 4) -> np.ndarray:
    """Merge masks under ``min_area`` px into their longest-border neighbour."""
    for _ in range(max_rounds):
        area = np.bincount(labels.ravel())
        small = np.flatnonzero((area < min_area) & (area > 0))
        small = small[small > 0]
        if small.size == 0:
            break
        src, dst, length = border_pairs(labels)
        is_small = np.isin(src, small)
        src, dst, length = src[is_small], dst[is_small], length[is_small]
        if src.size == 0:
            break
        # Per small mask: the neighbour with the longest border (ties: larger neighbour,
        # then smaller id), chosen with one lexicographic sort.
        order = np.lexsort((dst, -area[dst], -length, src))
        src, dst = src[order], dst[order]
        first = np.concatenate([[True], src[1:] != src[:-1]])
        lut = np.arange(area.size, dtype=np.int64)
        # A small mask never merges into another small mask that is itself moving.
        target = dst[first]
        moving = src[first]
        keep = ~np.isin(target, moving) | (area[target] >= area[moving])
        lut[moving[keep]] = target[keep]
        if not keep.any():
            break
        labels = lut[labels].astype(np.int32)
    return labels


def renumber_raster_order(labels: np.ndarray) -> np.ndarray:
    """Ids 1..N in raster order of each mask's first pixel; 0 stays 0."""
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    keep = ids > 0
    if not keep.any():
        return np.zeros(labels.shape, np.int32)
    order = np.argsort(first[keep], kind="stable")
    lut = np.zeros(int(ids.max()) + 1, np.int32)
    lut[ids[keep][order]] = np.arange(1, order.size + 1, dtype=np.int32)
    return lut[labels]
