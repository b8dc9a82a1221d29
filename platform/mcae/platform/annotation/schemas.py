"""Request and response models of the annotation API (its part of the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mcae.inference.classes import MCAE
from mcae.tiles.ids import ID_PATTERN

ClassIn = int | str
# ids a body names are looked up in the database: bounded like the path's ids (SQLite's
# INTEGER is 64-bit; a larger number would be a server fault, not a 404)
MaskRowId = Annotated[int, Field(ge=1, le=2**62)]
MaskNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]


def class_id_of(value: ClassIn, allow_unknown: bool = False) -> int:
    """An MCAE class id from an id or a name (0 / "Unknown" only where allowed)."""
    if isinstance(value, str) and not value.strip().isdigit():
        if allow_unknown and value.strip().lower() == "unknown":
            return 0
        return MCAE.id_of(value)
    number = int(value)
    if number == 0 and allow_unknown:
        return 0
    if number not in MCAE.ids:
        raise ValueError(f"class {number} is not an MCAE class id (1-9)")
    return number


def class_name_of(class_id: int) -> str:
    return "Unknown" if class_id == 0 else MCAE.name_of(class_id)


class Page(BaseModel):
    total: int
    page: int
    per_page: int


class ClassOut(BaseModel):
    id: int
    name: str
    color: str


class LeaseOut(BaseModel):
    user: str | None
    until: dt.datetime


class DecisionMaskOut(BaseModel):
    """A mask a decision labelled: its class before the decision and now."""

    id: int
    patch: str
    mask_id: int
    before_class: int | None
    before_fine_class: str | None
    class_id: int | None
    from_this_decision: bool


class ProjectOut(BaseModel):
    id: str
    name: str
    city: str | None
    layer: str
    scheme: str
    classes: list[ClassOut]
    fine_classes: dict[str, list[str]]
    grid: dict[str, Any]
    model_version: str | None
    double_share: float
    publish_policy: Literal["reviewed", "any"] = "reviewed"
    version: int
    masks: int
    decided: int
    patches: int
    checked_patches: int
    area_ha: float = 0.0  # of the present masks
    decided_ha: float = 0.0
    gsd: float | None = None  # metres a pixel
    min_group_size: int = Field(default=3, description="groups of fewer masks go to refinement, not to "
                                                       "\"next group\" (one cluster action each)")


class ProjectPatch(BaseModel):
    """An admin's edit of a project (with the version it was read at)."""

    model_config = ConfigDict(extra="forbid")
    version: int
    name: str | None = Field(None, min_length=1, max_length=200)
    fine_classes: dict[str, list[str]] | None = None
    double_share: float | None = Field(None, ge=0, le=1)
    city: str | None = Field(None, pattern=ID_PATTERN)
    layer: str | None = Field(None, pattern=ID_PATTERN)
    publish_policy: Literal["reviewed", "any"] | None = Field(
        None, description="reviewed: a rebuild publishes accepted decisions and reviewers' and admins'; "
                          "any: every decision in force")
    min_group_size: int | None = Field(None, ge=1, le=1000, description=(
        "groups of fewer masks go to refinement (their undecided masks), not to \"next group\""))

    @field_validator("fine_classes")
    @classmethod
    def _coarse_names(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if value is None:
            return value
        for coarse, fine in value.items():
            try:
                MCAE.id_of(coarse)
            except LookupError:  # a validator's LookupError is no validation error: it would be a 500
                raise ValueError(f"{coarse!r} is not an MCAE class; one of {', '.join(MCAE.names)}") from None
            if len(fine) > 200 or any(not f.strip() or len(f) > 64 for f in fine):
                raise ValueError(f"fine classes of {coarse}: 1-64 characters each, at most 200")
        return value


class NeighbourhoodOut(BaseModel):
    name: str
    patches: list[str]
    groups: int
    masks: int
    decided: int
    progress: float
    area_ha: float = 0.0
    decided_ha: float = 0.0
    share: float = 0.0  # of the project's area
    bounds: list[float] | None = Field(default=None, description=(
        "lon/lat [west, south, east, north] of its patches (stored at import), for a locator map; "
        "None without georeferencing"))


class NeighbourhoodPage(Page):
    items: list[NeighbourhoodOut]


class RejectionOut(BaseModel):
    decision: int
    author: str
    reviewer: str | None
    comment: str | None
    reviewed_at: dt.datetime | None
    class_name: str
    masks: int


class GroupOut(BaseModel):
    id: int
    neighbourhood: str
    key: str
    cluster: int
    pred_class: int
    pred_name: str
    size: int
    decided: int
    open: int
    refine: int
    score_min: float | None
    score_max: float | None
    histogram: dict[str, float]
    index: int
    of: int
    summary: str  # the engine's line: 55/57, (0.16, 0.91), {'Tree': '96.49', ...}
    double: bool
    model_version: str | None
    version: int
    lease: LeaseOut | None
    area_ha: float = 0.0
    decided_ha: float = 0.0
    open_ha: float = 0.0
    share: float = Field(default=0.0, description="the group's share of the project's area")
    gain_ha: float = Field(default=0.0, description="map gain: open area x (1 - confidence), in ha")
    doubt: float = Field(default=0.0, description=(
        "share of the group outside its leading class in `histogram` (0: one class, towards 1: mixed); "
        "the groups' `-doubt` sort"))
    rejections: list[RejectionOut] = Field(default_factory=list,
                                           description="rejected decisions on this group's masks, newest first")


class MaskOut(BaseModel):
    id: int
    patch: str
    mask_id: int
    neighbourhood: str
    group: str | None
    area: int
    bbox: list[int]
    pred_class: int
    confidence: float | None
    class_id: int | None
    class_name: str | None
    fine_class: str | None
    decision_id: int | None
    via: Literal["group", "mask"] | None
    refine: bool
    version: int
    thumbnail: str
    area_m2: float | None = None


class MaskPage(Page):
    items: list[MaskOut]


class GroupDecisionIn(BaseModel):
    """Label some (default: all) masks of a group with one class."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    class_id: ClassIn = Field(alias="class")
    fine_class: str | None = Field(None, max_length=64)
    masks: list[MaskRowId] | None = Field(None, max_length=100_000, description="Mask ids (`id`); default all")
    version: int | None = Field(None, description="The group version the expert saw (or If-Match)")
    model_version: str | None = Field(None, max_length=32)
    second_pass: bool = Field(False, description="The second, independent labelling of a double group")


class RefineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    masks: list[MaskRowId] | None = Field(None, max_length=100_000, description="default: every open mask")
    version: int | None = None


class CorrectionRow(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    mask: MaskNumber = Field(description="mask id within the patch")
    class_id: ClassIn = Field(alias="class")
    fine_class: str | None = Field(None, max_length=64)
    version: int | None = Field(None, description="the mask version the expert saw")


class CorrectionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[CorrectionRow] = Field(min_length=1, max_length=5000)
    version: int | None = Field(None, description="the patch version (or If-Match)")


class CheckedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checked: bool
    version: int | None = None
    override: bool = Field(default=False, description="mark it checked although masks are undecided or waiting "
                                              "for refinement (recorded, with who overrode)")


class PatchOut(BaseModel):
    name: str
    neighbourhood: str
    row: int
    col: int
    checked: bool
    checked_by: str | None
    checked_at: dt.datetime | None
    masks: int
    decided: int
    refine: int
    version: int
    bounds: list[float] | None = None  # lon/lat of the patch, for a locator map
    area_ha: float = 0.0
    decided_ha: float = 0.0


class PatchPage(Page):
    items: list[PatchOut]


class PatchMaskOut(BaseModel):
    """A mask of a patch as the refinement tool needs it (its patch and neighbourhood are the
    patch's; its thumbnail is ``/patches/{patch}/masks/{mask_id}/thumbnail.png``; the rest of it
    is ``/patches/{patch}/masks/{mask_id}``): compact, as a patch holds thousands."""

    id: int
    mask_id: int
    group: str | None
    bbox: list[int]
    pred_class: int
    class_id: int | None
    class_name: str | None
    fine_class: str | None
    via: Literal["group", "mask"] | None
    refine: bool
    version: int


class PatchDetail(PatchOut):
    mask_list: list[PatchMaskOut]


class DecisionOut(BaseModel):
    id: int
    target: Literal["group", "mask"]
    class_id: int
    class_name: str
    fine_class: str | None
    neighbourhood: str | None
    group: str | None
    patch: str | None
    mask: int | None
    masks: int
    model_version: str | None
    author: str
    created_at: dt.datetime
    source: str
    second_pass: bool
    elapsed_s: float | None
    state: Literal["active", "undone"]
    undone_by: str | None
    review: Literal["pending", "accepted", "rejected"]
    reviewer: str | None
    review_comment: str | None
    restored_by: str | None = Field(None, description="The admin whose restore kept this decision's author "
                                                      "and time from a file")


class DecisionPage(Page):
    items: list[DecisionOut]
    total_capped: bool = Field(default=False, description=(
        "`total` stopped counting at its cap (10,000): more decisions match; page with `next_before`"))
    next_before: int | None = Field(default=None, description=(
        "the next page, newest first, is `before=` this id (keyset paging: no OFFSET); None on the last page"))


class DecisionDetail(DecisionOut):
    mask_list: list[DecisionMaskOut]


class SaveOut(BaseModel):
    """What a committed save returns: the decision(s) and the new versions."""

    saved: bool = True
    decisions: list[DecisionOut]
    masks_changed: int
    group: GroupOut | None = None
    patch: PatchOut | None = None
    refinement: int | None = Field(default=None, description="a send to refinement: the id its undo names")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["accept", "reject"]
    comment: str | None = Field(None, max_length=2000)


class HistoryOut(BaseModel):
    id: int
    at: dt.datetime
    user: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class HistoryPage(Page):
    items: list[HistoryOut]
    next_before: int | None = Field(default=None, description=(
        "the next page, newest first, is `before=` this id (keyset paging: no OFFSET); None on the last page"))


class LoadSummary(BaseModel):
    added: int
    group_decisions: int
    mask_decisions: int
    masks_labelled: int
    by_class: dict[str, int]
    mode: Literal["load", "restore"] = "load"
    recorded_as: str | None = Field(None, description="The author every line was recorded as (load); "
                                                      "none for a restore, which kept the file's authors")
    write_s: float | None = Field(None, description="Seconds the write transaction (and its lock) took")


class NextGroupOut(BaseModel):
    group: GroupOut | None
    second_pass: bool = False
    lease_until: dt.datetime | None = None
    remaining: int


class UserOut(BaseModel):
    id: int
    name: str
    role: str


class MaskAt(BaseModel):
    """What lies under a pixel of a patch: one of the patch's masks (``mask``), ground no mask
    covers (``ground``), or a mask of the patch's margin that a neighbouring patch's core owns
    (``neighbour``: it is decided there, from that patch)."""

    found: Literal["mask", "ground", "neighbour"]
    mask: MaskOut | None = None
