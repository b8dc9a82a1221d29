"""Class legends of ingested maps: legend files, colour tables and raster attribute tables.

A legend is a list of ``{"id", "name", "color": "#RRGGBB"}``. Sources, weakest first:
the scheme's defaults, the file's colour table (colours of the ids it already names),
its class names (a GDAL raster attribute table or category names in the ``FILE.aux.xml``
sidecar, where GDAL keeps them for GeoTIFFs; ``CLASS_<id>`` metadata tags as MCAE writes
them), and last a legend file, which replaces the whole list. RATs embedded by other
drivers are not read: rasterio does not expose them and the GDAL Python bindings are not
a dependency.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from mcae.inference.classes import ClassScheme, LandCoverClass
from mcae.inference.errors import InputError

Legend = list[dict[str, Any]]
RGBA = tuple[int, int, int, int]
_HEX = re.compile(r"^#?([0-9A-Fa-f]{6})$")
# GDAL raster attribute table field usages (GDALRATFieldUsage).
_NAME, _MINMAX, _RED, _GREEN, _BLUE = 2, 5, 6, 7, 8


def hex_colour(value: Any) -> str:
    """'#RRGGBB' from '#rrggbb', 'RRGGBB' or [r, g, b]; ValueError otherwise."""
    if isinstance(value, str) and (match := _HEX.match(value.strip())):
        return "#" + match.group(1).upper()
    if isinstance(value, list | tuple) and len(value) in (3, 4) and all(
            isinstance(v, int) and 0 <= v <= 255 for v in value):
        return "#{:02X}{:02X}{:02X}".format(*value[:3])
    raise ValueError(f"colour {value!r} is not '#RRGGBB' or [r, g, b]")


def read_legend_file(path: str | Path) -> Legend:
    """A legend file: a JSON list of {id (1-255), name, color}; InputError when malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the legend file ({exc})") from None
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: a legend file is a JSON list of {{id, name, color}}")
    legend: Legend = []
    for i, entry in enumerate(data):
        try:
            cid, name = entry["id"], entry["name"]
            if not isinstance(cid, int) or isinstance(cid, bool) or not 1 <= cid <= 255:
                raise ValueError(f"id {cid!r} is not an integer 1-255")
            if not isinstance(name, str) or not name.strip():
                raise ValueError("name must be a non-empty string")
            legend.append({"id": cid, "name": name.strip(), "color": hex_colour(entry["color"])})
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: legend entry {i + 1}: {exc}") from None
    if len({e["id"] for e in legend}) != len(legend):
        raise InputError(f"{path}: legend ids repeat")
    return sorted(legend, key=lambda e: e["id"])


def aux_classes(raster: str | Path) -> dict[int, dict[str, Any]]:
    """id -> {name, color?} from the raster's ``.aux.xml`` RAT or category names (band 1)."""
    aux = Path(f"{raster}.aux.xml")
    if not aux.is_file():
        return {}
    try:
        band = ET.parse(aux).getroot().find("PAMRasterBand")
    except ET.ParseError as exc:
        raise InputError(f"{aux}: not a readable GDAL .aux.xml ({exc})") from None
    if band is None:
        return {}
    table = band.find("GDALRasterAttributeTable")
    if table is not None:
        return _rat_classes(table)
    names = band.find("CategoryNames")
    if names is None:
        return {}
    return {i: {"name": c.text.strip()} for i, c in enumerate(names.findall("Category"))
            if i > 0 and c.text and c.text.strip()}


def _rat_classes(table: ET.Element) -> dict[int, dict[str, Any]]:
    fields = table.findall("FieldDefn")
    usage = {int(f.findtext("Usage", "0")): int(f.get("index", i)) for i, f in enumerate(fields)}
    names = [(f.findtext("Name") or "").lower() for f in fields]
    value_col = usage.get(_MINMAX, names.index("value") if "value" in names else None)
    name_col = usage.get(_NAME)
    if name_col is None:
        name_col = next((i for i, n in enumerate(names) if n in ("class", "name", "label", "class_name")), None)
    rgb_cols = [usage.get(u) for u in (_RED, _GREEN, _BLUE)]
    out: dict[int, dict[str, Any]] = {}
    for row_index, row in enumerate(table.findall("Row")):
        cells = [c.text or "" for c in row.findall("F")]
        try:
            value = int(float(cells[value_col])) if value_col is not None else int(row.get("index", row_index))
        except (ValueError, IndexError):
            continue
        entry: dict[str, Any] = {}
        if name_col is not None and name_col < len(cells) and cells[name_col].strip():
            entry["name"] = cells[name_col].strip()
        if all(c is not None and c < len(cells) for c in rgb_cols):
            rgb = [float(cells[c]) for c in rgb_cols]  # type: ignore[index]
            scale = 255.0 if max(rgb) <= 1.0 and any("." in cells[c] for c in rgb_cols) else 1.0  # type: ignore[index]
            entry["color"] = hex_colour([round(v * scale) for v in rgb])
        if 0 < value < 256 and entry:
            out[value] = entry
    return out


def tag_classes(tags: dict[str, str]) -> dict[int, dict[str, Any]]:
    """id -> {name} from ``CLASS_<id>`` metadata tags (MCAE's own COGs)."""
    out: dict[int, dict[str, Any]] = {}
    for key, value in tags.items():
        match = re.fullmatch(r"CLASS_(\d+)", key)
        if match and 0 < int(match.group(1)) < 256 and value.strip():
            out[int(match.group(1))] = {"name": value.strip()}
    return out


def merge_legend(defaults: ClassScheme | None, colormap: dict[int, RGBA] | None,
                 names: list[tuple[str, dict[int, dict[str, Any]]]],
                 legend_file: Legend | None) -> tuple[Legend, list[str]]:
    """The effective legend and the sources that made it (weakest first).

    ``names``: (source, id -> {name, color?}) pairs, weakest first.
    """
    if legend_file is not None:
        return legend_file, ["legend file"]
    entries: dict[int, dict[str, Any]] = {}
    sources = []
    if defaults is not None:
        entries = {c.id: {"id": c.id, "name": c.name, "color": c.hex} for c in defaults}
        sources.append(f"{defaults.name} defaults")
    named: dict[int, dict[str, Any]] = {}
    for source, found in names:
        for cid, extra in found.items():
            named[cid] = {**named.get(cid, {}), **extra}
        if found:
            sources.append(source)
    for cid, extra in named.items():
        entries[cid] = {"id": cid, "name": f"class {cid}", "color": "#808080",
                        **entries.get(cid, {}), **extra}
    if colormap:
        for cid, entry in entries.items():
            if cid in colormap and colormap[cid][3] > 0 and "color" not in named.get(cid, {}):
                entry["color"] = hex_colour(list(colormap[cid][:3]))
        sources.append("colour table")
    if not entries:
        raise InputError("the file names no classes (no attribute table or class names): give a legend file")
    return [entries[cid] for cid in sorted(entries)], sources


def legend_scheme(name: str, legend: Legend, description: str = "") -> ClassScheme:
    """A ClassScheme of a legend (for a COG's colour table and class-name tags)."""
    classes = tuple(LandCoverClass(int(e["id"]), str(e["name"]),
                                   tuple(int(e["color"][i:i + 2], 16) for i in (1, 3, 5)))  # type: ignore[arg-type]
                    for e in legend)
    return ClassScheme(name, classes, description)
