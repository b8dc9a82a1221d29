"""Mask classifiers (MCAE ids 1..9): ``get_classifier("mlp")`` or ``get_classifier("baseline")``."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from typing import Any

from mcae.inference.classifier.baseline import BaselineMaskClassifier
from mcae.inference.classifier.torch_mlp import TorchMaskClassifier

MaskClassifier = TorchMaskClassifier | BaselineMaskClassifier

_REGISTRY: dict[str, type[TorchMaskClassifier] | type[BaselineMaskClassifier]] = {
    "mlp": TorchMaskClassifier,
    "baseline": BaselineMaskClassifier,
}


def available_classifiers() -> list[str]:
    """Names ``get_classifier`` accepts."""
    return sorted(_REGISTRY)


def get_classifier(name: str, **params: Any) -> MaskClassifier:
    """A new, unfitted classifier of kind ``name`` built with ``params``."""
    try:
        cls = _REGISTRY[name.lower()]
    except KeyError:
        raise KeyError(f"unknown classifier {name!r}; known: {available_classifiers()}") from None
    return cls(**params)


def load_classifier(
    path: str | os.PathLike[str], *, expected_feature_names: Sequence[str] | None = None,
    expected_scheme: str = "mcae",
) -> MaskClassifier:
    """Load a saved classifier of either kind (torch files are zip archives, joblib's not)."""
    cls = TorchMaskClassifier if zipfile.is_zipfile(path) else BaselineMaskClassifier
    return cls.load(path, expected_feature_names=expected_feature_names,
                    expected_scheme=expected_scheme)


__all__ = [
    "BaselineMaskClassifier",
    "MaskClassifier",
    "TorchMaskClassifier",
    "available_classifiers",
    "get_classifier",
    "load_classifier",
]
