"""Registry of mask generators: ``get_generator("sam", checkpoint=...)``."""

from __future__ import annotations

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


def available_generators() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_generator(name: str, **options: Any) -> MaskGenerator:
    """Build the generator registered as ``name`` with its options."""
    _load_builtin()
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown mask generator {name!r}; known: {sorted(_REGISTRY)}") from None
    return builder(**options)


def _load_builtin() -> None:
    # Imported lazily: the SAM module pulls in torch.
    from mcae.inference.masks import sam, superpixel  # noqa: F401


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
