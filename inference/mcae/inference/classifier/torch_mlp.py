"""A small torch MLP over standardised mask features, trained deterministically on the CPU.

Saved as one ``torch.save`` file of plain tensors, lists, dicts, strings and numbers, so
``torch.load(..., weights_only=True)`` reads it without running any pickled code.
"""

from __future__ import annotations

import copy
import math
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from mcae.inference.classes import N_CLASSES
from mcae.inference.classifier.contract import (
    CLASS_IDS,
    as_features,
    as_labels,
    atomic_write,
    balanced_weights,
    build_metadata,
    check_metadata,
    check_temperature,
    restore_features,
)

_MIN_VALIDATION = 20  # fewer validation samples than this: no early stopping
_CHUNK = 16_384  # rows standardised at a time
_PAYLOAD_KEYS = {"metadata", "params", "architecture", "state_dict", "scaler_mean",
                 "scaler_scale"}


def build_mlp(n_features: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear -> LayerNorm -> GELU -> Dropout blocks, then a linear layer to 9 logits."""
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.LayerNorm(size), nn.GELU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


def validation_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split taking ``floor(fraction * count)`` of every class for validation."""
    rng = np.random.default_rng(seed)
    val = [rng.permutation(np.flatnonzero(labels == c))[: int(fraction * np.sum(labels == c))]
           for c in np.unique(labels)]
    val_idx = np.sort(np.concatenate(val))
    if len(val_idx) < _MIN_VALIDATION:
        return np.arange(len(labels)), val_idx[:0]
    return np.setdiff1d(np.arange(len(labels)), val_idx), val_idx


def _weighted_ce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    loss = nn.functional.cross_entropy(logits, target, reduction="none")
    return (loss * weight).sum() / weight.sum().clamp_min(1e-12)


class TorchMaskClassifier(BaseEstimator, ClassifierMixin):
    """MLP mask classifier with class-balanced loss, AdamW and early stopping.

    Standardised inputs are clipped to +-``clip_z`` (None: not clipped). Early stopping
    (on the weighted validation loss, best weights kept) runs when
    ``validation_fraction`` of the data holds at least 20 samples. Learned: ``model_``,
    ``scaler_mean_``, ``scaler_scale_``, ``classes_`` (always 1..9), ``n_epochs_``,
    ``n_features_in_``, ``feature_names_in_`` (when fit on a DataFrame) and
    ``temperature_`` (1.0 after ``fit``; ``set_temperature`` applies one learned on
    held-out masks by :class:`~mcae.inference.classifier.calibration.TemperatureScaler`).
    """

    kind = "mlp"

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (128, 128),
        dropout: float = 0.1,
        epochs: int = 200,
        batch_size: int = 1024,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.15,
        patience: int = 20,
        random_state: int | None = 0,
        clip_z: float | None = 5.0,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.clip_z = clip_z

    def fit(self, X: Any, y: Any, sample_weight: Any = None,
            progress: Callable[[int, int], None] | None = None) -> TorchMaskClassifier:
        """Fit on masks ``X`` labelled with MCAE ids ``y`` (absent classes are allowed).

        ``progress(epoch, epochs)`` after each epoch (early stopping may end before ``epochs``)."""
        data = as_features(self, X, reset=True)
        labels = as_labels(y, len(data))
        weights = balanced_weights(labels, sample_weight)
        self._fit_scaler(data)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        fraction = self.validation_fraction if self.early_stopping else 0.0
        train_idx, val_idx = validation_split(labels, fraction, seed)
        n_features = data.shape[1]
        inputs = self._standardise(data)
        del data  # the float32 inputs are all the epochs read
        target = torch.as_tensor(labels - 1)
        weight = torch.as_tensor(weights, dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model_ = build_mlp(n_features, self.hidden_sizes, self.dropout)
            self.n_epochs_ = self._train(inputs, target, weight, train_idx, val_idx, seed, progress)
        self.model_.eval()
        self.classes_ = CLASS_IDS.copy()
        self.temperature_ = 1.0
        return self

    def set_temperature(self, temperature: float) -> TorchMaskClassifier:
        """Divide the logits by ``temperature`` from now on (calibration); returns self."""
        self.temperature_ = check_temperature(temperature)
        return self

    def _train(
        self, inputs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
        train_idx: np.ndarray, val_idx: np.ndarray, seed: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Run the epochs; returns how many ran. Keeps the best validation weights."""
        model = self.model_
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        train = torch.as_tensor(train_idx)
        val = torch.as_tensor(val_idx)
        best_loss, best_state, waited, ran = math.inf, None, 0, 0
        while ran < self.epochs:
            ran += 1
            model.train()
            for batch in train[torch.randperm(len(train), generator=gen)].split(self.batch_size):
                loss = _weighted_ce(model(inputs[batch]), target[batch], weight[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if progress is not None:
                progress(ran, self.epochs)
            if len(val) == 0:
                continue
            model.eval()
            with torch.no_grad():
                val_loss = float(_weighted_ce(model(inputs[val]), target[val], weight[val]))
            if val_loss < best_loss - 1e-4:
                best_loss, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        return ran

    def _fit_scaler(self, data: np.ndarray) -> None:
        """Mean and spread of each feature over its finite values. Works in ``data``'s place (given
        back as it came) and one array beside it: the same numbers, in the same order, as
        ``np.where(finite, data, 0.0).sum(axis=0)`` and its like, without their copies."""
        missing = np.isnan(data)
        counts = np.maximum(len(data) - missing.sum(axis=0), 1)
        np.copyto(data, 0.0, where=missing)
        self.scaler_mean_ = data.sum(axis=0) / counts
        spread = data - self.scaler_mean_
        np.copyto(spread, 0.0, where=missing)
        np.square(spread, out=spread)
        scale = np.sqrt(spread.sum(axis=0) / counts)
        del spread
        np.copyto(data, np.nan, where=missing)
        self.scaler_scale_ = np.where(scale > 1e-12, scale, 1.0)

    def _standardise(self, data: np.ndarray) -> torch.Tensor:
        """Standardised, clipped float32 inputs, made ``_CHUNK`` rows at a time (the float64
        intermediates of a whole training sample would take several times its size)."""
        out = np.empty(data.shape, np.float32)
        for start in range(0, len(data), _CHUNK):
            z = (data[start:start + _CHUNK] - self.scaler_mean_) / self.scaler_scale_
            if self.clip_z is not None:  # a mask far outside the training range (a 6 ha field
                # among roofs) must not get extreme logits, hence a confident guess, from its size
                z = np.clip(z, -self.clip_z, self.clip_z)
            out[start:start + _CHUNK] = np.nan_to_num(z, nan=0.0)
        return torch.from_numpy(out)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of shape (n, 9); column j is MCAE id j + 1."""
        check_is_fitted(self, "model_")
        inputs = self._standardise(as_features(self, X, reset=False))
        self.model_.eval()
        with torch.inference_mode():
            t = float(getattr(self, "temperature_", 1.0))
            parts = [torch.softmax(self.model_(chunk).double() / t, dim=1)
                     for chunk in inputs.split(65536)]
        return torch.cat(parts).numpy() if parts else np.zeros((0, N_CLASSES))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable MCAE id (1..9) per mask."""
        return CLASS_IDS[np.argmax(self.predict_proba(X), axis=1)]

    def _plain_params(self) -> dict[str, Any]:
        """``get_params`` as plain numbers and lists, loadable with ``weights_only``."""
        params = self.get_params()
        params["hidden_sizes"] = [int(h) for h in self.hidden_sizes]
        rs = self.random_state
        params["random_state"] = int(rs) if isinstance(rs, int | np.integer) else None
        params["clip_z"] = None if self.clip_z is None else float(self.clip_z)
        return params

    def save(
        self, path: str | os.PathLike[str], *, feature_names: Sequence[str],
        feature_version: str, scheme: str = "mcae",
    ) -> Path:
        """Write weights, scaler, architecture and metadata to one file, atomically."""
        check_is_fitted(self, "model_")
        meta = build_metadata(self, self.kind, feature_names, feature_version, scheme,
                              torch=torch.__version__)
        payload = {
            "metadata": meta,
            "params": self._plain_params(),
            "architecture": {"n_features": int(self.n_features_in_),
                             "hidden_sizes": [int(h) for h in self.hidden_sizes],
                             "dropout": float(self.dropout), "n_outputs": N_CLASSES},
            "state_dict": {k: v.detach().clone() for k, v in self.model_.state_dict().items()},
            "scaler_mean": torch.as_tensor(self.scaler_mean_, dtype=torch.float64),
            "scaler_scale": torch.as_tensor(self.scaler_scale_, dtype=torch.float64),
            "n_epochs": int(getattr(self, "n_epochs_", 0)),
            "temperature": float(getattr(self, "temperature_", 1.0)),
        }
        return atomic_write(path, lambda tmp: torch.save(payload, tmp))

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *,
        expected_feature_names: Sequence[str] | None = None, expected_scheme: str = "mcae",
    ) -> TorchMaskClassifier:
        """Read a file written by ``save``; ValueError if it is not a matching classifier."""
        path = Path(path)
        if path.is_file() and not zipfile.is_zipfile(path):  # torch.save writes zip archives
            raise ValueError(f"{path} is not an MCAE mask classifier")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except OSError:
            raise
        except Exception as exc:
            raise ValueError(f"{path} is not an MCAE mask classifier") from exc
        if not isinstance(payload, dict) or not set(payload) >= _PAYLOAD_KEYS:
            raise ValueError(f"{path} is not an MCAE mask classifier")
        meta = check_metadata(payload["metadata"], path, cls.kind, expected_feature_names,
                              expected_scheme)
        arch = payload["architecture"]
        n_features = len(meta["feature_names"])
        try:
            est = cls(**{**payload["params"], "hidden_sizes": tuple(arch["hidden_sizes"])})
            if arch["n_features"] != n_features or arch["n_outputs"] != N_CLASSES:
                raise ValueError("architecture does not match the feature names or classes")
            est.model_ = build_mlp(n_features, est.hidden_sizes, arch["dropout"])
            est.model_.load_state_dict(payload["state_dict"])
            est.scaler_mean_ = payload["scaler_mean"].numpy()
            est.scaler_scale_ = payload["scaler_scale"].numpy()
            if est.scaler_mean_.shape != (n_features,) or est.scaler_scale_.shape != (n_features,):
                raise ValueError("scaler size does not match the feature names")
        except (KeyError, TypeError, RuntimeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path} is a corrupt MCAE mask classifier: {exc}") from exc
        est.model_.eval()
        est.n_epochs_ = int(payload.get("n_epochs", 0))
        try:
            est.temperature_ = check_temperature(payload.get("temperature", 1.0))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path} is a corrupt MCAE mask classifier: {exc}") from exc
        est.classes_ = CLASS_IDS.copy()
        restore_features(est, meta)
        return est
