"""The stratified estimators against the published example of Olofsson et al. (2014)."""

from __future__ import annotations

import numpy as np
import pytest

from mcae.inference.assessment.agreement import agreement
from mcae.inference.assessment.allocation import allocate, size_for_target_se
from mcae.inference.assessment.estimators import Z95, error_matrix, stratified_estimates
from mcae.inference.assessment.report import build_report

# Olofsson et al. (2014), RSE 148: 42-57, section 5, Table 8: sample counts (rows: map class =
# stratum; columns: reference) of deforestation, forest gain, stable forest, stable non-forest,
# and the mapped areas in 30 m pixels (0.09 ha each)
COUNTS = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
PIXELS = np.array([200_000, 150_000, 3_200_000, 6_450_000])
HA_PER_PIXEL = 0.09


@pytest.fixture(scope="module")
def example():  # type: ignore[no-untyped-def]
    return stratified_estimates(COUNTS, PIXELS, [1, 2, 3, 4])


def test_area_proportions_table_9(example) -> None:  # type: ignore[no-untyped-def]
    printed = [[0.0176, 0, 0.0013, 0.0011], [0, 0.0110, 0.0016, 0.0024],
               [0.0019, 0, 0.2967, 0.0213], [0.0040, 0.0020, 0.0179, 0.6212]]
    assert np.round(example.proportions, 4).tolist() == printed


def test_accuracies_section_5_2_1(example) -> None:  # type: ignore[no-untyped-def]
    assert round(example.overall, 2) == 0.95 and round(Z95 * example.overall_se, 2) == 0.02
    assert np.round(example.users, 2).tolist() == [0.88, 0.73, 0.93, 0.96]
    assert np.round(Z95 * example.users_se, 2).tolist() == [0.07, 0.10, 0.04, 0.02]
    assert np.round(example.producers, 2).tolist() == [0.75, 0.85, 0.93, 0.96]
    # printed 0.21, 0.23, 0.03, 0.01: the paper's own eq. 7 gives 0.254 and 0.018 for forest gain
    # and stable non-forest (a known misprint; other implementations agree with eq. 7)
    assert np.round(Z95 * example.producers_se, 2).tolist() == [0.21, 0.25, 0.03, 0.02]
    assert round(float(Z95 * example.producers_se[1]), 3) == 0.254


def test_areas_section_5_2_2(example) -> None:  # type: ignore[no-untyped-def]
    assert np.round(example.area * HA_PER_PIXEL).tolist() == [21158, 11686, 285770, 581386]
    assert np.round(Z95 * example.area_se * HA_PER_PIXEL).tolist() == [6158, 3756, 15510, 16282]
    assert round(float(example.area_proportion[0]), 4) == 0.0235


def test_sample_size_section_5_1() -> None:
    # target S(O) = 0.01 with expected user's accuracies 0.7, 0.6, 0.9, 0.95: n = 641
    assert size_for_target_se(PIXELS / PIXELS.sum(), np.array([0.7, 0.6, 0.9, 0.95]), 0.01) == 641
    prop = allocate(641, PIXELS, min_per_class=0)
    assert prop.tolist() == [13, 10, 205, 413]  # Table 5, proportional allocation
    alloc = allocate(641, PIXELS, min_per_class=100)
    assert alloc.sum() == 641 and alloc.min() >= 100


def test_allocation_edge_cases() -> None:
    assert allocate(10, np.array([3, 1000, 0]), min_per_class=50).tolist() == [3, 7, 0]
    assert allocate(100, np.array([5, 5000, 5000]), min_per_class=20).sum() == 100
    with pytest.raises(ValueError):
        allocate(20, np.array([5, 5]), 1)


def test_report_shape_from_points() -> None:
    labels = [(s, r) for i, s in enumerate([1, 2, 3, 4]) for j, r in enumerate([1, 2, 3, 4])
              for _ in range(COUNTS[i, j])]
    assert error_matrix(np.array([s for s, _ in labels]), np.array([r for _, r in labels]), [1, 2, 3, 4]).tolist() \
        == COUNTS.tolist()
    strata = {c: {"pixels": int(p), "area_m2": float(p) * 900.0} for c, p in zip([1, 2, 3, 4], PIXELS, strict=True)}
    report = build_report(strata, labels, cant_tell=3, version="abc")
    assert set(report) >= {"overall_accuracy", "users_accuracy", "producers_accuracy", "area_m2", "n", "cant_tell",
                           "version"}
    assert report["n"] == 640 and report["cant_tell"] == 3 and report["version"] == "abc"
    area = report["area_m2"]["1"]
    assert area["map"] == 200_000 * 900.0 and round(area["estimate"] / 1e4) == 21158
    assert round(area["ci95"] / 1e4) == 6158
    assert set(report["users_accuracy"]["2"]) == {"estimate", "ci95"}


def test_one_point_strata_and_unsampled_strata() -> None:
    est = stratified_estimates(np.array([[1, 0], [0, 0]]), np.array([10.0, 90.0]))
    assert est.overall == 1.0 and est.overall_se == 0.0  # the unlabelled stratum is left out
    report = build_report({1: {"area_m2": 10.0}, 2: {"area_m2": 90.0}}, [(1, 1)], cant_tell=0, version=None)
    assert report["strata_without_labels"] == ["2"]


def test_agreement() -> None:
    assert agreement([1, 2, 3, 3], [1, 2, 3, 1])["agreement"] == 0.75
    assert agreement([], [])["kappa"] is None
    assert agreement([1, 2], [1, 2])["kappa"] == 1.0


def test_report_of_a_sample_without_labels(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mcae.inference.assessment.report import write_report

    report = build_report({1: {"area_m2": 10.0}, 2: {"area_m2": 5.0}}, [], cant_tell=2, version="v")
    assert report["overall_accuracy"] == {"estimate": None, "ci95": None} and report["n"] == 0
    assert report["area_m2"]["1"] == {"map": 10.0, "estimate": None, "ci95": None}
    names = [p.name for p in write_report(report, tmp_path)]
    assert names == ["report.json", "report.csv", "error_matrix.png", "class_areas.png"]
