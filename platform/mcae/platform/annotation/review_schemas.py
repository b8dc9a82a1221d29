"""Response and request models of review, progress and publishing: agreement, the dashboard (with
each training's hold-out report), the rebuild preview and the layer's versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AnnotatorStats(BaseModel):
    user: str
    decisions: int
    group_decisions: int
    mask_decisions: int
    masks: int
    undone: int
    accepted: int
    rejected: int
    second_pass: int


class ReliabilityOut(BaseModel):
    """Held-out masks binned by confidence: a reliability diagram's points."""

    edges: list[float]
    count: list[int]
    confidence: list[float | None]
    accuracy: list[float | None]
    ece: float | None
    n: int


class HoldoutOut(BaseModel):
    """How a training was scored on masks it did not see; ``scored`` False draws no point."""

    scored: bool
    reason: str | None = None
    n: int = 0
    per_class: dict[str, float] = {}
    unscored_classes: list[str] = []
    temperature: float | None = None
    ece: float | None = None
    ece_uncalibrated: float | None = None
    reliability: ReliabilityOut | None = None
    reliability_uncalibrated: ReliabilityOut | None = None

    @classmethod
    def from_report(cls, report: dict[str, Any] | None, accuracy: dict[str, Any] | None) -> HoldoutOut:
        """From the stored report; trainings recorded before it existed say what they can."""
        if report:
            fields = {k: v for k, v in report.items() if k in cls.model_fields}
            return cls.model_validate(fields)
        if accuracy:
            return cls(scored=True)
        return cls(scored=False, reason="not scored: needs at least 5 decided masks in every class "
                                        "(trained before per-class scoring)")


class TrainingOut(BaseModel):
    at: dt.datetime
    model_version: str | None
    masks: int
    decisions: int
    holdout_accuracy: dict[str, float]
    map_version: str | None
    holdout: HoldoutOut


class Labelling(BaseModel):
    """One annotator's labelling of a mask of a double group."""

    decision: int
    class_id: int
    class_name: str
    author: str


class Settled(BaseModel):
    """A correction made since both labellings: the mask's final class."""

    decision: int
    class_id: int
    class_name: str
    by: str


class Disagreement(BaseModel):
    mask: int
    patch: str
    mask_id: int
    neighbourhood: str
    group: str | None
    first: Labelling
    second: Labelling
    settled: Settled | None = None


class AgreementOut(BaseModel):
    double_groups: int
    compared_masks: int
    agreeing: int
    kappa: float | None
    annotators: list[str]
    disagreements: list[Disagreement]


class DashboardOut(BaseModel):
    masks: int
    decided: int
    decided_by_group: int
    decided_by_mask: int
    actions: int
    masks_per_action: float | None
    seconds_per_bulk_action: float | None
    patches: int
    checked_patches: int
    per_annotator: list[AnnotatorStats]
    reviews: dict[str, int]
    trainings: list[TrainingOut]
    refine_sends: int = 0  # sends to refinement in force (not undone), counted among the actions
    area_ha: float = 0.0
    decided_ha: float = 0.0


class RebuildPreview(BaseModel):
    masks_changed: int
    area_m2: float
    by_class: dict[str, int]
    decisions_since_last_build: int
    decisions_since_capped: bool = Field(default=False, description=(
        "the count stopped at its cap (10,000): more decisions were made since the last build"))
    last_build: dt.datetime | None
    share: float = 0.0  # area changed / the project's area


class LayerVersionOut(BaseModel):
    """One published version of a layer (its file stays on the server)."""

    number: int
    version: str | None = Field(description="The layer version its tiles were served as (tile URLs' `v`)")
    published_at: dt.datetime
    by: str | None
    note: str
    current: bool


class LayerVersionsOut(BaseModel):
    city: str
    layer: str
    current: str | None = Field(description="The layer's version now (tile URLs' `v`)")
    versions: list[LayerVersionOut]


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=40, pattern=r"^[0-9a-f]+$",
                         description="A version number (1, 2, ...) or the layer version (tile URLs' `v`)")
