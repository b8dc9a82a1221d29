"""Registry of mask generators: ``get_generator("sam", checkpoint=...)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mcae.inference.masks.base import (
    ArrayScene,
    MaskGenerator,
    MaskResult,
    PixelWindow,
    SceneReader,
    records_from_labels,
)

_REGISTRY: dict[str, Callable[..., MaskGenerator]] = {}


def register_generator(name: str) -> Callable[[Callable[..., MaskGenerator]], Callable[..., MaskGenerator]]:
    """Decorator adding a generator builder to the registry under ``name``."""

    def wrap(builder: Callable[..., MaskGenerator]) -> Callable[..., MaskGenerator]:
        _REGISTRY[name] = builder
        return builder

    return wrap


# Built-in generators, imported only when asked for (the SAM module pulls in torch).
_BUILTIN = {"sam": "mcae.inference.masks.sam", "superpixel": "mcae.inference.masks.superpixel"}


def available_generators() -> list[str]:
    return sorted({*_REGISTRY, *_BUILTIN})


def get_generator(name: str, **options: Any) -> MaskGenerator:
    """Build the generator registered as ``name`` with its options."""
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown mask generator {name!r}; known: {available_generators()}") from None
    return builder(**options)


__all__ = [
    "ArrayScene",
    "MaskGenerator",
    "MaskResult",
    "PixelWindow",
    "SceneReader",
    "available_generators",
    "get_generator",
    "records_from_labels",
]
