"""The sampling design and the estimators against known truth: seeded synthetic maps with a
full reference (the demo city's reference and blob maps with a rare class); 95 % intervals
of overall accuracy and class areas must hold the truth in at least 90 % of seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcae.inference.assessment.report import build_report
from mcae.inference.assessment.response import reference_classes
from mcae.inference.assessment.sampling import count_strata, design_sample
from tests.assessment_data import blob_truth, noisy_map, write_classes

SEEDS = 50


def _maps(tmp: Path) -> dict[str, tuple[Path, Path, np.ndarray, np.ndarray]]:
    from mcae.inference.demo.scene import make_city

    out = {}
    truth = blob_truth(256, seed=4)
    out["blobs"] = (truth, noisy_map(truth, 4, {1: 0.05, 2: 0.15, 3: 0.3, 4: 0.2, 5: 0.4}))
    demo = make_city(256, 256, seed=7).labels
    out["demo-reference"] = (demo, noisy_map(demo, 7, {}))
    return {name: (write_classes(tmp / f"{name}-map.tif", m), write_classes(tmp / f"{name}-ref.tif", t), t, m)
            for name, (t, m) in out.items()}


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, np.ndarray, np.ndarray]]:
    return _maps(tmp_path_factory.mktemp("assess"))


def test_counts_and_equal_area(maps) -> None:  # type: ignore[no-untyped-def]
    map_path, _, _, mapped = maps["blobs"]
    strata = count_strata(str(map_path), block=64)
    for c in range(1, 6):
        assert strata.pixels(c) == int((mapped == c).sum())
    # UTM at 0.6 m: an equal-area pixel is within 0.2 % of the nominal 0.36 m² (scale factor 0.9996)
    assert np.allclose(strata.pixel_area, 0.36, rtol=2e-3) and not np.allclose(strata.pixel_area, 0.36, rtol=1e-9)


def test_same_seed_same_sample_and_exact_allocation(maps) -> None:  # type: ignore[no-untyped-def]
    map_path, _, _, mapped = maps["blobs"]
    d1, p1 = design_sample(str(map_path), seed=3, points=120, min_per_class=15, block=64)
    d2, _ = design_sample(str(map_path), seed=3, points=120, min_per_class=15, block=100)
    _, p3 = design_sample(str(map_path), seed=4, points=120, min_per_class=15, block=64)
    assert [(p.row, p.col) for p in p1] != [(p.row, p.col) for p in p3]
    assert d1.n == 120 and len({(p.row, p.col) for p in p1}) == 120
    assert all(mapped[p.row, p.col] == p.stratum for p in p1)
    assert {c: s["n"] for c, s in d1.strata.items()} == {c: s["n"] for c, s in d2.strata.items()}
    assert min(s["n"] for s in d1.strata.values()) >= 15
    assert [(p.row, p.col) for p in p1] == [(p.row, p.col) for p in
                                            design_sample(str(map_path), seed=3, points=120, min_per_class=15,
                                                          block=64)[1]]
    lonlat = [(p.lon, p.lat) for p in p1]
    assert all(115 < lon < 118 and 39 < lat < 41 for lon, lat in lonlat)  # UTM 50N, near Beijing
    ref = reference_classes(str(maps["blobs"][1]), lonlat)
    assert ref == [int(maps["blobs"][2][p.row, p.col]) for p in p1]


def test_target_se_design(maps) -> None:  # type: ignore[no-untyped-def]
    design, points = design_sample(str(maps["blobs"][0]), seed=1, target_se=0.02, expected_ua={5: 0.6},
                                   min_per_class=10, block=64)
    assert design.method == "target-se" and design.expected_ua[5] == 0.6 and len(points) == design.n > 100


@pytest.mark.parametrize(("name", "n"), [("blobs", 400), ("demo-reference", 400)])
def test_intervals_cover_the_truth(maps, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    map_path, ref_path, truth, mapped = maps[name]
    valid = mapped > 0
    true_oa = float(np.mean(mapped[valid] == truth[valid]))
    classes = sorted(int(c) for c in np.unique(mapped[valid]))
    true_share = {c: float(np.mean(truth[valid] == c)) for c in classes}
    oa_hits, area_hits, area_total = 0, 0, 0
    for seed in range(SEEDS):
        design, points = design_sample(str(map_path), seed=seed, points=n, min_per_class=25, block=64)
        ref = reference_classes(str(ref_path), [(p.lon, p.lat) for p in points])
        labels = [(p.stratum, r) for p, r in zip(points, ref, strict=True) if r is not None]
        report = build_report(design.strata, labels, cant_tell=0, version="v")
        oa = report["overall_accuracy"]
        oa_hits += abs(oa["estimate"] - true_oa) <= oa["ci95"]
        total = sum(s["area_m2"] for s in design.strata.values())
        for c in classes:
            area = report["area_m2"][str(c)]
            area_total += 1
            area_hits += abs(area["estimate"] - true_share[c] * total) <= area["ci95"]
    print(f"{name}: OA interval held the truth in {oa_hits}/{SEEDS} seeds; class areas {area_hits}/{area_total}")
    assert oa_hits >= 0.9 * SEEDS
    assert area_hits >= 0.9 * area_total
