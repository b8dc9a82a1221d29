"""Published accuracy figures of the catalog's layers, beside the catalog (``assessments.json``).

The platform's assessment (``mcae assess report``, the demo) records the figures of a layer
version here; the STAC item of that layer carries them while the version is the one
published (``mcae:assessment``). Keyed ``{city: {layer: {version: figures}}}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FILE = "assessments.json"


def _path(catalog_root: Path) -> Path:
    return Path(catalog_root) / FILE


def read_figures(catalog_root: Path, city: str, layer: str, version: str) -> dict[str, Any] | None:
    """The figures recorded for this layer version, or None."""
    try:
        data = json.loads(_path(catalog_root).read_text())
    except (OSError, ValueError):
        return None
    found = data.get(city, {}).get(layer, {}).get(version) if isinstance(data, dict) else None
    return found if isinstance(found, dict) else None


def record_figures(catalog_root: Path, city: str, layer: str, version: str, figures: dict[str, Any]) -> Path:
    """Record (atomically) the figures of a layer version; earlier versions' figures stay."""
    from mcae.inference.atomic import write_json

    path = _path(catalog_root)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault(city, {}).setdefault(layer, {})[version] = figures
    write_json(path, data)
    return path
