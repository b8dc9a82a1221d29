"""The synthetic demo city and its SinoLC-1 stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from mcae.inference.classes import MCAE, SINOLC1_TO_MCAE
from mcae.inference.demo.scene import CityScene, colour_labels, describe, make_city
from mcae.inference.demo.sinolc1_standin import SINOLC1_VALUES, mode_filter, sinolc1_standin

SIZE = 512


@pytest.fixture(scope="module")
def city() -> CityScene:
    return make_city(SIZE, SIZE, seed=3)


@pytest.fixture(scope="module")
def standin(city: CityScene) -> np.ndarray:
    return sinolc1_standin(city.labels, seed=3)


def _chroma(image: np.ndarray, labels: np.ndarray, cls: int) -> np.ndarray:
    """Mean r, g, b of a class divided by its mean brightness sum."""
    rgb = image[:, labels == cls].astype(np.float64).mean(axis=1)
    return np.asarray(rgb / rgb.sum())


def test_shapes_and_dtypes(city: CityScene) -> None:
    assert city.image.shape == (3, SIZE, SIZE) and city.image.dtype == np.uint8
    assert city.labels.shape == (SIZE, SIZE) and city.labels.dtype == np.uint8
    assert set(np.unique(city.labels)) <= set(range(1, 9))


def test_non_square_and_too_small() -> None:
    scene = make_city(200, 330, seed=1)
    assert scene.image.shape == (3, 200, 330) and scene.labels.shape == (200, 330)
    assert scene.labels.min() >= 1
    with pytest.raises(ValueError):
        make_city(32, 300)


def test_deterministic_per_seed() -> None:
    a, b, c = make_city(256, 256, seed=5), make_city(256, 256, seed=5), make_city(256, 256, 6)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    assert np.mean(a.image != c.image) > 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_class_present_small(seed: int) -> None:
    shares = describe(make_city(SIZE, SIZE, seed).labels)
    for name in MCAE.names[:8]:
        assert 0.5 < shares[name] < 40, (name, shares)
    assert shares["Others"] == 0


def test_class_proportions_plausible() -> None:
    shares = describe(make_city(1024, 1024, seed=0).labels)
    ranges = {"Building": (13, 27), "Road": (8, 17), "Developed": (9, 22), "Tree": (7, 22),
              "Water": (2, 11), "Agriculture": (8, 27), "Rangeland": (4, 17),
              "Bareland": (1.5, 11)}
    for name, (lo, hi) in ranges.items():
        assert lo <= shares[name] <= hi, (name, shares)
    assert sum(shares.values()) == pytest.approx(100.0)


def test_imagery_is_textured(city: CityScene) -> None:
    grey = city.image.astype(np.float64).mean(axis=0)
    for cls in range(1, 9):
        values = grey[city.labels == cls]
        assert values.std() > 4.0, (MCAE.name_of(cls), values.std())
    tree = grey[city.labels == 5]
    assert tree.std() > 8.0  # crowns are strongly textured


def test_classes_are_distinguishable(city: CityScene) -> None:
    img, lab = city.image, city.labels
    water, tree, road = _chroma(img, lab, 6), _chroma(img, lab, 5), _chroma(img, lab, 4)
    bare, agri = _chroma(img, lab, 1), _chroma(img, lab, 7)
    assert water[2] > tree[2] + 0.05  # water is bluer than trees
    assert tree[1] > road[1] + 0.05  # trees are greener than roads
    assert agri[1] > bare[1] + 0.03  # crops are greener than soil
    assert bare[0] > water[0] + 0.08  # soil is redder than water
    brightness = {c: img[:, lab == c].mean() for c in (4, 5, 6)}
    assert brightness[4] > brightness[5] + 40 and brightness[4] > brightness[6] + 40


def test_buildings_cast_shadows(city: CityScene) -> None:
    grey = city.image.astype(np.float64).mean(axis=0)
    ground = grey[city.labels == 3]
    dark = (ground < 0.6 * np.median(ground)).mean()
    assert 0.03 < dark < 0.6  # shadowed yards exist but do not dominate


def test_describe_and_colours() -> None:
    labels = np.array([[1, 1, 8, 0]], np.uint8)
    shares = describe(labels)
    assert shares["Bareland"] == pytest.approx(100 * 2 / 3)
    assert shares["Building"] == pytest.approx(100 / 3) and shares["Water"] == 0
    rgb = colour_labels(labels)
    assert rgb.shape == (1, 4, 3) and tuple(rgb[0, 2]) == MCAE.get(8).rgb


def test_standin_values_and_grid(city: CityScene, standin: np.ndarray) -> None:
    assert standin.shape == city.labels.shape and standin.dtype == np.uint8
    values = set(np.unique(standin).tolist())
    assert values <= set(SINOLC1_VALUES)
    assert {1, 2, 5, 6, 9, 10} <= values  # roads, trees, crops, buildings, water, wetland


def test_standin_is_deterministic(city: CityScene, standin: np.ndarray) -> None:
    assert np.array_equal(standin, sinolc1_standin(city.labels, seed=3))
    assert not np.array_equal(standin, sinolc1_standin(city.labels, seed=4))


def test_standin_buildings_include_yards(city: CityScene, standin: np.ndarray) -> None:
    ref = (city.labels == 8).mean()
    assert (standin == 6).mean() > 1.3 * ref
    developed = city.labels == 3
    assert (standin[developed] == 6).mean() > 0.4  # yards became building blobs


def test_standin_agrees_imperfectly(city: CityScene, standin: np.ndarray) -> None:
    lut = np.zeros(256, np.uint8)
    for k, v in SINOLC1_TO_MCAE.items():
        lut[k] = v
    agreement = (lut[standin] == city.labels).mean()
    assert 0.55 < agreement < 0.9, agreement


def test_standin_roads_have_constant_width(city: CityScene, standin: np.ndarray) -> None:
    ref, osm = city.labels == 4, standin == 1
    assert 0.5 < osm.sum() / ref.sum() < 2.0
    assert (osm & ref).sum() > 0.5 * ref.sum() * min(1.0, osm.sum() / ref.sum())


def test_mode_filter_removes_specks() -> None:
    values = np.full((20, 20), 5, np.uint8)
    values[10, 10] = 2
    values[:, :6] = 9
    out = mode_filter(values, 5)
    assert out[10, 10] == 5 and out[10, 0] == 9 and out.dtype == np.uint8
