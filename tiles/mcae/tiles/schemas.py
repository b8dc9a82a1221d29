"""What the catalog, legend, STAC and job routes answer: pydantic response models.

They give the OpenAPI document (and so the generated ``web/src/shared/api-types.ts``) a
schema for every JSON answer of the tiles layer. The catalog models say what a client sees
of a city and its layers (never a file path); ``JobOut`` is a job record as any route that
starts or shows a job answers it (bundles, rebuilds, ``/api/jobs/{id}``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcae.tiles.catalog import LayerKind

Provenance = Literal["real", "synthetic"]


# -- catalog ---------------------------------------------------------------------------------

class LegendEntry(BaseModel):
    """One class of a layer's own legend, as the catalog stores it."""

    model_config = ConfigDict(extra="allow")

    id: int
    name: str | None = None
    color: str


class LayerOut(BaseModel):
    """A layer as clients see it: no file paths, plus its current version (``None``, and
    ``available`` false, while its file is missing)."""

    id: str
    kind: LayerKind
    title: str
    scheme: str | None = None
    legend: list[LegendEntry] | None = None
    bounds: tuple[float, float, float, float] = Field(description="west, south, east, north (EPSG:4326)")
    minzoom: int
    maxzoom: int
    provenance: Provenance
    description: str
    version: str | None
    available: bool


class DistrictName(BaseModel):
    id: str
    name: str


class CityOut(BaseModel):
    """A city with its layers and district names."""

    id: str
    name: str
    provenance: Provenance
    description: str
    layers: list[LayerOut]
    districts: list[DistrictName]


class FeatureProperties(BaseModel):
    id: str
    name: str


class DistrictFeature(BaseModel):
    """A district as a GeoJSON Feature (geometry: Polygon or MultiPolygon, EPSG:4326)."""

    type: Literal["Feature"] = "Feature"
    id: str
    properties: FeatureProperties
    geometry: dict[str, Any]


class DistrictCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[DistrictFeature]


# -- legends ---------------------------------------------------------------------------------

class ClassEntry(BaseModel):
    id: int
    name: str
    color: str = Field(description="#RRGGBB")
    rgb: tuple[int, int, int]


class LegendOut(BaseModel):
    """A class scheme: id, name, description, nodata value and classes."""

    id: str
    name: str
    description: str
    nodata: int
    classes: list[ClassEntry]


class LayerLegendOut(LegendOut):
    """The legend a categorical layer renders with."""

    layer: str
    title: str


# -- STAC ------------------------------------------------------------------------------------

class StacLink(BaseModel):
    model_config = ConfigDict(extra="allow")

    rel: str
    href: str


class StacObject(BaseModel):
    """A STAC catalog, collection or item (STAC 1.x; the fields the API always writes, the
    rest as STAC defines them)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Catalog", "Collection", "Feature"]
    stac_version: str
    id: str
    links: list[StacLink]


# -- jobs ------------------------------------------------------------------------------------

class JobLinks(BaseModel):
    self: str
    download: str | None = None


class JobOut(BaseModel):
    """A job as clients see it (no paths). What it builds (its spec: city, layer, format, ...)
    and its latest progress values (``tiles_done`` ...) appear at the top level too."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="done / total, 0 to 1")
    done: int
    total: int
    message: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    owner: str | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    eta_s: float | None = Field(None, description="seconds left at the rate so far, while running")
    links: JobLinks


# -- whole files -----------------------------------------------------------------------------

class WholeFileOut(BaseModel):
    """One whole file of a layer version: the map (or a district map) or one of its sidecars."""

    name: str = Field(description="The file name (the URL's last part).")
    role: Literal["data", "metadata", "style"] = Field(
        description="data: the GeoTIFF (COG); metadata: its .aux.xml (class names, read by GDAL); "
                    "style: its .qml (QGIS).")
    district: str | None = Field(None, description="The district id of a district map's files; null: the city's.")
    district_name: str | None = None
    size: int = Field(description="Bytes.")
    sha256: str = Field(description="SHA-256 of the file, hex (computed when the layer was published).")
    media_type: str
    url: str = Field(description="Absolute, versioned, immutable URL (HTTP Range requests answered).")
    vsicurl: str | None = Field(None, description="For a GeoTIFF: the path GDAL and QGIS open it by remotely.")


class WholeFilesOut(BaseModel):
    """The whole files of a layer version, to download or open remotely (``/vsicurl/``)."""

    city: str
    layer: str
    title: str
    version: str = Field(description="The layer version (the tile URLs' `v`) these files are.")
    files: list[WholeFileOut]
