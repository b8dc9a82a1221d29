"""The SAM mask generator, run with a tiny random SAM on small synthetic scenes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from segment_anything.modeling import Sam

from mcae.inference.errors import InputError
from mcae.inference.masks import ArrayScene, MaskResult, PixelWindow, get_generator
from mcae.inference.masks.fusion import (
    CropSpec,
    crop_masks,
    fuse,
    lattice,
    nearest_crop,
    pool_embeddings,
)
from mcae.inference.masks.sam import SamMaskGenerator
from mcae.inference.masks.tiny_sam import EMBED_DIM, build_tiny_sam, save_sam_checkpoint

SIZE = 128
CROP = 64  # coarse crops 64 px, fine crops 32 px on the ground: 16 + 64 crops per scene
FAST: dict[str, Any] = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0,
        "crop_size": CROP}
FULL = PixelWindow(0, 0, SIZE, SIZE)


def synthetic_scene(valid: np.ndarray | None = None) -> ArrayScene:
    """RGB+NIR noise with two coloured rectangles."""
    rng = np.random.default_rng(0)
    image = (rng.normal(100, 8, (4, SIZE, SIZE))).clip(0, 255).astype(np.uint8)
    image[:3, 10:60, 20:70] = np.array([200, 30, 30])[:, None, None]
    image[:3, 70:120, 50:110] = np.array([30, 200, 30])[:, None, None]
    return ArrayScene(image, valid)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sam() -> Sam:
    return build_tiny_sam(seed=0, img_size=64)


@pytest.fixture(scope="module")
def generator(sam: Sam) -> SamMaskGenerator:
    return SamMaskGenerator(model=sam, min_mask_region_area=4, **FAST)


@pytest.fixture(scope="module")
def full_result(generator: SamMaskGenerator) -> MaskResult:
    return generator.generate(synthetic_scene(), FULL)


def assert_consistent(result: MaskResult, valid: np.ndarray) -> None:
    """Labels, records and embedding describe the same N masks."""
    labels, records = result.labels, result.records
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels == 0, ~valid)
    n = result.n_masks
    np.testing.assert_array_equal(np.unique(labels[valid]), np.arange(1, n + 1))
    np.testing.assert_array_equal(records.mask_id, np.arange(1, n + 1))
    np.testing.assert_array_equal(records.area, np.bincount(labels.ravel(), minlength=n + 1)[1:])
    assert records.area.sum() == valid.sum()
    for row in records.itertuples():
        rows, cols = np.nonzero(labels == row.mask_id)
        assert (row.row0, row.col0, row.row1, row.col1) == (
            rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
    assert set(records.source) <= {"fine", "coarse", "fill"}
    assert records.score.between(0, 1).all() and records.stability.between(0, 1).all()
    fill = records.source == "fill"
    assert (records.score[fill] == 0).all() and (records.stability[fill] == 0).all()
    assert result.embedding is not None
    assert result.embedding.shape == (n, EMBED_DIM) and result.embedding.dtype == np.float32
    assert np.isfinite(result.embedding).all()


def test_masks_records_and_embedding_agree(full_result: MaskResult) -> None:
    assert_consistent(full_result, np.ones((SIZE, SIZE), bool))
    assert full_result.n_masks > 10
    assert set(full_result.records.source) == {"fine", "coarse", "fill"}


def test_same_input_same_output(sam: Sam, full_result: MaskResult) -> None:
    again = SamMaskGenerator(model=sam, min_mask_region_area=4, **FAST).generate(
        synthetic_scene(), FULL)
    np.testing.assert_array_equal(again.labels, full_result.labels)
    assert again.records.equals(full_result.records)
    assert again.embedding is not None and full_result.embedding is not None
    np.testing.assert_array_equal(again.embedding, full_result.embedding)


def interior_ids(labels: np.ndarray) -> np.ndarray:
    """Ids of masks that do not touch the patch's border."""
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return np.setdiff1d(np.unique(labels), np.append(border, 0))


@pytest.mark.parametrize("min_area", [0, 5])
def test_masks_do_not_depend_on_the_cut(sam: Sam, min_area: int) -> None:
    generator = SamMaskGenerator(model=sam, min_mask_region_area=min_area, **FAST)
    scene = synthetic_scene()
    big = generator.generate(scene, PixelWindow(0, 8, 110, 120)).labels
    small_window = PixelWindow(20, 36, 70, 60)
    small = generator.generate(scene, small_window).labels
    inner = interior_ids(small)
    assert len(inner) >= 5
    for mask_id in inner:
        pixels = small == mask_id
        rows, cols = np.nonzero(pixels)
        in_big = big[rows + small_window.row_off, cols + small_window.col_off - 8]
        assert np.unique(in_big).size == 1
        assert (big == in_big[0]).sum() == pixels.sum()


def test_fine_masks_win_over_better_coarse_masks() -> None:
    window = PixelWindow(0, 0, 8, 8)
    everywhere = np.ones((1, 8, 8), bool)
    square = np.zeros((1, 4, 4), bool)
    square[0, 1:3, 1:3] = True
    coarse = crop_masks(CropSpec(1, 0, 0, 8), window, everywhere, np.array([0.99], np.float32),
                        np.array([0.99], np.float32))
    fine = crop_masks(CropSpec(0, 2, 2, 4), window, square, np.array([0.1], np.float32),
                      np.array([0.1], np.float32))
    fused = fuse([coarse, fine], (8, 8))
    assert list(fused.pass_index) == [0, 1]  # rank 0: the fine mask
    np.testing.assert_array_equal(fused.rank[3:5, 3:5], 0)
    assert (np.delete(fused.rank.ravel(), [27, 28, 35, 36]) == 1).all()


