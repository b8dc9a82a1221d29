"""Class names where GIS software reads them: a GDAL ``.aux.xml`` and a QGIS ``.qml`` style.

A GeoTIFF can carry a colour table but not class names. GDAL keeps category names and
raster attribute tables in a PAM sidecar (``map.tif.aux.xml``) that it reads with the
file; QGIS reads those and also loads ``map.qml`` beside a raster as its default style.
Both are written next to every categorical map and packed into downloads, so a map
opened in QGIS shows "Tree", "Water"... in its legend instead of 1..9.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from mcae.inference.atomic import atomic_path
from mcae.inference.classes import ClassScheme

# GDALRATFieldType and GDALRATFieldUsage (gdal.h)
_INTEGER, _STRING = 0, 2
_GENERIC, _NAME, _MINMAX, _RED, _GREEN, _BLUE, _ALPHA = 0, 2, 5, 6, 7, 8, 9
_COLUMNS = (("Value", _INTEGER, _MINMAX), ("Class", _STRING, _NAME), ("Red", _INTEGER, _RED),
            ("Green", _INTEGER, _GREEN), ("Blue", _INTEGER, _BLUE), ("Alpha", _INTEGER, _ALPHA))


@dataclass(frozen=True)
class StyledClass:
    """One class as a sidecar names it: raster value, name and RGBA colour."""

    id: int
    name: str
    rgba: tuple[int, int, int, int]


def styled_classes(scheme: ClassScheme) -> list[StyledClass]:
    """The classes of a scheme, in id order."""
    return sorted((StyledClass(c.id, c.name, (*c.rgb, 255)) for c in scheme), key=lambda c: c.id)


def aux_path(tif: str | Path) -> Path:
    return Path(f"{tif}.aux.xml")


def qml_path(tif: str | Path) -> Path:
    return Path(tif).with_suffix(".qml")


def pam_xml(classes: Iterable[StyledClass], no_data: str = "no data") -> str:
    """A GDAL PAM document naming band 1's classes: category names and a thematic RAT."""
    entries = sorted(classes, key=lambda c: c.id)
    root = ET.Element("PAMDataset")
    band = ET.SubElement(root, "PAMRasterBand", band="1")
    names = {c.id: c.name for c in entries}
    categories = ET.SubElement(band, "CategoryNames")
    for value in range(max(names, default=0) + 1):
        ET.SubElement(categories, "Category").text = no_data if value == 0 else names.get(value, "")
    table = ET.SubElement(band, "GDALRasterAttributeTable", tableType="thematic")
    for index, (name, kind, usage) in enumerate(_COLUMNS):
        field = ET.SubElement(table, "FieldDefn", index=str(index))
        ET.SubElement(field, "Name").text = name
        ET.SubElement(field, "Type").text = str(kind)
        ET.SubElement(field, "Usage").text = str(usage)
    for row_index, entry in enumerate(entries):
        row = ET.SubElement(table, "Row", index=str(row_index))
        for cell in (entry.id, entry.name, *entry.rgba):
            ET.SubElement(row, "F").text = str(cell)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def qgis_qml(classes: Iterable[StyledClass]) -> str:
    """A QGIS layer style: a paletted renderer on band 1 with one labelled entry per class."""
    root = ET.Element("qgis", version="3.22.0", styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1",
                             alphaBand="-1", nodataColor="")
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for entry in sorted(classes, key=lambda c: c.id):
        r, g, b, a = entry.rgba
        ET.SubElement(palette, "paletteEntry", value=str(entry.id), color=f"#{r:02x}{g:02x}{b:02x}",
                      alpha=str(a), label=entry.name)
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(pipe, "huesaturation", saturation="0", grayscaleMode="0", colorizeOn="0")
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def write_class_sidecars(tif: str | Path, classes: Iterable[StyledClass]) -> tuple[Path, Path]:
    """Write ``tif``'s ``.aux.xml`` and ``.qml`` (each atomically); returns their paths."""
    entries = list(classes)
    aux, qml = aux_path(tif), qml_path(tif)
    _write_text(aux, pam_xml(entries))
    _write_text(qml, qgis_qml(entries))
    return aux, qml


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
