"""Every published version of a layer stays retrievable, and a previous one can come back.

A rebuild (or a rollback) publishes a layer's map as a new numbered file,
``versions/<city>/<layer>/<n>.tif`` beside the catalog, and points the layer at it; the files
of earlier versions are never rewritten or deleted. ``versions.json`` in that folder lists
them: number, file, the layer version its tiles were served as (the tile URLs' ``v``), when,
by whom and why. A rollback copies an old version's file to the next number and publishes
that: a NEW version (new tile URLs), so old tile URLs keep answering 410 naming the current
one, exactly as after a rebuild. The layer's file as it was before the first versioned
publish is listed as version 1 (left where it is). Each publish also records the version's
whole files to download (``whole_files``: map, sidecars, district maps, size and SHA-256);
their URLs name the layer version too, and answer 410 naming the current one once superseded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from mcae.inference.atomic import write_json
from mcae.inference.errors import InputError, ProjectStateError
from mcae.tiles.catalog import CatalogStore, Layer, LayerKind, UnknownId
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.layers import publish_layer

FOLDER = "versions"
LOG = "versions.json"


class PublishedVersion(BaseModel):
    number: int = Field(ge=1)
    path: str  # relative to the catalog folder (or absolute); private to the server
    version: str | None = None  # the layer version (tile URLs' v) it was served as
    published_at: dt.datetime
    by: str | None = None
    note: str = ""


class VersionLog(BaseModel):
    city: str
    layer: str
    versions: list[PublishedVersion] = Field(default_factory=list)


def folder(store: CatalogStore, city: str, layer_id: str) -> Path:
    return store.root / FOLDER / city / layer_id


def read_log(store: CatalogStore, city: str, layer_id: str) -> VersionLog:
    path = folder(store, city, layer_id) / LOG
    if not path.is_file():
        return VersionLog(city=city, layer=layer_id)
    try:
        return VersionLog.model_validate_json(path.read_text())
    except (OSError, ValidationError):
        raise ProjectStateError(f"the version list of layer {city}/{layer_id} is unreadable") from None


def staging_path(store: CatalogStore, city: str, layer_id: str, name: str) -> Path:
    """Where a job writes a map it will publish (same file system as the version files)."""
    where = folder(store, city, layer_id)
    where.mkdir(parents=True, exist_ok=True)
    return where / f".staging-{name}.tif"


@contextlib.contextmanager
def _locked(store: CatalogStore, city: str, layer_id: str) -> Iterator[None]:
    where = folder(store, city, layer_id)
    where.mkdir(parents=True, exist_ok=True)
    with open(where / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one publish of a layer at a time, across processes
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _current(store: CatalogStore, city: str, layer_id: str) -> Layer | None:
    try:
        return store.layer(city, layer_id)
    except UnknownId:
        return None


def _relative(store: CatalogStore, path: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), store.root.resolve())
    except ValueError:
        return str(path.resolve())


def _served_as(store: CatalogStore, layer: Layer) -> str | None:
    try:
        return store.layer_version(layer)
    except SourceRefused:
        return None


def publish_version(store: CatalogStore, city: str, layer_id: str, raster: Path, *, by: str | None, note: str,
                    kind: LayerKind = LayerKind.mcae, title: str | None = None, provenance: str = "real",
                    description: str = "") -> PublishedVersion:
    """Move ``raster`` in as the layer's next numbered version and publish it (``title`` and
    ``provenance`` for a new layer; a layer's own are kept)."""
    with _locked(store, city, layer_id):
        log = read_log(store, city, layer_id)
        old = _current(store, city, layer_id)
        if not log.versions and old is not None and not old.path.startswith("s3://"):
            log.versions.append(PublishedVersion(number=1, path=old.path, version=_served_as(store, old),
                                                 published_at=dt.datetime.now(dt.timezone.utc),
                                                 note="published before versions were kept"))
        number = max((v.number for v in log.versions), default=0) + 1
        dest = folder(store, city, layer_id) / f"{number}.tif"
        os.replace(raster, dest)
        layer = publish_layer(store, city, dest, kind=kind, layer_id=layer_id,
                              title=old.title if old else title,
                              provenance=provenance if old is None else old.provenance,
                              description=description or (old.description if old else ""))
        entry = PublishedVersion(number=number, path=_relative(store, dest), version=_served_as(store, layer),
                                 published_at=dt.datetime.now(dt.timezone.utc), by=by, note=note)
        log.versions.append(entry)
        write_json(folder(store, city, layer_id) / LOG, log.model_dump(mode="json"))
        return entry


def find(log: VersionLog, wanted: str) -> PublishedVersion:
    """A version by its number or by the layer version (tile URLs' ``v``) it was served as."""
    text = wanted.strip()
    for entry in log.versions:
        if (text.isdigit() and entry.number == int(text)) or (entry.version is not None and entry.version == text):
            return entry
    raise UnknownId("layer version", f"{log.city}/{log.layer}/{text[:40]}")


def rollback(store: CatalogStore, city: str, layer_id: str, wanted: str, *, by: str | None) -> PublishedVersion:
    """Publish a previous version's map again, as a new version (new tile URLs)."""
    current = store.layer(city, layer_id)  # UnknownId (404) for no such layer
    log = read_log(store, city, layer_id)
    entry = find(log, wanted)
    source = store.resolve(entry.path)
    if not source.is_file():
        raise ProjectStateError(f"the file of version {entry.number} of layer {city}/{layer_id} is gone")
    if entry.number == log.versions[-1].number and current.path == entry.path:
        raise InputError(f"version {entry.number} is the current version of {city}/{layer_id}")
    staging = staging_path(store, city, layer_id, f"rollback-{entry.number}-{os.getpid()}")
    shutil.copyfile(source, staging)
    return publish_version(store, city, layer_id, staging, by=by, note=f"rollback to version {entry.number}",
                           kind=current.kind)
