"""The embedded superpixel generator and mask clean-up."""

from __future__ import annotations

import numpy as np

from benchmarks.scenes import blocky_scene
from mcae.inference.masks import ArrayScene, PixelWindow, available_generators, get_generator
from mcae.inference.masks.cleanup import border_pairs, connected_masks, merge_small_masks


def test_connected_masks_split_merge_and_number_in_raster_order() -> None:
    raw = np.array([[1, 1, 2, 2],
                    [3, 3, 3, 3],
                    [1, 1, 4, 4]])
    valid = np.ones(raw.shape, bool)
    valid[2, 3] = False
    labels = connected_masks(raw, valid)
    assert labels[0, 0] == 1 and labels[0, 2] == 2 and labels[1, 0] == 3
    assert labels[2, 0] != labels[0, 0]  # segment 1 in two parts -> two masks
    assert labels[2, 3] == 0 and labels.max() == 5
    merged = merge_small_masks(labels, min_area=2)
    assert merged[2, 2] == merged[1, 2]  # the 1-pixel mask joined its longest-border neighbour


def test_border_pairs_count_each_touching_pair_both_ways() -> None:
    labels = np.random.default_rng(4).integers(0, 40, (30, 50)).astype(np.int32)
    expected: dict[tuple[int, int], int] = {}
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
            if x != y and x > 0 and y > 0:
                for pair in ((x, y), (y, x)):
                    expected[pair] = expected.get(pair, 0) + 1
    src, dst, length = border_pairs(labels)
    assert list(zip(src.tolist(), dst.tolist(), strict=True)) == sorted(expected)  # sorted by (src, dst)
    assert length.tolist() == [expected[k] for k in sorted(expected)]


def test_superpixels_follow_objects_and_cover_valid_pixels() -> None:
    image, truth = blocky_scene(96, 128, seed=5)
    valid = np.ones(truth.shape, bool)
    valid[:, :16] = False
    gen = get_generator("superpixel")
    assert "superpixel" in available_generators()
    result = gen.generate(ArrayScene(image, valid), PixelWindow(0, 0, 96, 128))
    labels, records = result.labels, result.records
    assert labels.dtype == np.int32 and (labels[~valid] == 0).all() and (labels[valid] > 0).all()
    assert records["mask_id"].tolist() == list(range(1, labels.max() + 1))
    assert records["area"].sum() == valid.sum()
    # Masks are nearly pure: each mask's majority class covers most of its pixels.
    pure = sum(np.bincount(truth[labels == m]).max() for m in records["mask_id"])
    assert pure / valid.sum() > 0.9
    again = gen.generate(ArrayScene(image, valid), PixelWindow(0, 0, 96, 128))
    np.testing.assert_array_equal(again.labels, labels)
    assert gen.settings()["method"] == "felzenszwalb"
