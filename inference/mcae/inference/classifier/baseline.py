"""The scikit-learn baseline mask classifier: histogram gradient boosting over mask features."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import check_is_fitted

from mcae.inference.classes import N_CLASSES
from mcae.inference.classifier.calibration import scale_proba
from mcae.inference.classifier.contract import (
    CLASS_IDS,
    as_features,
    as_labels,
    atomic_write,
    balanced_weights,
    build_metadata,
    check_metadata,
    check_temperature,
    full_proba,
    restore_features,
)


class BaselineMaskClassifier(BaseEstimator, ClassifierMixin):
    """Histogram gradient boosting with class-balanced sample weights; NaN is native.

    Learned: ``model_``, ``classes_`` (always 1..9), ``n_features_in_`` and
    ``feature_names_in_`` (when fit on a DataFrame) and ``temperature_`` (1.0 after
    ``fit``; see ``set_temperature``).
    """

    kind = "baseline"

    def __init__(
        self,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        l2_regularization: float = 1e-3,
        random_state: int | None = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None,
            progress: Callable[[int, int], None] | None = None) -> BaselineMaskClassifier:
        """Fit on masks ``X`` labelled with MCAE ids ``y`` (``progress(1, 1)`` once done)."""
        data = as_features(self, X, reset=True)
        labels = as_labels(y, len(data))
        weights = balanced_weights(labels, sample_weight)
        if len(np.unique(labels)) == 1:  # boosting needs two classes
            self.model_: Any = DummyClassifier(strategy="prior")
        else:
            self.model_ = HistGradientBoostingClassifier(
                learning_rate=self.learning_rate, max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes, l2_regularization=self.l2_regularization,
                early_stopping=False, random_state=self.random_state,
            )
        self.model_.fit(data, labels, sample_weight=weights)
        if progress is not None:
            progress(1, 1)
        self.classes_ = CLASS_IDS.copy()
        self.temperature_ = 1.0
        return self

    def set_temperature(self, temperature: float) -> BaselineMaskClassifier:
        """Temper probabilities by ``temperature`` from now on (calibration); returns self."""
        self.temperature_ = check_temperature(temperature)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of shape (n, 9); column j is MCAE id j + 1."""
        data = as_features(self, X, reset=False)
        if len(data) == 0:
            return np.zeros((0, N_CLASSES))
        proba = full_proba(self.model_.predict_proba(data), self.model_.classes_)
        return scale_proba(proba, float(getattr(self, "temperature_", 1.0)))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable MCAE id (1..9) per mask."""
        return CLASS_IDS[np.argmax(self.predict_proba(X), axis=1)]

    def save(
        self, path: str | os.PathLike[str], *, feature_names: Sequence[str],
        feature_version: str, scheme: str = "mcae",
    ) -> Path:
        """Write the model and its metadata to one compressed joblib file, atomically."""
        check_is_fitted(self, "model_")
        meta = build_metadata(self, self.kind, feature_names, feature_version, scheme,
                              joblib=joblib.__version__)
        payload = {"metadata": meta, "params": self.get_params(), "model": self.model_,
                   "temperature": float(getattr(self, "temperature_", 1.0))}
        return atomic_write(path, lambda tmp: joblib.dump(payload, tmp, compress=3))

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *,
        expected_feature_names: Sequence[str] | None = None, expected_scheme: str = "mcae",
    ) -> BaselineMaskClassifier:
        """Read a file written by ``save``. It is a pickle: load only files you trust."""
        path = Path(path)
        try:
            payload = joblib.load(path)
        except OSError:
            raise
        except Exception as exc:
            raise ValueError(f"{path} is not an MCAE mask classifier") from exc
        if not isinstance(payload, dict) or not {"metadata", "params", "model"} <= set(payload):
            raise ValueError(f"{path} is not an MCAE mask classifier")
        meta = check_metadata(payload["metadata"], path, cls.kind, expected_feature_names,
                              expected_scheme)
        est = cls(**payload["params"])
        est.model_ = payload["model"]
        est.classes_ = CLASS_IDS.copy()
        try:
            est.temperature_ = check_temperature(payload.get("temperature", 1.0))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path} is a corrupt MCAE mask classifier: {exc}") from exc
        restore_features(est, meta)
        return est
