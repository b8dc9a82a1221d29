"""Whole files of a published layer: the map, its class sidecars and its district maps.

The clip route is capped (``max_image_pixels``), so a city map or a district map is offered
whole, as files: ``<city>-<layer>.tif`` (the layer's own file, never copied), for a
categorical layer its ``.tif.aux.xml`` (GDAL's class names and attribute table, which GDAL
also fetches beside a ``/vsicurl/`` URL) and ``.qml`` (the QGIS style), and for an MCAE map
one ``<city>-<layer>-<district>.tif`` (with its sidecars) per district of the city, clipped
window by window as ``mcae map --districts`` does.

``record_files`` writes the sidecars and district maps into
``downloads/<city>/<layer>/<key>/`` beside the catalog and computes every file's size and
SHA-256 ONCE, when the layer is published; the result (``LayerFiles``) is stored in the
layer's catalog record and is the fixed registry the file route serves from: a request names
a file of that registry, never a path. It is valid while the layer's file is unchanged
(``LayerFiles.source``); a layer published before this existed has none until it is
published again (or ``mcae catalog files CITY [LAYER]``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import rasterio

from mcae.inference import object_store
from mcae.inference.atomic import atomic_path
from mcae.inference.class_styles import pam_xml, qgis_qml
from mcae.inference.districts import clip_district
from mcae.inference.errors import InputError
from mcae.tiles.catalog import CatalogStore, District, FileRole, Layer, LayerFiles, LayerKind, WholeFile, file_token
from mcae.tiles.class_files import layer_classes
from mcae.tiles.gdal import SourceRefused

FOLDER = "downloads"
CHUNK = 1024 * 1024
MEDIA_TYPES = {".tif": "image/tiff; application=geotiff; profile=cloud-optimized",
               ".xml": "application/xml", ".qml": "text/xml"}


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def media_type(name: str) -> str:
    return MEDIA_TYPES[Path(name).suffix]


def layer_folder(store: CatalogStore, city_id: str, layer_id: str) -> Path:
    return store.root / FOLDER / city_id / layer_id


def _key(layer: Layer, source: str) -> str:
    return hashlib.sha1(f"{layer.path}:{source}".encode()).hexdigest()[:12]


def _entry(store: CatalogStore, path: Path, name: str, role: FileRole, district: str | None) -> WholeFile:
    try:
        stored = os.path.relpath(path.resolve(), store.root.resolve())
    except ValueError:  # another drive
        stored = str(path.resolve())
    return WholeFile(name=name, path=stored, size=path.stat().st_size, sha256=sha256_of(path), role=role,
                     district=district)


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path


def record_files(store: CatalogStore, city_id: str, layer: Layer,
                 districts: dict[str, District] | None = None, local: Path | None = None) -> LayerFiles | None:
    """Write the sidecars and district maps of ``layer`` and hash every file: its registry of
    whole files, to store in its catalog record (None while its file is missing).

    For a layer in object storage the map itself stays there (served from it, range by range);
    ``local`` is the file just uploaded to it, hashed and clipped instead of reading the object
    back (without it the object is read once, through GDAL for the districts)."""
    remote = object_store.is_s3(layer.path)
    source_path = store.layer_path(layer)
    try:
        source = store.source_token(layer) if remote else file_token(source_path)
    except SourceRefused:
        source = None
    if source is None:
        return None
    if remote and local is not None:
        if local.stat().st_size != object_store.size(layer.path, store.sources.s3):
            raise InputError(f"{local} is not the file at {layer.path} (sizes differ)")
        source_path = local
    folder = layer_folder(store, city_id, layer.id) / _key(layer, source)
    staging = folder.with_name(f".staging-{folder.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    base = f"{city_id}-{layer.id}"
    written: list[tuple[Path, str, FileRole, str | None]] = [(source_path, f"{base}.tif", "data", None)]
    try:
        if layer.categorical:
            classes = layer_classes(layer)
            aux, qml = pam_xml(classes), qgis_qml(classes)
            written += _sidecars(staging, base, aux, qml, None)
            if layer.kind == LayerKind.mcae and districts:
                with store.sources.env(), rasterio.open(source_path) as src:
                    for district in districts.values():
                        name = f"{base}-{district.id}"
                        if clip_district(src, district.name, district.geometry, staging / f"{name}.tif") is None:
                            continue  # outside the map
                        written.append((staging / f"{name}.tif", f"{name}.tif", "data", district.id))
                        written += _sidecars(staging, name, aux, qml, district.id)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = [_remote_entry(store, layer.path, name, local) if remote and path == source_path
             else _entry(store, folder / path.name if path.parent == staging else path, name, role, district)
             for path, name, role, district in written]
    return LayerFiles(source=source, files=files)


def _remote_entry(store: CatalogStore, url: str, name: str, local: Path | None) -> WholeFile:
    """The map of an object-store layer: stored as its ``s3://`` location, hashed from ``local``
    (the same bytes, just uploaded) or read from the store once."""
    if local is not None:
        size, digest = local.stat().st_size, sha256_of(local)
    else:
        hasher, size = hashlib.sha256(), 0
        for chunk in object_store.read(url, settings=store.sources.s3, chunk=CHUNK):
            hasher.update(chunk)
            size += len(chunk)
        digest = hasher.hexdigest()
    return WholeFile(name=name, path=url, size=size, sha256=digest, role="data", district=None)


def _sidecars(folder: Path, name: str, aux: str, qml: str,
              district: str | None) -> list[tuple[Path, str, FileRole, str | None]]:
    return [(_write_text(folder / f"{name}.tif.aux.xml", aux), f"{name}.tif.aux.xml", "metadata", district),
            (_write_text(folder / f"{name}.qml", qml), f"{name}.qml", "style", district)]


def prune_files(store: CatalogStore, city_id: str, layer: Layer) -> None:
    """Delete the download folders of ``layer``'s earlier files (its URLs answer 410 by now)."""
    keep = {Path(f.path).parent.name for f in (layer.files.files if layer.files else [])
            if not object_store.is_s3(f.path)}
    where = layer_folder(store, city_id, layer.id)
    if not where.is_dir():
        return
    for child in where.iterdir():
        if child.is_dir() and child.name not in keep and not child.name.startswith(".staging-"):
            shutil.rmtree(child, ignore_errors=True)


def fresh(layer: Layer, source_token: str) -> LayerFiles | None:
    """The layer's registry of whole files if it was recorded for its file as it is now."""
    return layer.files if layer.files is not None and layer.files.source == source_token else None


def put_with_files(store: CatalogStore, city_id: str, layer: Layer,
                   districts: dict[str, District] | None = None, local: Path | None = None) -> Layer:
    """Put ``layer`` into the catalog with its whole files recorded (and earlier ones pruned);
    ``local``: see ``record_files``."""
    layer = layer.model_copy(update={"files": record_files(store, city_id, layer, districts, local)})
    store.put_layer(city_id, layer)
    prune_files(store, city_id, layer)
    return layer