def test_overlapping_masks_prefer_score_then_smaller_area() -> None:
    window = PixelWindow(0, 0, 4, 4)
    masks = np.zeros((3, 4, 4), bool)
    masks[0] = True  # large, high score
    masks[1, :2] = True  # half, same score: wins over mask 0 where both are
    masks[2, 0] = True  # lower score
    score = np.array([0.9, 0.9, 0.5], np.float32)
    crop = crop_masks(CropSpec(1, 0, 0, 4), window, masks, score, np.ones(3, np.float32))
    expected = np.where(np.arange(4)[:, None] < 2, 1, 0).repeat(4, axis=1)
    np.testing.assert_array_equal(crop.owner, expected)


def test_fine_pass_can_be_switched_off(sam: Sam) -> None:
    generator = SamMaskGenerator(model=sam, fine=False, min_mask_region_area=4, **FAST)
    result = generator.generate(synthetic_scene(), PixelWindow(0, 0, 64, 64))
    assert set(result.records.source) <= {"coarse", "fill"}
    assert generator.settings()["passes"] == ["coarse"]


def test_lattice_is_anchored_on_the_scene() -> None:
    specs = lattice(PixelWindow(20, 100, 70, 30), (128, 128), 1, 64)
    assert sorted({s.row for s in specs}) == [0, 32, 64]
    assert sorted({s.col for s in specs}) == [64, 96]  # 128 lies outside the scene
    np.testing.assert_array_equal(nearest_crop(np.array([0, 15, 16, 47, 48, 127]), 64),
                                  [0, 0, 0, 0, 32, 96])


def test_embedding_is_the_mean_of_nearest_crop_cells() -> None:
    rng = np.random.default_rng(1)
    window = PixelWindow(10, 20, 60, 50)
    labels = rng.integers(1, 6, (60, 50)).astype(np.int32)
    labels[:5] = 0
    origins = {(int(r), int(c)) for r in nearest_crop(np.arange(10, 70), 32)
               for c in nearest_crop(np.arange(20, 70), 32)}
    embeddings = {o: rng.normal(size=(3, 4, 4)).astype(np.float32) for o in origins}
    pooled = pool_embeddings(labels, window, embeddings, 32, 3)
    expected = np.zeros((5, 3))
    for mask_id in range(1, 6):
        rows, cols = np.nonzero(labels == mask_id)
        rows, cols = rows + window.row_off, cols + window.col_off
        r0, c0 = nearest_crop(rows, 32), nearest_crop(cols, 32)
        cells = [embeddings[int(a), int(b)][:, (r - a) * 4 // 32, (c - b) * 4 // 32]
                 for a, b, r, c in zip(r0, c0, rows, cols, strict=True)]
        expected[mask_id - 1] = np.mean(cells, axis=0)
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)


def test_checkpoint_through_the_registry(tmp_path: Path, sam: Sam,
                                         full_result: MaskResult) -> None:
    path = save_sam_checkpoint(sam, tmp_path / "tiny.pth")
    generator = get_generator("sam", checkpoint=path, model_type="tiny",
                              min_mask_region_area=4, **FAST)
    settings = generator.settings()
    assert settings["model_type"] == "tiny" and settings["checkpoint"] == str(path.resolve())
    assert settings["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for key in ("points_per_side", "pred_iou_thresh", "stability_score_thresh", "device",
                "min_mask_region_area", "crop_size", "passes"):
        assert key in settings
    result = generator.generate(synthetic_scene(), FULL)
    np.testing.assert_array_equal(result.labels, full_result.labels)


def test_bad_checkpoints_give_clear_errors(tmp_path: Path) -> None:
    missing = tmp_path / "sam_vit_b.pth"
    with pytest.raises(FileNotFoundError, match=r"SAM checkpoint not found.*sam_vit_b\.pth"):
        get_generator("sam", checkpoint=missing)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot load .*corrupt\.pth as a 'tiny'") as info:
        get_generator("sam", checkpoint=corrupt, model_type="tiny")
    assert isinstance(info.value, InputError)
    wrong = tmp_path / "wrong.pth"
    torch.save({"image_encoder.pos_embed": torch.zeros(1, 8, 8, 32)}, wrong)
    with pytest.raises(ValueError, match="'tiny' SAM checkpoint"):
        get_generator("sam", checkpoint=wrong, model_type="tiny")
    with pytest.raises(ValueError, match="unknown SAM model_type"):
        get_generator("sam", checkpoint=wrong, model_type="vit_x")
    with pytest.raises(ValueError, match="needs a checkpoint"):
        get_generator("sam")


def test_invalid_pixels_are_zero_and_empty_crops_skipped(generator: SamMaskGenerator) -> None:
    valid = np.ones((SIZE, SIZE), bool)
    valid[40:80, 50:90] = False  # a hole
    valid[:, 96:] = False  # whole crops of both passes: 4 coarse and 16 fine
    calls: list[int] = []
    handle = generator.model.image_encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        result = generator.generate(synthetic_scene(valid), FULL)
    finally:
        handle.remove()
    assert_consistent(result, valid)
    assert len(calls) == 80 - 20
