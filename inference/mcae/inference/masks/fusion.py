"""Fusing SAM crop masks into one partition of a patch, independently of the cut.

Crops sit on a lattice anchored at the scene's origin, so every pixel is covered by
the same crops whichever patch it is computed in. Each pixel goes to the
highest-priority SAM mask covering it; priority is (pass: fine before coarse,
predicted IoU x stability descending, smaller area first, crop row, crop column,
mask index), a total order, so the winner of a pixel never depends on the patch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mcae.inference.masks.base import PixelWindow

PASSES = ("fine", "coarse")  # pass_index 0 and 1, in priority order
NO_MASK = np.iinfo(np.int64).max


@dataclass(frozen=True)
class CropSpec:
    """One crop of the lattice: origin and side in scene pixels (target GSD)."""

    pass_index: int
    row: int
    col: int
    size: int

    @property
    def window(self) -> PixelWindow:
        return PixelWindow(self.row, self.col, self.size, self.size)


@dataclass
class CropMasks:
    """SAM's masks in one crop, reduced to the crop's winner inside the patch.

    ``owner`` covers ``rows, cols`` of the patch (the crop's overlap with it) and holds
    the index of the crop's best mask at each pixel, -1 where none covers it.
    """

    spec: CropSpec
    rows: slice
    cols: slice
    owner: np.ndarray
    iou: np.ndarray
    stability: np.ndarray
    area: np.ndarray


@dataclass
class FusedMasks:
    """Winning SAM mask rank per patch pixel (``NO_MASK`` if none) and per-rank facts."""

    rank: np.ndarray
    pass_index: np.ndarray
    iou: np.ndarray
    stability: np.ndarray


def lattice(window: PixelWindow, scene_shape: tuple[int, int], pass_index: int,
            size: int) -> list[CropSpec]:
    """Crops of side ``size`` and stride ``size // 2`` that intersect ``window``.

    Origins are multiples of the stride from the scene's (0, 0) and lie in the scene.
    """
    stride = size // 2

    def origins(start: int, end: int, extent: int) -> range:
        first = max(0, (start - size) // stride + 1)
        last = min(-(-end // stride), -(-extent // stride)) - 1
        return range(first * stride, last * stride + 1, stride)

    return [CropSpec(pass_index, r, c, size)
            for r in origins(window.row_off, window.row_end, scene_shape[0])
            for c in origins(window.col_off, window.col_end, scene_shape[1])]


def crop_masks(spec: CropSpec, window: PixelWindow, masks: np.ndarray, iou: np.ndarray,
               stability: np.ndarray) -> CropMasks:
    """Resolve one crop's masks (bool ``(n, size, size)``) inside the patch window."""
    r0, r1 = max(spec.row, window.row_off), min(spec.row + spec.size, window.row_end)
    c0, c1 = max(spec.col, window.col_off), min(spec.col + spec.size, window.col_end)
    area = masks.sum(axis=(1, 2), dtype=np.int64)
    order = np.lexsort((np.arange(len(masks)), area, -(iou * stability)))
    inside = masks[:, r0 - spec.row:r1 - spec.row, c0 - spec.col:c1 - spec.col][order]
    owner = np.full(inside.shape[1:], -1, np.int64)
    if len(order):
        covered = inside.any(axis=0)
        owner[covered] = order[inside.argmax(axis=0)[covered]]
    return CropMasks(spec, slice(r0 - window.row_off, r1 - window.row_off),
                     slice(c0 - window.col_off, c1 - window.col_off), owner,
                     iou, stability, area)


def fuse(crops: Sequence[CropMasks], shape: tuple[int, int]) -> FusedMasks:
    """Per pixel, the global priority rank of the best mask over all crops."""
    n = [len(c.iou) for c in crops]
    pass_index = np.repeat(np.array([c.spec.pass_index for c in crops], np.int64), n)
    iou = np.concatenate([c.iou for c in crops] or [np.zeros(0, np.float32)])
    stability = np.concatenate([c.stability for c in crops] or [np.zeros(0, np.float32)])
    area = np.concatenate([c.area for c in crops] or [np.zeros(0, np.int64)])
    index = np.concatenate([np.arange(k) for k in n] or [np.zeros(0, np.int64)])
    order = np.lexsort((index, np.repeat([c.spec.col for c in crops], n),
                        np.repeat([c.spec.row for c in crops], n), area,
                        -(iou * stability), pass_index))
    rank_of = np.empty(len(order), np.int64)
    rank_of[order] = np.arange(len(order))
    rank = np.full(shape, NO_MASK, np.int64)
    start = 0
    for crop, k in zip(crops, n, strict=True):
        ranks = np.append(rank_of[start:start + k], NO_MASK)  # owner -1 -> NO_MASK
        np.minimum(rank[crop.rows, crop.cols], ranks[crop.owner], out=rank[crop.rows, crop.cols])
        start += k
    return FusedMasks(rank, pass_index[order], iou[order], stability[order])


def downsample_masks(masks: np.ndarray) -> np.ndarray:
    """Masks at half the GSD to the target grid: a pixel is in if 2 of its 4 sub-pixels are."""
    n, h, w = masks.shape
    blocks = masks.view(np.uint8).reshape(n, h // 2, 2, w // 2, 2)
    return blocks.sum(axis=(2, 4), dtype=np.uint8) >= 2


def pool_embeddings(labels: np.ndarray, window: PixelWindow,
                    embeddings: dict[tuple[int, int], np.ndarray], size: int,
                    channels: int) -> np.ndarray:
    """Mean SAM image embedding over each mask (``(N, channels)`` float32).

    ``embeddings`` maps coarse crop origins to ``(channels, E, E)`` grids. Each pixel
    takes the cell of the crop whose centre is nearest: crops' central halves tile
    the scene, so that crop is unique.
    """
    n = int(labels.max()) if labels.size else 0
    sums = np.zeros((n, channels), np.float64)
    counts = np.zeros(n, np.int64)
    row_crop = nearest_crop(np.arange(window.row_off, window.row_end), size)
    col_crop = nearest_crop(np.arange(window.col_off, window.col_end), size)
    for r in np.unique(row_crop):
        rows = np.flatnonzero(row_crop == r)
        for c in np.unique(col_crop):
            cols = np.flatnonzero(col_crop == c)
            block = labels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            emb = embeddings.get((int(r), int(c)))
            if emb is None or not block.any():
                continue
            cells = emb.shape[-1]
            cell_r = (rows + window.row_off - r) * cells // size
            cell_c = (cols + window.col_off - c) * cells // size
            cell = cell_r[:, None] * cells + cell_c[None, :]
            inside = block > 0
            code = (block[inside].astype(np.int64) - 1) * cells * cells + cell[inside]
            code, count = np.unique(code, return_counts=True)
            mask, cell_idx = np.divmod(code, cells * cells)
            flat = emb.reshape(channels, -1)
            np.add.at(sums, mask, count[:, None] * flat[:, cell_idx].T)
            np.add.at(counts, mask, count)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def nearest_crop(coords: np.ndarray, size: int) -> np.ndarray:
    """Origin of the lattice crop (side ``size``) whose centre is nearest each coordinate."""
    stride = size // 2
    return np.maximum(0, (coords - size // 4) // stride) * stride
