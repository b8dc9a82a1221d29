"""Mask classifiers: accuracy, 9-column probabilities, determinism, safe save/load."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from mcae.inference.classes import MCAE
from mcae.inference.classifier import (
    BaselineMaskClassifier,
    TorchMaskClassifier,
    available_classifiers,
    get_classifier,
    load_classifier,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """OpenMP/BLAS on one thread: the test machine is small and shared."""
    with threadpool_limits(limits=1):
        yield

KINDS = ["mlp", "baseline"]
PRESENT = np.array([1, 3, 5, 6, 8])  # 5 of the 9 MCAE classes
NAMES = [f"f{i:02d}" for i in range(20)]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_classification(600, n_features=20, n_informative=10, n_redundant=4,
                               n_classes=5, n_clusters_per_class=1, class_sep=2.0,
                               random_state=0)
    return X[:400], PRESENT[y[:400]], X[400:], PRESENT[y[400:]]


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, ...]) -> dict[str, TorchMaskClassifier | BaselineMaskClassifier]:
    X, y, _, _ = data
    return {kind: get_classifier(kind).fit(X, y) for kind in KINDS}


def test_registry() -> None:
    assert available_classifiers() == ["baseline", "mlp"]
    assert isinstance(get_classifier("MLP", epochs=5), TorchMaskClassifier)
    assert get_classifier("baseline", max_iter=7).max_iter == 7
    with pytest.raises(KeyError, match="known"):
        get_classifier("svm")


@pytest.mark.parametrize("kind", KINDS)
def test_accuracy_and_proba(kind: str, data: tuple[np.ndarray, ...], fitted: dict) -> None:
    _, _, X_test, y_test = data
    model = fitted[kind]
    assert (model.predict(X_test) == y_test).mean() > 0.9
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 9)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(model.classes_, np.arange(1, 10))
    assert set(model.predict(X_test)) <= set(PRESENT)
    assert model.predict_proba(X_test[:0]).shape == (0, 9)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_roundtrip(kind: str, data: tuple, fitted: dict, tmp_path: Path) -> None:
    _, _, X_test, _ = data
    model = fitted[kind]
    path = model.save(tmp_path / "model.bin", feature_names=NAMES, feature_version="feat-v3")
    assert path.stat().st_size < 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]  # no temp file left
    loaded = load_classifier(path, expected_feature_names=NAMES)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    assert loaded.get_params() == model.get_params()
    meta = loaded.metadata_
    assert meta["scheme"] == "mcae" and meta["feature_version"] == "feat-v3"
    assert meta["class_ids"] == MCAE.ids and meta["class_names"] == MCAE.names
    assert meta["class_colours"][7] == [222, 31, 7]
    assert meta["feature_names"] == NAMES and "numpy" in meta["versions"]
    assert list(loaded.feature_names_in_) == NAMES


def test_mlp_file_is_plain_tensors(fitted: dict, tmp_path: Path) -> None:
    path = fitted["mlp"].save(tmp_path / "m.pt", feature_names=NAMES, feature_version="v")
    assert zipfile.is_zipfile(path)
    payload = torch.load(path, weights_only=True)  # no pickled code needed
    assert payload["metadata"]["versions"]["torch"] == str(torch.__version__)
    assert payload["architecture"]["n_outputs"] == 9


@pytest.mark.parametrize("cls", [TorchMaskClassifier, BaselineMaskClassifier])
def test_load_rejects_other_files(
    cls: type[TorchMaskClassifier] | type[BaselineMaskClassifier], tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    with pytest.raises(ValueError, match="not an MCAE mask classifier"):
        cls.load(text)
    other = tmp_path / "other.bin"
    joblib.dump({"a": 1}, other)
    torch.save({"a": 1}, tmp_path / "other.pt")
    for path in (other, tmp_path / "other.pt"):
        with pytest.raises(ValueError, match="not an MCAE mask classifier"):
            cls.load(path)
    with pytest.raises(FileNotFoundError):
        cls.load(tmp_path / "missing.bin")


@pytest.mark.parametrize("kind", KINDS)
def test_load_checks_features_and_scheme(kind: str, fitted: dict, tmp_path: Path) -> None:
    path = fitted[kind].save(tmp_path / "m", feature_names=NAMES, feature_version="v1")
    with pytest.raises(ValueError, match="other features"):
        load_classifier(path, expected_feature_names=[*NAMES[:-1], "other"])
    with pytest.raises(ValueError, match="scheme"):
        load_classifier(path, expected_scheme="sinolc1")
    other_kind = BaselineMaskClassifier if kind == "mlp" else TorchMaskClassifier
    with pytest.raises(ValueError):
        other_kind.load(path)


@pytest.mark.parametrize("kind", KINDS)
def test_save_checks_feature_names(kind: str, fitted: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="feature names"):
        fitted[kind].save(tmp_path / "m", feature_names=NAMES[:5], feature_version="v")
    with pytest.raises(ValueError, match="scheme"):
        fitted[kind].save(tmp_path / "m", feature_names=NAMES, feature_version="v",
                          scheme="sinolc1")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic(kind: str, data: tuple) -> None:
    X, y, X_test, _ = data
    a = get_classifier(kind, random_state=7).fit(X, y).predict_proba(X_test)
    b = get_classifier(kind, random_state=7).fit(X, y).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)


def test_mlp_seed_leaves_global_rng_alone(data: tuple) -> None:
    X, y, _, _ = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TorchMaskClassifier(epochs=3).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_mlp_early_stopping(data: tuple) -> None:
    X, y, _, _ = data
    assert TorchMaskClassifier(epochs=500, patience=5).fit(X, y).n_epochs_ < 500
    assert TorchMaskClassifier(epochs=30, early_stopping=False).fit(X, y).n_epochs_ == 30
    # too few samples for a validation set: every epoch runs
    assert TorchMaskClassifier(epochs=15, patience=1).fit(X[:40], y[:40]).n_epochs_ == 15


@pytest.mark.parametrize("kind", KINDS)
def test_dataframe_nan_weights_and_single_class(kind: str) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(80, 4)), columns=list("abcd"))
    frame.iloc[3, 1] = np.nan
    frame.iloc[5, 2] = np.inf
    y = np.where(frame["a"] > 0, 2, 7)
    model = clone(get_classifier(kind, epochs=50) if kind == "mlp" else get_classifier(kind))
    assert model.fit(frame, y, sample_weight=rng.random(80)) is model
    assert list(model.feature_names_in_) == list("abcd") and model.n_features_in_ == 4
    assert np.isfinite(model.predict_proba(frame)).all()
    assert (model.predict(frame) == y).mean() > 0.9
    with pytest.raises(ValueError, match="columns"):
        model.predict(frame[list("bacd")])
    with pytest.raises(ValueError, match="features"):
        model.predict(frame.to_numpy()[:, :3])
    single = clone(model).fit(frame, np.full(80, 4))
    assert (single.predict(frame) == 4).all()
    with pytest.raises(ValueError, match="MCAE ids"):
        clone(model).fit(frame, np.zeros(80, int))
