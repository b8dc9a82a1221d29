"""The annotation database: SQLAlchemy 2 tables (Alembic migrations in ``migrations/``).

One source of truth for the experts' work on a city's project folder: masks and groups
imported from the engine, the decisions taken on them (a cluster decision is an object
with the exact masks it labelled), an append-only history, users, hashed tokens, review
states and per-patch "fully checked" flags. Every group, mask and patch row carries a
``version`` that a write must name; a stale one is refused (409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Datetimes stored in UTC and read back with their zone (SQLite drops it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: give it a time zone")
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer | annotator | reviewer | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Token(Base):
    """An API token: a public id and the scrypt hash of its secret (never the secret)."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(128))
    params: Mapped[str] = mapped_column(String(32))  # scrypt n:r:p
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Project(Base):
    """A city's project folder as the service knows it."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    root: Mapped[str] = mapped_column(Text)  # server-side folder; never sent to clients
    city: Mapped[str | None] = mapped_column(String(64), nullable=True)  # catalog city id
    layer: Mapped[str] = mapped_column(String(64), default="mcae")  # catalog layer rebuilt
    scheme: Mapped[str] = mapped_column(String(32), default="mcae")
    fine_classes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # coarse name -> [fine]
    grid: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    double_share: Mapped[float] = mapped_column(Float, default=0.05)
    area: Mapped[int] = mapped_column(Integer, default=0)  # pixels of the present masks, set by each import
    # reviewed: a rebuild publishes accepted decisions (and reviewers' and admins'); any: every one
    publish_policy: Mapped[str] = mapped_column(String(16), default="reviewed", server_default="reviewed")
    # groups of fewer masks go to refinement (their undecided masks), never to "next group"
    min_group_size: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # counters of the present masks, kept by every write in its transaction (counters.py)
    masks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    decided: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refine: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # undecided, sent to refinement
    decided_area: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    changed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # class differs from the map's
    changed_area: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    patches: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    checked_patches: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    open_groups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # groups with open masks


class Patch(Base):
    __tablename__ = "patches"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))  # "row-col"
    neighbourhood: Mapped[str] = mapped_column(String(32))
    row: Mapped[int] = mapped_column(Integer)
    col: Mapped[int] = mapped_column(Integer)
    checked: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # counters of its present masks, kept by every write in its transaction (counters.py)
    masks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    decided: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refine: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    area: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    decided_area: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Neighbourhood(Base):
    """A neighbourhood of a project: its patches, where it lies, and counters of its present masks
    (kept by every write in its transaction, counters.py), so its page reads no masks."""

    __tablename__ = "neighbourhoods"
    __table_args__ = (UniqueConstraint("project_id", "name"), Index("ix_neighbourhoods_seq", "project_id", "seq"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer, default=0)  # the page's order (by row, then column)
    patches: Mapped[list[Any]] = mapped_column(default=list)
    bounds: Mapped[list[Any] | None] = mapped_column(nullable=True)  # lon/lat w, s, e, n (import)
    groups: Mapped[int] = mapped_column(Integer, default=0)  # groups with present masks
    masks: Mapped[int] = mapped_column(Integer, default=0)
    decided: Mapped[int] = mapped_column(Integer, default=0)
    refine: Mapped[int] = mapped_column(Integer, default=0)
    area: Mapped[int] = mapped_column(BigInteger, default=0)
    decided_area: Mapped[int] = mapped_column(BigInteger, default=0)
    open_groups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # groups with open masks


class Tally(Base):
    """Per project, present masks counted by a key: ``author-group`` / ``author-mask`` (decided
    through a group decision / a correction of user ``key``) and ``changed`` (current class
    ``key`` differs from the last map built). Kept by every write (counters.py)."""

    __tablename__ = "tallies"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[int] = mapped_column(Integer, primary_key=True)
    masks: Mapped[int] = mapped_column(Integer, default=0)
    area: Mapped[int] = mapped_column(BigInteger, default=0)


class Group(Base):
    """Group ``x-y`` of a neighbourhood: cluster x with predicted class y."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("project_id", "neighbourhood", "key"),
                      Index("ix_groups_gain", "project_id", "gain"),
                      Index("ix_groups_open", "project_id", "open_masks"),
                      Index("ix_groups_lease", "project_id", "lease_user_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    neighbourhood: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(32))  # "x-y"
    cluster: Mapped[int] = mapped_column(Integer)
    pred_class: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, default=0)
    score_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    double: Mapped[bool] = mapped_column(Boolean, default=False)  # labelled twice
    # counters kept by every write that changes a mask's state (mask_classes.refresh_totals), in pixels
    area: Mapped[int] = mapped_column(Integer, default=0)  # present masks
    decided_area: Mapped[int] = mapped_column(Integer, default=0)
    open_area: Mapped[int] = mapped_column(Integer, default=0)  # undecided, not sent to refinement
    open_masks: Mapped[int] = mapped_column(Integer, default=0)
    masks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # present ones
    decided: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refine: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # undecided, sent to refinement
    gain: Mapped[float] = mapped_column(Float, default=0.0)  # sum of open area x (1 - confidence)
    # the class mix's weights per class (decided masks by class, the others by probabilities): the histogram
    mix: Mapped[list[Any] | None] = mapped_column(nullable=True)
    lease_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    lease_started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Mask(Base):
    __tablename__ = "masks"
    __table_args__ = (UniqueConstraint("project_id", "patch", "mask_id"),
                      Index("ix_masks_group", "group_id"),
                      Index("ix_masks_hood", "project_id", "neighbourhood"),
                      Index("ix_masks_decision", "decision_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    patch: Mapped[str] = mapped_column(String(32))
    mask_id: Mapped[int] = mapped_column(Integer)
    neighbourhood: Mapped[str] = mapped_column(String(32))
    area: Mapped[int] = mapped_column(Integer, default=0)
    bbox: Mapped[list[Any]] = mapped_column(default=list)  # [x0, y0, x1, y1] in patch pixels
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"),
                                                 nullable=True)
    pred_class: Mapped[int] = mapped_column(Integer, default=0)
    pred_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    proba: Mapped[list[Any] | None] = mapped_column(nullable=True)
    class_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the expert's class
    fine_class: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), nullable=True)
    refine: Mapped[bool] = mapped_column(Boolean, default=False)  # sent to refinement
    mapped_class: Mapped[int | None] = mapped_column(Integer, nullable=True)  # in the last map built
    present: Mapped[bool] = mapped_column(Boolean, default=True)  # in the latest import
    version: Mapped[int] = mapped_column(Integer, default=1)


