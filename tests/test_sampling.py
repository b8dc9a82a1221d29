"""Training at city size: the class-balanced budget sample, the spatial hold-out, one fit.

A synthetic project (4 x 4 patches of 150 masks each, two features that tell the classes
apart, every mask decided, Tree four times as common as Water) trained with the large
path (more than ``KFOLD_MAX`` decided masks): nothing here depends on time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcae.inference.holdout as holdout_module
import mcae.inference.train as train_module
from mcae.inference.compute import Executor
from mcae.inference.decisions import Decision
from mcae.inference.grid import PatchGrid
from mcae.inference.project import Project
from mcae.inference.sampling import balanced_sample, holdout_split, read_features, spatial_units
from mcae.inference.segment import INDEX_COLUMNS

PER_PATCH = 150


def test_balanced_sample_fills_small_classes_first() -> None:
    y = np.repeat([1, 2, 3], [1000, 50, 300])
    picked = balanced_sample(y, 300)
    assert len(picked) == 300 and np.all(np.diff(picked) > 0)
    assert dict(zip(*np.unique(y[picked], return_counts=True), strict=True)) == {1: 125, 2: 50, 3: 125}
    np.testing.assert_array_equal(balanced_sample(y, 300), picked)  # seeded
    np.testing.assert_array_equal(balanced_sample(y, 5000), np.arange(len(y)))  # under budget: all


def test_holdout_split_holds_out_whole_units() -> None:
    units = np.repeat([f"u{i}" for i in range(20)], 50).astype(object)
    held = holdout_split(units, 0.2)
    assert 0 < held.sum() <= 0.2 * len(units)
    assert not set(units[held]) & set(units[~held])
    assert holdout_split(np.array(["a", "a", "b"], dtype=object), 0.01).sum() in (1, 2)  # never none, never all


def test_spatial_units_prefer_neighbourhoods_then_patches(tmp_path: Path) -> None:
    grid = PatchGrid(256, 256, 64, 0, 2)  # 16 patches in 4 neighbourhoods
    project = Project(tmp_path, {"grid": grid.to_dict()})
    patches = np.array([p.id for p in grid.patches()], dtype=object)
    unit, units = spatial_units(project, patches, 5)
    assert unit == "patches" and units is not None and list(units) == list(patches)
    unit, units = spatial_units(project, patches, 4)
    assert unit == "neighbourhoods" and units is not None and len(set(units)) == 4
    assert spatial_units(project, patches[:2], 5) == ("groups", None)


@pytest.fixture
def city(tmp_path: Path) -> tuple[Project, list[Decision], pd.DataFrame]:
    """16 patches in 4 neighbourhoods; class 5 (Tree) 80 % of the masks, class 8 (Water) 20 %."""
    grid = PatchGrid(256, 256, 64, 0, 2)
    project = Project(tmp_path, {"grid": grid.to_dict(), "steps": {}})
    project.patches_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    decisions, groups = [], []
    for patch in grid.patches():
        ids = np.arange(1, PER_PATCH + 1)
        y = np.where(rng.random(PER_PATCH) < 0.8, 5, 8)
        table = pd.DataFrame({c: np.zeros(PER_PATCH) for c in INDEX_COLUMNS})
        table["patch"], table["mask_id"], table["neighbourhood"] = patch.id, ids, patch.neighbourhood
        table["core_area"] = 10
        table["source"] = "synthetic"
        table["f1"] = y + rng.normal(0, 0.3, PER_PATCH)
        table["f2"] = rng.normal(size=PER_PATCH)
        table.to_parquet(project.patch_table(patch.id))
        groups.append(pd.DataFrame({"patch": patch.id, "mask_id": ids, "neighbourhood": patch.neighbourhood,
                                    "cluster": 0, "group": "0-0"}))
        decisions += [Decision(target="mask", patch=patch.id, mask=int(i), class_id=int(c))
                      for i, c in zip(ids, y, strict=True)]
    pd.concat(groups).to_parquet(project.groups_path)
    project.save()
    return project, decisions, pd.concat(groups)


def test_train_at_city_size_fits_once_on_a_balanced_sample_away_from_the_hold_out(
        city: tuple[Project, list[Decision], pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    from mcae.inference.classifier.baseline import BaselineMaskClassifier

    project, decisions, _ = city
    assert train_module.KFOLD_MAX < 16 * PER_PATCH  # 2,400 decided masks: the one-fit path
    fits, splits = [], []
    real_fit, real_score = BaselineMaskClassifier.fit, train_module.score_holdout

    def counting_fit(self: BaselineMaskClassifier, X: pd.DataFrame, *args: object, **kw: object) -> object:
        fits.append(X.index)
        return real_fit(self, X, *args, **kw)  # type: ignore[arg-type]

    def spying_score(X: pd.DataFrame, y: np.ndarray, kinds: list[str], **kw: object) -> object:
        folds = kw["folds"]
        assert isinstance(folds, list) and len(folds) == 1
        splits.append((X.index[folds[0][0]], X.index[folds[0][1]]))
        return real_score(X, y, kinds, **kw)  # type: ignore[arg-type]

    def small(kind: str, **params: object) -> BaselineMaskClassifier:
        return BaselineMaskClassifier(max_iter=10, **params)  # type: ignore[arg-type]  # quick

    monkeypatch.setattr(holdout_module, "get_classifier", small)
    monkeypatch.setattr(train_module, "get_classifier", small)
    monkeypatch.setattr(BaselineMaskClassifier, "fit", counting_fit)
    monkeypatch.setattr(train_module, "score_holdout", spying_score)
    report = train_module.train(project, Executor(None, quiet=True), "baseline", decisions=decisions,
                                max_masks=500)

    assert report.n_labelled == 16 * PER_PATCH and report.labelled_classes[5] > 3 * report.labelled_classes[8]
    assert len(fits) == 1  # one fit: the saved model is the one the hold-out scored
    (trained, held), = splits
    held_patches = set(held.get_level_values(0))
    water = sum(1 for d in decisions if d.class_id == 8 and d.patch not in held_patches)  # in training units
    assert report.n_masks == 500 and report.classes == {8: min(250, water), 5: 500 - min(250, water)}  # balanced
    assert 0 < report.n_holdout <= 500 // 5 and report.n_sampled == report.n_masks + report.n_holdout
    assert fits[0].equals(trained)
    assert not set(trained.get_level_values(0)) & set(held.get_level_values(0))  # whole patches held out
    assert report.holdout["split"] == "patches" and report.holdout["fits"] == 1
    assert report.holdout_accuracy["baseline"] > 0.9
    step = json.loads(project.manifest_path.read_text())
    assert step["steps"]["train"]["labelled"] == 16 * PER_PATCH and "train" not in step.get("running", {})
    assert project.has_model()


def test_read_features_keeps_the_order_of_the_keys(city: tuple[Project, list[Decision], pd.DataFrame]) -> None:
    project, _, _ = city
    keys = pd.MultiIndex.from_tuples([("1-1", 7), ("0-0", 3), ("1-1", 2), ("9-9", 1)], names=["patch", "mask_id"])
    project.patch_table("9-9").unlink(missing_ok=True)
    X = read_features(project, keys[:3])
    assert list(X.index) == list(keys[:3]) and list(X.columns) == ["f1", "f2"]
    direct = pd.read_parquet(project.patch_table("1-1")).set_index("mask_id")
    assert X.loc[("1-1", 7), "f1"] == direct.loc[7, "f1"]


def test_an_interrupted_training_says_it_starts_over(city: tuple[Project, list[Decision], pd.DataFrame],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mcae.platform.cli.engine import _progress_of

    project, decisions, _ = city

    def interrupted(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "read_features", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_module.train(project, Executor(None, quiet=True), "baseline", decisions=decisions)
    saved = Project(project.root, json.loads(project.manifest_path.read_text()))
    _, remaining = _progress_of(saved)
    assert any("did not finish" in line and "starts over" in line for line in remaining), remaining
    assert not saved.has_model()
