"""Colour tables of the class schemes (MCAE, SinoLC-1, agreement, custom legends)."""

from __future__ import annotations

from mcae.inference.classes import SCHEMES
from mcae.tiles.catalog import Layer

RGBA = tuple[int, int, int, int]


def scheme_palette(name: str) -> dict[int, RGBA]:
    """id -> RGBA of a named scheme (0 transparent)."""
    scheme = SCHEMES[name]
    return {c.id: (*c.rgb, 255) for c in scheme}


def palette_for(layer: Layer) -> dict[int, RGBA]:
    """The palette a categorical layer renders with: its legend, else its scheme's."""
    if layer.legend:
        out: dict[int, RGBA] = {}
        for entry in layer.legend:
            colour = entry["color"].lstrip("#")
            rgb = tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
            out[int(entry["id"])] = (rgb[0], rgb[1], rgb[2], 255)
        return out
    if layer.scheme and layer.scheme in SCHEMES:
        return scheme_palette(layer.scheme)
    raise KeyError(f"layer {layer.id!r} has no palette (scheme {layer.scheme!r})")
