"""The catalog: cities, their districts and layers, by id.

Routes address data only through catalog ids; a layer's file path never leaves the
server. The default store is one JSON file next to the data (``catalog.json``),
rewritten atomically on every change; paths in it are relative to its folder, or
``s3://bucket/key`` for a layer in object storage (read as ``/vsis3/bucket/key``; its
version follows the object's ETag, size and time, see ``source_token``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from mcae.inference import object_store
from mcae.inference.atomic import write_json
from mcae.inference.errors import InputError
from mcae.tiles.gdal import LOCAL, SourceRefused, Sources
from mcae.tiles.ids import ID_PATTERN, UnknownId

CATALOG_FORMAT = "mcae-catalog"
CATALOG_VERSION = 1
SERVING_TMS = "WebMercatorQuad"  # the tile matrix set serving copies are aligned with


class LayerKind(str, Enum):
    """What a layer holds; fixes its scheme and how it renders."""

    imagery = "imagery"
    mcae = "mcae"
    sinolc1 = "sinolc1"
    agreement = "agreement"
    other = "other"  # any other categorical product, with its own legend


def stat_token(stat: os.stat_result) -> str:
    """The one answer to "has this file changed?": its size and modification time (what a
    layer's version, a serving copy's record of its source and the reader pool's keys use)."""
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def file_token(path: str | Path) -> str | None:
    """``stat_token`` of the file at ``path``; None for a remote source or a missing file."""
    try:
        return stat_token(os.stat(path))
    except (OSError, ValueError):
        return None


def make_id(name: str) -> str:
    """A catalog id from a display name (lowercase, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]
    if not slug:
        raise InputError(f"cannot make an id from {name!r}")
    return slug


FileRole = Literal["data", "metadata", "style"]


class WholeFile(BaseModel):
    """One whole file a layer version offers for download (``mcae.tiles.whole_files``): its
    public name (the URL's last part), private path, size and SHA-256, both computed once when
    the layer was published."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,200}$")
    path: str  # relative to the catalog folder (or absolute); private to the server
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: FileRole
    district: str | None = Field(None, pattern=ID_PATTERN)  # None: the whole city's


class LayerFiles(BaseModel):
    """The registry of a layer's whole files, valid while the layer's file is unchanged."""

    source: str  # stat_token of the layer's file when the files were recorded
    files: list[WholeFile] = Field(default_factory=list)


class Layer(BaseModel):
    """One raster of a city. ``path`` is private to the server."""

    id: str = Field(pattern=ID_PATTERN)
    kind: LayerKind
    title: str
    path: str  # relative to the catalog folder (or absolute)
    scheme: str | None = None  # class scheme name: mcae, sinolc1, agreement, or a custom one
    legend: list[dict[str, Any]] | None = None  # custom schemes: [{id, name, color}]
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    minzoom: int = 0
    maxzoom: int = 22
    provenance: Literal["real", "synthetic"] = "real"
    description: str = ""
    serving_path: str | None = None  # web-optimized copy for WebMercatorQuad tiles (see serving.py)
    serving_source: str | None = None  # size:mtime of ``path`` when that copy was written
    files: LayerFiles | None = None  # whole files to download (private paths; see whole_files.py)

    @property
    def categorical(self) -> bool:
        return self.kind != LayerKind.imagery


class District(BaseModel):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    geometry: dict[str, Any]  # GeoJSON Polygon or MultiPolygon, EPSG:4326

    @field_validator("geometry")
    @classmethod
    def _polygon(cls, value: dict[str, Any]) -> dict[str, Any]:
        from shapely.geometry import shape

        geom = shape(value)
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            raise ValueError("a district is a Polygon or MultiPolygon")
        return value


class City(BaseModel):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    provenance: Literal["real", "synthetic"] = "real"
    description: str = ""
    layers: dict[str, Layer] = Field(default_factory=dict)
    districts: dict[str, District] = Field(default_factory=dict)


class Catalog(BaseModel):
    format: Literal["mcae-catalog"] = "mcae-catalog"
    version: int = CATALOG_VERSION
    cities: dict[str, City] = Field(default_factory=dict)


@dataclass(frozen=True)
class LayerRef:
    """A layer resolved once per request: ids, record, private file path, the file's token,
    the fresh serving copy (if any) with its token, and the version they make."""

    city: str
    layer: Layer
    path: str
    version: str
    source_token: str
    serving_path: str | None = None  # fresh web-optimized copy, if any
    serving_token: str | None = None

    def tile_path(self, tms_id: str) -> str:
        """What tiles on ``tms_id`` are rendered from (the serving copy on its own grid)."""
        return self.serving_path if self.serving_path and tms_id == SERVING_TMS else self.path

    def tile_token(self, tms_id: str) -> str:
        """The token of ``tile_path(tms_id)`` as it was resolved."""
        return self.serving_token if self.serving_path and tms_id == SERVING_TMS and self.serving_token \
            else self.source_token

    @property
    def render_key(self) -> str:
        """What, besides the file, changes a rendered tile: kind, scheme and legend."""
        legend = json.dumps(self.layer.legend, sort_keys=True) if self.layer.legend else ""
        return f"{self.layer.kind.value}:{self.layer.scheme}:{legend}"


class CatalogStore:
    """A catalog kept in one JSON file; every change is one atomic rewrite."""

    def __init__(self, path: str | Path, sources: Sources = LOCAL) -> None:
        self.path = Path(path)
        self.sources = sources  # what its layers may be read from, and how (the app's, or a command's)
        self._snapshot: tuple[str, Catalog] | None = None
        self._resolved: dict[str, Path] = {}  # stored path -> absolute path (no stat per request)

    @property
    def root(self) -> Path:
        return self.path.parent

    def load(self) -> Catalog:
        if not self.path.is_file():
            return Catalog()
        try:
            return Catalog.model_validate(json.loads(self.path.read_text()))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise InputError(f"{self.path}: not a valid MCAE catalog ({exc})") from None

    def save(self, catalog: Catalog) -> None:
        write_json(self.path, catalog.model_dump(mode="json"))

    def snapshot(self) -> Catalog:
        """The catalog for reading: parsed once per version of the file (not to be modified)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return Catalog()
        key = f"{stat_token(stat)}:{stat.st_ino}"  # rewritten atomically: a new inode each time
        if self._snapshot is None or self._snapshot[0] != key:
            self._snapshot = (key, self.load())
            self._resolved = {}
        return self._snapshot[1]

    # -- queries -------------------------------------------------------------
    def city(self, city_id: str) -> City:
        city = self.snapshot().cities.get(city_id)
        if city is None:
            raise UnknownId("city", city_id)
        return city

    def layer(self, city_id: str, layer_id: str) -> Layer:
        layer = self.city(city_id).layers.get(layer_id)
        if layer is None:
            raise UnknownId("layer", f"{city_id}/{layer_id}")
        return layer

    def district(self, city_id: str, district_id: str) -> District:
        district = self.city(city_id).districts.get(district_id)
        if district is None:
            raise UnknownId("district", f"{city_id}/{district_id}")
        return district

    def resolve(self, stored: str) -> Path:
        """A path as stored in the catalog (relative to its folder, or absolute; an
        ``s3://`` location as GDAL's ``/vsis3/`` path)."""
        if object_store.is_s3(stored):
            try:
                return Path(object_store.vsi_path(stored))
            except object_store.StorageError:
                raise SourceRefused("this layer's object location is not a bucket and key") from None
        found = self._resolved.get(stored)
        if found is None:
            path = Path(stored)
            found = path if path.is_absolute() else (self.root / path).resolve()
            self._resolved[stored] = found
        return found

    def layer_path(self, layer: Layer) -> Path:
        """The layer's own file: what identify, statistics, clips and comparisons read."""
        return self.resolve(layer.path)

    def source_token(self, layer: Layer) -> str:
        """What changes when the layer's file is rewritten: size and modification time, or an
        object's ETag, size and time (``SourceRefused`` while it is missing or unreachable)."""
        if object_store.is_s3(layer.path):
            try:
                return object_store.head(layer.path, self.sources.s3 or object_store.S3Settings(enabled=False))
            except object_store.StorageError:
                raise SourceRefused("this layer's object cannot be read from object storage") from None
        try:
            return stat_token(self.layer_path(layer).stat())
        except OSError:
            raise SourceRefused("this layer's file is missing") from None

    def serving_copy(self, layer: Layer) -> Path | None:
        """The layer's web-optimized serving copy, if it exists and matches the file."""
        try:
            source = self.source_token(layer)
        except SourceRefused:
            return None
        found = self._fresh_copy(layer, source)
        return found[0] if found else None

    def _fresh_copy(self, layer: Layer, source: str) -> tuple[Path, os.stat_result] | None:
        """The serving copy and its stat, if it was made from the file as ``source`` (its
        ``source_token``) finds it."""
        if not layer.serving_path or layer.serving_source != source:
            return None
        copy = self.resolve(layer.serving_path)
        try:
            return copy, copy.stat()
        except OSError:
            return None

    def layer_version(self, layer: Layer) -> str:
        """Changes whenever the layer's file, or what its tiles are read from, changes
        (``SourceRefused`` while the file is missing)."""
        return self.layer_ref_of("", layer).version

    def layer_ref(self, city_id: str, layer_id: str) -> LayerRef:
        """The layer ``city_id/layer_id`` resolved once: its files and their tokens, and the
        version they make (``UnknownId``; ``SourceRefused`` while its file is missing)."""
        return self.layer_ref_of(city_id, self.layer(city_id, layer_id))

    def layer_ref_of(self, city_id: str, layer: Layer) -> LayerRef:
        """``layer`` (of ``city_id``) resolved: one stat of its file and one of its serving copy."""
        source = self.source_token(layer)  # SourceRefused while the file is missing
        token = f"{layer.path}:{source}"
        found = self._fresh_copy(layer, source)  # one stat of each file per request
        copy_token = None
        if found is not None:
            copy_token = stat_token(found[1])
            token += f"|{layer.serving_path}:{copy_token}"
        version = hashlib.sha1(token.encode()).hexdigest()[:12]
        return LayerRef(city_id, layer, str(self.layer_path(layer)), version, source,
                        str(found[0]) if found else None, copy_token)

    # -- changes -------------------------------------------------------------
    def put_city(self, city: City) -> None:
        catalog = self.load()
        old = catalog.cities.get(city.id)
        if old is not None:  # keep what the new record does not replace
            city = city.model_copy(update={"layers": {**old.layers, **city.layers},
                                           "districts": {**old.districts, **city.districts}})
        catalog.cities[city.id] = city
        self.save(catalog)

    def put_layer(self, city_id: str, layer: Layer) -> None:
        catalog = self.load()
        if city_id not in catalog.cities:
            raise UnknownId("city", city_id)
        catalog.cities[city_id].layers[layer.id] = layer
        self.save(catalog)

    def set_serving(self, city_id: str, layer_id: str, *, source_path: str, serving_path: str,
                    serving_source: str) -> bool:
        """Record a layer's new serving copy, unless the layer is gone or now names another
        file (changed by someone else while the copy was written): whether it was recorded."""
        catalog = self.load()
        layer = catalog.cities.get(city_id, City(id=city_id, name=city_id)).layers.get(layer_id)
        if layer is None or layer.path != source_path:
            return False
        catalog.cities[city_id].layers[layer_id] = layer.model_copy(
            update={"serving_path": serving_path, "serving_source": serving_source})
        self.save(catalog)
        return True

    def remove(self, city_id: str, layer_id: str | None = None) -> None:
        catalog = self.load()
        if city_id not in catalog.cities:
            raise UnknownId("city", city_id)
        if layer_id is None:
            del catalog.cities[city_id]
        elif catalog.cities[city_id].layers.pop(layer_id, None) is None:
            raise UnknownId("layer", f"{city_id}/{layer_id}")
        self.save(catalog)
