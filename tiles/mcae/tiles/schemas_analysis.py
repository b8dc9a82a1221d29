"""What the analysis routes answer: class statistics, the agreement report, identify and the
bundle estimate, as pydantic models.

They give the OpenAPI document (and so the generated ``web/src/shared/api-types.ts``) a schema
for these JSON answers, so the viewer reads them through the one generated client. Routes that
also answer CSV keep building their JSON themselves and name the model in ``responses``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mcae.tiles.catalog import LayerKind

# -- class statistics ------------------------------------------------------------------------


class StatisticsArea(BaseModel):
    """The area asked for: the whole layer, a bbox, a district or a drawn polygon."""

    type: Literal["layer", "bbox", "district", "polygon"]
    bbox: list[float] | None = Field(default=None, description="west, south, east, north (EPSG:4326)")
    id: str | None = None
    name: str | None = None


class PixelTotals(BaseModel):
    window: int
    inside: int
    nodata: int
    classified: int


class AreaTotals(BaseModel):
    inside: float
    nodata: float
    classified: float


class StatisticsClass(BaseModel):
    """One class row: pixels, area in m² and percent of the classified area."""

    id: int
    name: str
    color: str | None
    pixels: int
    area_m2: float
    percent: float | None


class StatisticsOut(BaseModel):
    """Class areas of one categorical layer inside an area."""

    city: str
    layer: str
    scheme: str | None
    provenance: Literal["real", "synthetic"]
    area: StatisticsArea
    crs: str | None = None
    resolution: list[float]
    method: str
    pixels: PixelTotals
    area_m2: AreaTotals
    classes: list[StatisticsClass]


# -- the MCAE / SinoLC-1 agreement report ----------------------------------------------------


class AgreementClass(BaseModel):
    id: int
    name: str
    sinolc1_pixels: int
    mcae_pixels: int
    agree_pixels: int
    agreement_of_sinolc1: float | None
    agreement_of_mcae: float | None


class ComparePixels(BaseModel):
    grid: int
    nodata: int
    compared: int
    excluded: int


class HarmonisedTable(BaseModel):
    model_config = ConfigDict(extra="allow")

    rows: str
    columns: str
    class_ids: list[int]
    class_names: list[str]
    counts: list[list[int]]


class ContingencyTable(BaseModel):
    rows: str
    row_ids: list[int]
    row_names: list[str]
    columns: str
    column_ids: list[int]
    column_names: list[str]
    counts: list[list[int]]


class AgreementSummary(BaseModel):
    """The agreement of one scope: the city or one district."""

    model_config = ConfigDict(extra="allow")

    scope: str
    name: str
    pixels: ComparePixels
    overall_agreement: float | None
    kappa: float | None
    classes: list[AgreementClass]
    harmonised: HarmonisedTable
    contingency: ContingencyTable


class CompareReportOut(BaseModel):
    """The city's MCAE / SinoLC-1 agreement report (``mcae compare``)."""

    model_config = ConfigDict(extra="allow")

    city: str
    city_name: str
    provenance: Literal["real", "synthetic"]
    method: str
    summary: AgreementSummary
    districts: list[AgreementSummary]


# -- identify --------------------------------------------------------------------------------


class IdentifyEntry(BaseModel):
    """One layer at the point: class id, name and colour of a class map, or RGB of imagery;
    nulls where the point is outside the layer or on no data."""

    model_config = ConfigDict(populate_by_name=True)

    layer: str
    title: str
    kind: LayerKind
    value: int | None = None
    class_: str | None = Field(default=None, alias="class")
    color: str | None = None
    rgb: list[int | float] | None = None


class IdentifyOut(BaseModel):
    city: str
    lon: float
    lat: float
    layers: list[IdentifyEntry]


# -- bundle estimate -------------------------------------------------------------------------


class BundleEstimateOut(BaseModel):
    """Tile count and estimated size of a bundle, and whether the server's cap allows it."""

    count: int
    per_zoom: dict[str, int]
    estimated_bytes: int
    sampled_tiles: int
    sampled_with_data: int
    cap: int
    allowed: bool
    format: Literal["mbtiles", "pmtiles", "zip"]
    minzoom: int
    maxzoom: int
