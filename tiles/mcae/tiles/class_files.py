"""Class names beside published maps and inside downloads, where GDAL and QGIS read them.

A published categorical layer gets ``<map>.tif.aux.xml`` and ``<map>.qml`` beside its
file when it has none (``name_published_classes``; an existing ``.aux.xml`` is left alone).
``package=zip`` downloads hold ``<name>.tif``, and for a categorical layer its
``<name>.tif.aux.xml`` (category names and a raster attribute table, read by GDAL and
so by QGIS, ArcGIS and rasterio-based tools) and ``<name>.qml`` (the QGIS style QGIS
loads with the file), so the legend reads "Tree", "Water"... instead of 1..9.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from mcae.inference.class_styles import StyledClass, aux_path, pam_xml, qgis_qml, write_class_sidecars
from mcae.tiles.catalog import Layer
from mcae.tiles.palettes import layer_legend


def layer_classes(layer: Layer) -> list[StyledClass]:
    """A categorical layer's classes as its legend names and colours them."""
    return [StyledClass(int(c["id"]), str(c["name"]), (*(int(v) for v in c["rgb"]), 255))  # type: ignore[arg-type]
            for c in layer_legend(layer)["classes"]]


def package_clip(tif: Path, layer: Layer, name: str) -> Path:
    """Zip ``tif`` (renamed ``name``.tif inside) with its class sidecars; the zip lies beside ``tif``."""
    out = tif.with_suffix(".zip")
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(tif, f"{name}.tif")
            if layer.categorical:
                classes = layer_classes(layer)
                bundle.writestr(f"{name}.tif.aux.xml", pam_xml(classes))
                bundle.writestr(f"{name}.qml", qgis_qml(classes))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def name_published_classes(raster: Path, layer: Layer) -> bool:
    """Write the class sidecars beside a published categorical layer that has none; True if written."""
    if not layer.categorical or aux_path(raster).exists():
        return False
    try:
        write_class_sidecars(raster, layer_classes(layer))
    except OSError:  # a read-only folder: the map still serves, without names for desktop GIS
        return False
    return True
