"""Per-mask features: hand-checkable values, texture, NDVI, embedding, robustness."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mcae.inference.features import FEATURE_VERSION, compute_features, feature_names

RGB = ("red", "green", "blue")
RGBN = ("red", "green", "blue", "nir")


def _voronoi(shape: tuple[int, int], n: int, seed: int) -> np.ndarray:
    """Contiguous ids 1..n: each pixel takes the id of its nearest random seed."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros(shape[0] * shape[1], np.int32)
    seeds[rng.choice(seeds.size, n, replace=False)] = np.arange(1, n + 1)
    seeds = seeds.reshape(shape)
    index = ndimage.distance_transform_edt(seeds == 0, return_distances=False,
                                           return_indices=True)
    return seeds[tuple(index)]


def _random_patch(seed: int, shape: tuple[int, int] = (48, 64), n: int = 25,
                  bands: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (bands, *shape), dtype=np.uint8)
    labels = _voronoi(shape, n, seed)
    labels[5, 5] = n + 1  # a 1-pixel mask
    labels[0, -1] = n + 2  # a 1-pixel mask in the corner
    return image, np.ones(shape, bool), labels


def _red_square_on_blue(gsd: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    image = np.zeros((3, 20, 20), np.uint8)
    image[2] = 255
    labels = np.full((20, 20), 2, np.int32)
    labels[5:11, 7:13] = 1
    image[:, labels == 1] = np.array([[255], [0], [0]], np.uint8)
    return image, labels


def test_red_square_on_blue_background_is_hand_checkable() -> None:
    image, labels = _red_square_on_blue()
    df = compute_features(image, np.ones((20, 20), bool), labels, band_names=RGB, gsd=0.5)
    assert list(df.index) == [1, 2] and df.index.name == "mask_id"
    assert all(dtype == np.float32 for dtype in df.dtypes)
    sq, bg = df.loc[1], df.loc[2]
    for stat in ("mean", "p10", "p50", "p90"):
        assert sq[f"colour_red_{stat}"] == 255 and sq[f"colour_blue_{stat}"] == 0
        assert bg[f"colour_blue_{stat}"] == 255 and bg[f"colour_red_{stat}"] == 0
    assert sq["colour_red_std"] == 0 and bg["colour_blue_std"] == 0
    assert sq["colour_luminance_mean"] == pytest.approx(0.299 * 255, rel=1e-5)
    assert sq["colour_hue_cos_mean"] == pytest.approx(1) and sq["colour_hue_sin_mean"] == 0
    assert bg["colour_hue_cos_mean"] == pytest.approx(-0.5)
    assert sq["colour_saturation_mean"] == 1 and sq["colour_value_mean"] == 1
    assert sq["colour_exg_mean"] == pytest.approx(-1) and bg["colour_exg_mean"] == pytest.approx(-1)
    assert sq["colour_blue_ratio_mean"] == 0 and bg["colour_blue_ratio_mean"] == 1
    assert sq["shape_area_m2"] == pytest.approx(36 * 0.25)
    assert bg["shape_area_m2"] == pytest.approx((400 - 36) * 0.25)
    assert sq["shape_log_area_m2"] == pytest.approx(np.log1p(9.0))
    assert sq["shape_perimeter_m"] == pytest.approx(24 * 0.5, rel=0.15)
    assert 0.75 <= sq["shape_compactness"] <= 1.0
    assert sq["shape_extent"] == 1 and bg["shape_extent"] == pytest.approx(364 / 400)
    assert sq["shape_axis_ratio"] == pytest.approx(1) and sq["shape_eccentricity"] < 1e-3
    assert sq["shape_major_axis_m"] == pytest.approx(4 * np.sqrt(3) * 0.5, rel=1e-4)
    # context: the square sees only blue, the background only red
    assert (sq["context_red_mean"], sq["context_blue_mean"]) == (0, 255)
    assert (bg["context_red_mean"], bg["context_blue_mean"]) == (255, 0)
    assert sq["context_n_neighbours"] == 1 and bg["context_n_neighbours"] == 1
    assert sq["context_luminance_contrast"] == pytest.approx((0.299 - 0.114) * 255, rel=1e-4)
    assert sq["context_edge_fraction"] == 0
    assert bg["context_edge_fraction"] == pytest.approx(80 / (80 + 24))


def test_band_statistics_match_numpy() -> None:
    image, valid, labels = _random_patch(1)
    df = compute_features(image, valid, labels, band_names=RGBN, gsd=0.6)
    for mask_id in (1, 7, 26):
        values = image[1][labels == mask_id].astype(np.float64)
        row = df.loc[mask_id]
        assert row["colour_green_mean"] == pytest.approx(values.mean(), rel=1e-5)
        assert row["colour_green_std"] == pytest.approx(values.std(), rel=1e-4, abs=1e-4)
        for q in (10, 50, 90):
            expected = np.percentile(values, q, method="inverted_cdf")
            assert row[f"colour_green_p{q}"] == expected
        assert row["shape_area_m2"] == pytest.approx(values.size * 0.36)


def test_disk_is_compact_and_a_strip_is_elongated() -> None:
    yy, xx = np.mgrid[:80, :80]
    labels = np.full((80, 80), 3, np.int32)
    labels[(yy - 30) ** 2 + (xx - 30) ** 2 <= 15**2] = 1
    labels[70:73, 5:75] = 2
    image = np.full((3, 80, 80), 100, np.uint8)
    df = compute_features(image, np.ones((80, 80), bool), labels, band_names=RGB, gsd=1.0)
    disk, strip = df.loc[1], df.loc[2]
    assert disk["shape_perimeter_m"] == pytest.approx(2 * np.pi * 15, rel=0.05)
    assert disk["shape_compactness"] > 0.9 and strip["shape_compactness"] < 0.2
    assert disk["shape_axis_ratio"] > 0.95 and strip["shape_axis_ratio"] < 0.1
    assert strip["shape_eccentricity"] > 0.99
    # axes of the ellipse with the same second moments: 70 * 4 / sqrt(12) for the strip
    assert strip["shape_major_axis_m"] == pytest.approx(70 * 4 / np.sqrt(12), rel=1e-3)
    assert disk["context_n_neighbours"] == 1 and df.loc[3, "context_n_neighbours"] == 2


def test_noisy_mask_has_more_texture_than_flat_one() -> None:
    rng = np.random.default_rng(2)
    image = np.full((3, 40, 40), 120, np.uint8)
    image[:, :, 20:] = rng.integers(60, 180, (3, 40, 20), dtype=np.uint8)
    labels = np.ones((40, 40), np.int32)
    labels[:, 20:] = 2
    df = compute_features(image, np.ones((40, 40), bool), labels, band_names=RGB, gsd=0.6)
    flat, noisy = df.loc[1], df.loc[2]
    for name in ("texture_gradient_mean", "texture_gradient_std", "texture_local_std_mean"):
        assert noisy[name] > flat[name] + 1
    # the flat half's interior never sees the edge: zero texture, one LBP code
    assert flat["texture_gradient_mean"] == pytest.approx(0, abs=1e-4)
    lbp = df[[f"texture_lbp_{i}" for i in range(10)]].to_numpy()
    np.testing.assert_allclose(lbp.sum(axis=1), 1, rtol=1e-5)
    assert lbp[0].max() == pytest.approx(1) and lbp[1].max() < 0.5


def test_ndvi_present_only_with_nir_and_positive_on_vegetation() -> None:
    labels = np.ones((20, 20), np.int32)
    labels[:, 10:] = 2
    image = np.zeros((4, 20, 20), np.uint8)
    image[:, :, :10] = np.array([40, 120, 40, 200], np.uint8)[:, None, None]  # vegetation
    image[:, :, 10:] = np.array([20, 40, 90, 10], np.uint8)[:, None, None]  # water
    valid = np.ones((20, 20), bool)
    with_nir = compute_features(image, valid, labels, band_names=RGBN, gsd=0.6)
    without = compute_features(image[:3], valid, labels, band_names=RGB, gsd=0.6)
    assert "colour_ndvi_mean" in with_nir and "colour_nir_mean" in with_nir
    assert not any("ndvi" in c or "nir" in c for c in without.columns)
    assert with_nir.loc[1, "colour_ndvi_mean"] == pytest.approx(160 / 240, rel=1e-5)
    assert with_nir.loc[2, "colour_ndvi_mean"] < 0
    assert with_nir.loc[1, "colour_exg_mean"] > 0 > with_nir.loc[2, "colour_exg_mean"]
    assert with_nir.loc[1, "context_nir_mean"] == 10


def test_embedding_columns_and_stable_column_set() -> None:
    image, valid, labels = _random_patch(3)
    n = int(labels.max())
    embedding = np.random.default_rng(3).normal(size=(n, 5)).astype(np.float32)
    df = compute_features(image, valid, labels, band_names=RGBN, gsd=0.6, embedding=embedding)
    assert list(df.columns) == feature_names(RGBN, 5)
    assert list(df.columns[-5:]) == [f"sam_{i}" for i in range(5)]
    np.testing.assert_array_equal(df[[f"sam_{i}" for i in range(5)]].to_numpy(), embedding)

    image2, valid2, labels2 = _random_patch(4, shape=(30, 50), n=9)
    other = compute_features(image2, valid2, labels2, band_names=RGBN, gsd=0.6,
                             embedding=np.zeros((11, 5), np.float32))
    assert list(other.columns) == list(df.columns) and len(other) == 11
    plain = compute_features(image, valid, labels, band_names=RGBN, gsd=0.6)
    assert list(plain.columns) == feature_names(RGBN)
    assert list(plain.columns) == list(df.columns[:-5])
    assert isinstance(FEATURE_VERSION, str)


def test_finite_for_tiny_dark_and_edge_masks() -> None:
    image, valid, labels = _random_patch(5)
    image[:, labels == 3] = 0  # a black mask: every ratio's denominator is 0
    valid[20:30, :] = False
    labels[~valid] = 0
    df = compute_features(image, valid, labels, band_names=RGBN, gsd=0.6)
    assert np.isfinite(df.to_numpy()).all()
    tiny = df.loc[int(labels.max())]  # the 1-pixel corner mask
    assert tiny["colour_red_std"] == 0 and tiny["shape_axis_ratio"] == pytest.approx(1)
    assert tiny["context_edge_fraction"] == pytest.approx(0.5)
    assert df.loc[3, "colour_blue_ratio_mean"] == pytest.approx(1 / 3)


def test_invalid_pixels_do_not_change_features() -> None:
    image, valid, labels = _random_patch(6)
    valid[:, 40:] = False
    valid[10:12, 5:30] = False
    labels[~valid] = 0
    labels[13, 10:20] = 40  # a thin mask touching no-data: no interior pixels
    first = compute_features(image, valid, labels, band_names=RGBN, gsd=0.6)
    changed = image.copy()
    changed[:, ~valid] = np.random.default_rng(7).integers(0, 256, (4, int((~valid).sum())))
    second = compute_features(changed, valid, labels, band_names=RGBN, gsd=0.6)
    np.testing.assert_array_equal(first.to_numpy(), second.to_numpy())
    # labels under no-data are ignored too
    stray = labels.copy()
    stray[~valid] = 1
    third = compute_features(changed, valid, stray, band_names=RGBN, gsd=0.6)
    np.testing.assert_array_equal(first.to_numpy(), third.to_numpy())


def test_bad_inputs_raise() -> None:
    image, valid, labels = _random_patch(8)
    with pytest.raises(ValueError, match="band_names"):
        compute_features(image, valid, labels, band_names=RGB, gsd=0.6)
    with pytest.raises(ValueError, match="embedding"):
        compute_features(image, valid, labels, band_names=RGBN, gsd=0.6,
                         embedding=np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        compute_features(image.astype(np.float32), valid, labels, band_names=RGBN, gsd=0.6)