class Decision(Base):
    """One expert action: a group decision (with its exact masks) or a mask correction."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_project", "project_id", "id"),
                      Index("ix_decisions_group", "project_id", "neighbourhood", "group_key"),
                      Index("ix_decisions_author", "author_id", "created_at"),
                      Index("ix_decisions_project_author", "project_id", "author_id", "id"),
                      Index("ix_decisions_project_time", "project_id", "created_at"),
                      # the second labellings (agreement), read from the index alone
                      Index("ix_decisions_pass", "project_id", "pass_no", "target", "state", "review"),
                      # the dashboard's one grouped pass, read from the index alone (review.dashboard)
                      Index("ix_decisions_dashboard", "project_id", "author_id", "target", "state", "review",
                            "pass_no", "elapsed_s"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(8))  # group | mask
    class_id: Mapped[int] = mapped_column(Integer)
    fine_class: Mapped[str | None] = mapped_column(String(64), nullable=True)
    neighbourhood: Mapped[str | None] = mapped_column(String(32), nullable=True)
    group_key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    patch: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mask_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="api")
    pass_no: Mapped[int] = mapped_column(Integer, default=1)  # 2: the second labelling
    elapsed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(8), default="active")  # active | undone
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review: Mapped[str] = mapped_column(String(8), default="pending")  # pending|accepted|rejected
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    review_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # an admin's restore (Load in restore mode) kept the file's author and time: who restored it
    restored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class DecisionMask(Base):
    """A mask a decision labelled, and what the mask was before it."""

    __tablename__ = "decision_masks"
    __table_args__ = (Index("ix_decision_masks_mask", "mask_pk"),)

    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"),
                                             primary_key=True)
    mask_pk: Mapped[int] = mapped_column(ForeignKey("masks.id", ondelete="CASCADE"), primary_key=True)
    before_class: Mapped[int | None] = mapped_column(Integer, nullable=True)
    before_fine: Mapped[str | None] = mapped_column(String(64), nullable=True)
    before_decision: Mapped[int | None] = mapped_column(Integer, nullable=True)


class History(Base):
    """Append-only: who changed what, when, before and after."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_project", "project_id", "id"),
                      Index("ix_history_entity", "project_id", "entity", "entity_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)

    @classmethod
    def record(cls, session: Session, project_id: str | None, user_id: int | None, action: str,
               entity: str, entity_id: str, before: dict[str, Any] | None = None,
               after: dict[str, Any] | None = None) -> History:
        """Add one entry to the session's transaction (committed with the change it records)."""
        entry = cls(project_id=project_id, user_id=user_id, action=action, entity=entity,
                    entity_id=entity_id, before=before, after=after)
        session.add(entry)
        return entry


class Training(Base):
    """One retraining: the model it made and its hold-out accuracy."""

    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    model_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    masks: Mapped[int] = mapped_column(Integer, default=0)
    decisions: Mapped[int] = mapped_column(Integer, default=0)
    holdout_accuracy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the engine's hold-out report (mcae.inference.holdout.Holdout.to_dict): reason, ECE, bins
    holdout: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    map_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class AssessmentSample(Base):
    """A stratified sample drawn from one version of a catalog layer (map accuracy assessment)."""

    __tablename__ = "assessment_samples"
    __table_args__ = (Index("ix_assessment_samples_layer", "city", "layer", "map_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    layer: Mapped[str] = mapped_column(String(64))
    map_version: Mapped[str] = mapped_column(String(64))
    design: Mapped[dict[str, Any]] = mapped_column(default=dict)  # method, seed, n, allocation ...
    strata: Mapped[dict[str, Any]] = mapped_column(default=dict)  # class -> {pixels, area_m2, n}
    origin: Mapped[str] = mapped_column(String(16), default="drawn")  # drawn | imported
    response: Mapped[str] = mapped_column(String(16), default="experts")  # experts | reference | imported
    second_share: Mapped[float] = mapped_column(Float, default=0.1)
    independent: Mapped[bool] = mapped_column(Boolean, default=True)
    dependent_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    points_total: Mapped[int] = mapped_column(Integer, default=0)
    labelled: Mapped[int] = mapped_column(Integer, default=0)  # points with an active first label
    version: Mapped[int] = mapped_column(Integer, default=1)


class AssessmentPoint(Base):
    """One sample unit (a map pixel); its map class is sent to a user only once they labelled it."""

    __tablename__ = "assessment_points"
    __table_args__ = (UniqueConstraint("sample_id", "seq"), Index("ix_assessment_points_sample", "sample_id", "seq"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("assessment_samples.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    stratum: Mapped[int] = mapped_column(Integer)
    map_class: Mapped[int] = mapped_column(Integer)
    row: Mapped[int | None] = mapped_column(Integer, nullable=True)
    col: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    unit_m: Mapped[float] = mapped_column(Float, default=0.6)  # side of the unit (the pixel)
    second: Mapped[bool] = mapped_column(Boolean, default=False)  # also goes to a second expert
    used_for_training: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AssessmentLabel(Base):
    """A reference label of a point (pass 1, or 2 by a second expert); undone, never overwritten."""

    __tablename__ = "assessment_labels"
    __table_args__ = (Index("ix_assessment_labels_point", "point_id", "pass_no", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("assessment_points.id", ondelete="CASCADE"))
    pass_no: Mapped[int] = mapped_column(Integer, default=1)
    class_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: can't tell
    cant_tell: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), default="web")  # web | reference | import
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state: Mapped[str] = mapped_column(String(8), default="active")  # active | undone
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
