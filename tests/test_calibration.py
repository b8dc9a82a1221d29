"""Honest confidence: temperature scaling, ECE, reliability plots and the hold-out report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from mcae.inference.classifier import get_classifier, load_classifier
from mcae.inference.classifier.calibration import (
    TemperatureScaler,
    expected_calibration_error,
    plot_reliability,
    reliability,
    scale_proba,
)
from mcae.inference.holdout import MIN_PER_CLASS, holdout

torch.set_num_threads(1)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """OpenMP/BLAS on one thread: the test machine is small and shared."""
    with threadpool_limits(limits=1):
        yield


def overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that claim about 0.97 while being right 70 % of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    right = rng.random(n) < 0.7
    pred = np.where(right, truth, (truth + 1 + rng.integers(0, 2, n)) % 3)
    proba = np.full((n, 3), 0.015)
    proba[np.arange(n), pred] = 0.97
    return proba, truth


def test_temperature_scaling_makes_an_overconfident_model_honest() -> None:
    proba, truth = overconfident()
    scaler = TemperatureScaler()
    assert scaler.fit(proba, truth) is scaler  # scikit-learn convention
    assert scaler.temperature_ > 1.5  # over-confident: softened
    assert scaler.nll_after_ < scaler.nll_before_
    tempered = scaler.transform(proba)
    assert (tempered.argmax(axis=1) == proba.argmax(axis=1)).all()  # the class never changes
    np.testing.assert_allclose(tempered.sum(axis=1), 1.0)
    before = expected_calibration_error(proba, truth)
    after = expected_calibration_error(tempered, truth)
    assert before > 0.2 and after < 0.05
    assert abs(tempered.max(axis=1).mean() - 0.7) < 0.05  # "0.7" now means right 70 % of the time


def test_scale_proba_keeps_impossible_classes_impossible() -> None:
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3]])
    out = scale_proba(proba, 3.0)
    assert out[0, 2] == 0 and out[0, 0] < 0.9 and np.allclose(out.sum(axis=1), 1)
    assert scale_proba(proba, 1.0) is not None and np.allclose(scale_proba(proba, 1.0), proba)


def test_reliability_bins_and_ece_by_hand() -> None:
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    truth = np.array([0, 1, 0, 0])  # 0.95 bin: 1 of 2 right; 0.55 bin: 2 of 2 right
    rel = reliability(proba, truth, n_bins=10)
    assert rel.count[9] == 2 and rel.count[5] == 2 and sum(rel.count) == 4
    assert rel.accuracy[9] == 0.5 and rel.accuracy[5] == 1.0 and rel.accuracy[0] is None
    assert rel.ece == pytest.approx((2 * 0.45 + 2 * 0.45) / 4)


def test_reliability_plot_is_a_png(tmp_path: Path) -> None:
    proba, truth = overconfident(300)
    raw = reliability(proba, truth)
    fixed = reliability(TemperatureScaler().fit(proba, truth).transform(proba), truth)
    path = plot_reliability({"raw": raw, "calibrated": fixed}, tmp_path / "r" / "rel.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["mlp", "baseline"])
def test_classifiers_save_and_apply_their_temperature(kind: str, tmp_path: Path) -> None:
    X, y = make_classification(300, n_features=8, n_informative=5, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    y = np.array([1, 5, 8])[y]
    params = {"epochs": 30} if kind == "mlp" else {"max_iter": 20}
    model = get_classifier(kind, **params).fit(X, y)
    assert model.temperature_ == 1.0
    raw = model.predict_proba(X[:20])
    assert model.set_temperature(4.0) is model
    soft = model.predict_proba(X[:20])
    assert (soft.max(axis=1) <= raw.max(axis=1) + 1e-9).all() and (soft.argmax(1) == raw.argmax(1)).all()
    path = model.save(tmp_path / f"m.{kind}", feature_names=[f"f{i}" for i in range(8)], feature_version="t")
    loaded = load_classifier(path)
    assert loaded.temperature_ == 4.0
    np.testing.assert_allclose(loaded.predict_proba(X[:20]), soft, atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        model.set_temperature(0)


def features(n_per_class: dict[int, int], seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, c) for c, n in n_per_class.items()])
    X = rng.normal(size=(len(y), 4)) + y[:, None] * 1.5
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]), y


def test_holdout_scores_what_it_can_and_says_why_not_the_rest() -> None:
    X, y = features({8: 30, 5: 25, 6: 3})  # Water has too few masks for its own score
    out = holdout(X, y, ["baseline"])
    assert out.scored and 0.5 < out.accuracy["baseline"] <= 1.0 and out.n == 58
    assert set(out.per_class) == {"Building", "Tree"} and out.unscored_classes == ["Water"]
    assert out.reason and "Water" in out.reason and str(MIN_PER_CLASS) in out.reason
    assert out.before is not None and out.after is not None and out.temperature > 0
    report = out.to_dict()
    assert report["ece"] == out.after.ece and report["reliability"]["n"] == 58


def test_holdout_with_too_few_masks_is_unscored_with_a_reason() -> None:
    X, y = features({8: 4, 5: 3})
    out = holdout(X, y, ["baseline"])
    assert not out.scored and out.accuracy == {} and "at least 10" in (out.reason or "")
    X, y = features({8: 20})
    assert "two or more classes" in (holdout(X, y, ["baseline"]).reason or "")


def test_holdout_holds_out_whole_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masks of one group are near-duplicates: a fold never trains on a group it is scored on."""
    import mcae.inference.holdout as holdout_module

    X, y = features({8: 40, 5: 40})
    groups = np.array([f"g{i // 8}" for i in range(len(y))])  # 10 groups of 8 masks, one class each
    seen: list[tuple[set[str], set[str]]] = []
    real = holdout_module._group_folds

    def spy(labels: np.ndarray, g: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
        folds = real(labels, g)
        assert folds is not None
        seen.extend((set(groups[tr]), set(groups[te])) for tr, te in folds)
        return folds

    monkeypatch.setattr(holdout_module, "_group_folds", spy)
    out = holdout(X, y, ["baseline"], groups=groups)
    assert out.scored and len(seen) >= 2
    assert all(not (train & test) for train, test in seen)
    assert set().union(*(test for _, test in seen)) == set(groups)  # every mask scored once


def test_holdout_with_one_fit_scores_one_fold_of_whole_units() -> None:
    """City size: one fit; its held-out fold is scored and calibrated nested in two halves."""
    X, y = features({8: 40, 5: 40})
    groups = np.array([f"g{i // 8}" for i in range(len(y))])
    out = holdout(X, y, ["baseline"], groups=groups, n_fits=1, unit="patches")
    assert out.scored and out.fits == 1 and out.split == "patches" and 0 < out.n < len(y)
    assert out.model is not None and out.after is not None and out.after.to_dict()["n"] == out.n
    assert out.to_dict()["split"] == "patches" and "model" not in out.to_dict()
