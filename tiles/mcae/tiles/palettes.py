"""Colour tables and legends of the class schemes (MCAE, SinoLC-1, agreement, custom legends).

The one registry is ``mcae.inference.classes.SCHEMES``: legends, palettes and the named
colormaps all read it at use, so a scheme added there (e.g. ``agreement``) appears
everywhere without touching the tile server.
"""

from __future__ import annotations

from typing import Any

from mcae.inference.classes import SCHEMES
from mcae.tiles.catalog import Layer

RGBA = tuple[int, int, int, int]
TITLES = {"mcae": "MCAE land cover", "sinolc1": "SinoLC-1", "agreement": "MCAE / SinoLC-1 agreement"}


def scheme_palette(name: str) -> dict[int, RGBA]:
    """id -> RGBA of a named scheme (0 transparent)."""
    scheme = SCHEMES[name]
    return {c.id: (*c.rgb, 255) for c in scheme}


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def palette_for(layer: Layer) -> dict[int, RGBA]:
    """The palette a categorical layer renders with: its legend, else its scheme's."""
    if layer.legend:
        return {int(entry["id"]): (*_rgb(entry["color"]), 255) for entry in layer.legend}
    if layer.scheme and layer.scheme in SCHEMES:
        return scheme_palette(layer.scheme)
    raise KeyError(f"layer {layer.id!r} has no palette (scheme {layer.scheme!r})")


def _entry(class_id: int, name: str, rgb: tuple[int, int, int]) -> dict[str, Any]:
    return {"id": class_id, "name": name, "color": "#{:02X}{:02X}{:02X}".format(*rgb), "rgb": list(rgb)}


def scheme_names() -> list[str]:
    return list(SCHEMES)


def scheme_legend(name: str) -> dict[str, Any]:
    """A named scheme's legend: id, name, description, nodata value and classes."""
    scheme = SCHEMES[name]
    return {"id": scheme.name, "name": TITLES.get(scheme.name, scheme.name),
            "description": scheme.description, "nodata": 0,
            "classes": [_entry(c.id, c.name, c.rgb) for c in scheme]}


def layer_legend(layer: Layer) -> dict[str, Any]:
    """The legend a categorical layer renders with (its own legend, else its scheme's)."""
    if layer.legend:
        return {"id": layer.scheme or f"{layer.id}-legend", "name": layer.title, "description": "",
                "nodata": 0, "classes": [_entry(int(e["id"]), str(e.get("name", e["id"])), _rgb(e["color"]))
                                         for e in layer.legend]}
    if layer.scheme and layer.scheme in SCHEMES:
        return scheme_legend(layer.scheme)
    raise KeyError(f"layer {layer.id!r} has no legend (scheme {layer.scheme!r})")


def class_of(layer: Layer, value: int) -> tuple[str, str] | None:
    """(class name, #RRGGBB) of ``value`` in a categorical layer's legend, None if unknown."""
    for entry in layer_legend(layer)["classes"]:
        if entry["id"] == value:
            return entry["name"], entry["color"]
    return None


def named_colormaps() -> dict[str, dict[int, RGBA]]:
    """Every scheme as a rio-tiler colormap (0 transparent), named by the scheme id."""
    return {name: {0: (0, 0, 0, 0), **scheme_palette(name)} for name in SCHEMES}
