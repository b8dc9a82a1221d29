"""What every mask classifier shares: input checks, class columns, metadata and saving.

Every mask classifier predicts MCAE ids 1..9: ``predict_proba`` always has 9 columns, even
for classes absent from the training labels. A saved classifier is one file holding the
model, the class scheme, the feature names and the feature version, written atomically.
"""

from __future__ import annotations

import math
import os
import platform
import secrets
from collections.abc import Callable, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.utils.validation import check_is_fitted

from mcae.inference.classes import N_CLASSES, get_scheme

FORMAT = "mcae-mask-classifier"
FORMAT_VERSION = 1
CLASS_IDS = np.arange(1, N_CLASSES + 1)


def as_features(est: Any, X: Any, *, reset: bool) -> np.ndarray:
    """``X`` as a float64 matrix with NaN for non-finite values.

    ``reset`` records ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame);
    otherwise the width, and the column names when both sides have them, must match.
    """
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    data = np.array(X, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"X must be 2-D (masks x features), got shape {data.shape}")
    if reset:
        est.n_features_in_ = data.shape[1]
        if names is not None:
            est.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    else:
        check_is_fitted(est, "n_features_in_")
        if data.shape[1] != est.n_features_in_:
            raise ValueError(f"X has {data.shape[1]} features, expected {est.n_features_in_}")
        fitted = getattr(est, "feature_names_in_", None)
        if names is not None and fitted is not None and names != list(fitted):
            raise ValueError("X's columns differ from the feature names the model was fit with")
    data[~np.isfinite(data)] = np.nan
    return data


def as_labels(y: Any, n: int) -> np.ndarray:
    """Labels as int64 MCAE ids, checked to lie in 1..9."""
    labels = np.asarray(y).ravel()
    if len(labels) != n:
        raise ValueError(f"y has {len(labels)} labels for {n} rows of X")
    if n == 0:
        raise ValueError("cannot fit a classifier on 0 samples")
    if not np.isin(labels, CLASS_IDS).all():
        raise ValueError(f"labels must be MCAE ids 1..{N_CLASSES} (0 is unlabelled)")
    return labels.astype(np.int64)


def balanced_weights(labels: np.ndarray, sample_weight: Any = None) -> np.ndarray:
    """Per-sample weights giving every present class the same total weight, mean 1."""
    w = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, float)
    if w.shape != labels.shape or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("sample_weight must be finite, >= 0, not all 0, one per sample")
    totals = np.bincount(labels, weights=w, minlength=N_CLASSES + 1)
    present = totals > 0
    per_class = np.zeros_like(totals)
    per_class[present] = 1.0 / totals[present]
    out = w * per_class[labels]
    return out * (len(out) / out.sum())


def library_versions(**extra: str) -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    try:
        mcae = importlib_metadata.version("mcae")
    except importlib_metadata.PackageNotFoundError:
        mcae = "unknown"
    versions = {"mcae": mcae, "python": platform.python_version(),
                "numpy": np.__version__, "scikit-learn": sklearn.__version__}
    return {**versions, **{k: str(v) for k, v in extra.items()}}


def build_metadata(
    est: Any, kind: str, feature_names: Sequence[str], feature_version: str, scheme: str,
    **versions: str,
) -> dict[str, Any]:
    """The self-description stored next to a model (plain lists, strings and numbers)."""
    check_is_fitted(est, "n_features_in_")
    names = [str(f) for f in feature_names]
    if len(names) != est.n_features_in_:
        raise ValueError(f"{len(names)} feature names for {est.n_features_in_} features")
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is not None and names != list(fitted):
        raise ValueError("feature_names differ from the columns the model was fit with")
    classes = get_scheme(scheme)
    if classes.ids != CLASS_IDS.tolist():
        raise ValueError(f"scheme {scheme!r} does not have the classifier's ids 1..{N_CLASSES}")
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
        "scheme": classes.name, "class_ids": classes.ids, "class_names": classes.names,
        "class_colours": [list(c.rgb) for c in classes], "feature_names": names,
        "feature_version": str(feature_version), "versions": library_versions(**versions),
    }


def check_metadata(
    meta: Any, path: Path, kind: str, expected_feature_names: Sequence[str] | None,
    expected_scheme: str,
) -> dict[str, Any]:
    """Raise ValueError unless ``meta`` describes a ``kind`` classifier as expected."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an MCAE mask classifier")
    if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != kind:
        raise ValueError(f"{path} holds a {meta.get('kind')!r} classifier of format version "
                         f"{meta.get('format_version')}, expected {kind!r} v{FORMAT_VERSION}")
    if meta.get("scheme") != expected_scheme or meta.get("class_ids") != CLASS_IDS.tolist():
        raise ValueError(f"{path} uses class scheme {meta.get('scheme')!r}, "
                         f"expected {expected_scheme!r}")
    names = meta.get("feature_names")
    if not isinstance(names, list) or not isinstance(meta.get("feature_version"), str):
        raise ValueError(f"{path} lacks feature names or feature version")
    if expected_feature_names is not None and names != [str(f) for f in expected_feature_names]:
        raise ValueError(f"{path} was trained on other features than expected "
                         f"(feature version {meta['feature_version']!r})")
    return meta


def restore_features(est: Any, meta: dict[str, Any]) -> None:
    """Give a loaded classifier its metadata and the feature names it was saved with."""
    est.metadata_ = meta
    est.n_features_in_ = len(meta["feature_names"])
    est.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than mkstemp, so the file gets the usual (umask) permissions.
    tmp = str(target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"))
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def check_temperature(value: Any) -> float:
    """A calibration temperature as a positive, finite float."""
    t = float(value)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a positive number, got {value!r}")
    return t


def full_proba(proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Spread probabilities over ``classes`` into the 9 MCAE columns; rows sum to 1."""
    out = np.zeros((len(proba), N_CLASSES))
    out[:, np.asarray(classes, dtype=np.int64) - 1] = proba
    return out / out.sum(axis=1, keepdims=True)
