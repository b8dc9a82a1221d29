"""``train`` at city size holds the labels as numbers and lets them go before the fit: the same
hold-out and the same sample as the frame of every decided mask gave, and the MLP's scaler and
inputs made without float64 copies of the sample are the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_sampling import city  # noqa: F401  (the fixture)

import mcae.inference.train as train_module
from mcae.inference.classifier.baseline import BaselineMaskClassifier
from mcae.inference.classifier.contract import as_features
from mcae.inference.classifier.torch_mlp import TorchMaskClassifier
from mcae.inference.compute import Executor
from mcae.inference.decisions import Decision, mask_labels
from mcae.inference.holdout import N_FOLDS
from mcae.inference.project import Project
from mcae.inference.sampling import Labels, balanced_sample, holdout_split, spatial_units


def _frame_sample(project: Project, labels: pd.Series, max_masks: int) -> tuple[pd.MultiIndex, pd.MultiIndex]:
    """The (training, held-out) masks as ``train`` drew them from the frame of every label."""
    y_all = labels.to_numpy(np.int64)
    _, units = spatial_units(project, labels.index.get_level_values(0).to_numpy(), N_FOLDS)
    assert units is not None
    held = holdout_split(units, 1 / N_FOLDS)
    train_pos = np.flatnonzero(~held)[balanced_sample(y_all[~held], max_masks)]
    test_pos = np.flatnonzero(held)
    if len(test_pos) > max(1, max_masks // N_FOLDS):
        test_pos = np.sort(np.random.default_rng(1).choice(test_pos, max_masks // N_FOLDS, replace=False))
    return labels.index[train_pos], labels.index[test_pos]


@pytest.mark.parametrize("max_masks", [300, 1000])
def test_the_same_sample_as_the_frame_of_every_label(
        city: tuple[Project, list[Decision], pd.DataFrame], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        max_masks: int) -> None:
    project, decisions, _ = city
    # some masks taken back or relabelled, so the compact labels' rules matter
    decisions = [*decisions, Decision(target="mask", patch="0-0", mask=3, class_id=0),
                 Decision(target="mask", patch="1-1", mask=5, class_id=8)]
    expected_train, expected_held = _frame_sample(project, mask_labels(decisions)["class_id"], max_masks)
    read: list[pd.MultiIndex] = []
    real_read = train_module.read_features

    def spying_read(project: Project, keys: pd.MultiIndex, advance: object = None) -> pd.DataFrame:
        read.append(keys)
        return real_read(project, keys, advance)  # type: ignore[arg-type]

    def small(kind: str, **params: object) -> BaselineMaskClassifier:
        return BaselineMaskClassifier(max_iter=10, **params)  # type: ignore[arg-type]

    monkeypatch.setattr(train_module, "read_features", spying_read)
    monkeypatch.setattr("mcae.inference.holdout.get_classifier", small)
    report = train_module.train(project, Executor(None, quiet=True), "baseline", decisions=decisions,
                                max_masks=max_masks)
    (keys,) = read
    assert list(keys) == [*expected_train, *expected_held]
    assert report.n_labelled == len(mask_labels(decisions)) and report.n_holdout == len(expected_held)
    assert not set(expected_train.get_level_values(0)) & set(expected_held.get_level_values(0))


def test_labels_as_numbers_and_dropped() -> None:
    decisions = [Decision(target="group", neighbourhood="h", group="g", class_id=5,
                          masks=[("b", 2), ("a", 10), ("a", 9)]),
                 Decision(target="mask", patch="a", mask=9, class_id=0)]
    labels = Labels.of(decisions)
    assert list(labels.keys()) == [("a", 10), ("b", 2)] and labels.series().tolist() == [5, 5]
    labels.drop()
    assert len(labels) == 0 and len(labels.patch) == 0


def _old_inputs(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """The scaler and the inputs as the MLP made them with whole-sample float64 arrays."""
    finite = ~np.isnan(data)
    counts = np.maximum(finite.sum(axis=0), 1)
    mean = np.where(finite, data, 0.0).sum(axis=0) / counts
    spread = np.where(finite, data - mean, 0.0)
    scale = np.sqrt((spread**2).sum(axis=0) / counts)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = np.clip((data - mean) / scale, -5.0, 5.0)
    return mean, scale, torch.as_tensor(np.nan_to_num(z, nan=0.0), dtype=torch.float32)


@pytest.mark.parametrize("layout", ["frame", "C", "rows"])
def test_the_mlp_scaler_and_inputs_are_the_same_numbers(layout: str) -> None:
    rng = np.random.default_rng(0)
    values = (rng.lognormal(size=(40_000, 12)) * rng.uniform(0.1, 1e4, 12)).astype(np.float32)
    values[::97, 3], values[::31, 7], values[:, 11] = np.nan, np.inf, 2.5  # missing, infinite, constant
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(12)])
    X = {"frame": frame, "C": np.ascontiguousarray(values), "rows": frame.iloc[::3]}[layout]
    est = TorchMaskClassifier()
    data = as_features(est, X, reset=True)
    before = data.copy(order="K")
    mean, scale, inputs = _old_inputs(data.copy(order="K"))
    est._fit_scaler(data)
    np.testing.assert_array_equal(data, before)  # given back as it came
    np.testing.assert_array_equal(est.scaler_mean_, mean)
    np.testing.assert_array_equal(est.scaler_scale_, scale)
    assert torch.equal(est._standardise(data), inputs)
