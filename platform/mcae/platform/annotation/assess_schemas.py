"""Request and response bodies of the assessment routes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field


class DesignIn(BaseModel):
    city: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    layer: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    seed: int = Field(ge=0, le=2**31 - 1)
    points: int | None = Field(default=None, ge=1, le=20_000)
    target_se: float | None = Field(default=None, gt=0, lt=1)
    min_per_class: int = Field(default=50, ge=0, le=5_000)
    expected_ua: dict[int, Annotated[float, Field(gt=0, le=1)]] = Field(default_factory=dict)
    second_share: float = Field(default=0.1, ge=0, le=1)


class SampleOut(BaseModel):
    id: int
    city: str
    layer: str
    map_version: str
    design: dict[str, Any]
    origin: str
    response: str
    independent: bool
    dependent_reason: str | None
    created_at: dt.datetime
    points: int
    labelled: int
    cant_tell: int
    second_share: float
    version: int


class SampleList(BaseModel):
    items: list[SampleOut]


class LabelOut(BaseModel):
    id: int
    pass_no: int
    class_id: int | None
    cant_tell: bool
    comment: str | None
    state: str
    source: str
    created_at: dt.datetime


class PointOut(BaseModel):
    """A sample point. ``map_class`` is null until the asking user labelled the point."""

    sample: int
    seq: int
    lon: float
    lat: float
    unit_m: float
    version: int
    second: bool
    map_class: int | None
    labels: list[LabelOut]
    pass_no: int | None = None


class NextPointOut(BaseModel):
    point: PointOut | None
    sample: SampleOut


class LabelIn(BaseModel):
    class_id: int | None = Field(default=None, ge=1, le=255)
    cant_tell: bool = False
    comment: str | None = Field(default=None, max_length=2000)
    version: int | None = Field(default=None, ge=0)
    pass_no: int = Field(default=1, ge=1, le=2)


class LabelSaved(BaseModel):
    label: LabelOut
    point: PointOut


class Estimate(BaseModel):
    estimate: float | None
    ci95: float | None = Field(description="Half-width of the 95 % confidence interval.")


class AreaEstimate(BaseModel):
    map: float
    estimate: float | None
    ci95: float | None


class ReportOut(BaseModel):
    """Issue 16's report.json: classes keyed by id as a string; ``ci95`` a half-width."""

    overall_accuracy: Estimate
    users_accuracy: dict[str, Estimate]
    producers_accuracy: dict[str, Estimate]
    area_m2: dict[str, AreaEstimate]
    area_ha: dict[str, AreaEstimate]
    n: int
    cant_tell: int
    version: str | None
    classes: list[str]
    error_matrix: dict[str, Any]
    strata_without_labels: list[str]
    sample: dict[str, Any]
    design: dict[str, Any]
    agreement: dict[str, Any]
    assessed_at: str | None
    simulated: bool = Field(description="Labels from a reference raster (tests and benchmarks), not experts.")
    simulated_labels: int = 0


class LayerAssessmentOut(BaseModel):
    """The latest assessment of the layer version now published (null: none yet)."""

    city: str
    layer: str
    version: str
    sample: int | None = None
    overall_accuracy: Estimate | None = None
    n: int | None = None
    cant_tell: int | None = None
    assessed_at: str | None = None
    simulated: bool | None = None
    independent: bool | None = None
    earlier_versions: int = 0
