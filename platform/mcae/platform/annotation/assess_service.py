"""Map accuracy assessment in the annotation database: samples, blind labels, reports.

A sample is drawn from one version of a catalog layer (``assess_design``); its points are
labelled blind (the map class of a point goes to a user only after they labelled it), a
share of them twice by a second expert; labels are versioned like decisions: a write names
the point's version (409 when stale), undo adds a history entry, nothing is overwritten.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mcae.inference.assessment.agreement import agreement
from mcae.inference.assessment.report import build_report
from mcae.platform.annotation.deps import NotFound
from mcae.platform.annotation.lookups import stale
from mcae.platform.annotation.models import (
    AssessmentLabel,
    AssessmentPoint,
    AssessmentSample,
    History,
    Project,
    User,
    utcnow,
)
from mcae.platform.errors import Conflict, Forbidden

ENTITY = "assessment"


def _project_of(session: Session, sample: AssessmentSample) -> str | None:
    """The project whose map the sample measures (its history gets the sample's entries), if any."""
    return session.scalar(select(Project.id).where(Project.city == sample.city, Project.layer == sample.layer)
                          .order_by(Project.id).limit(1))


def create_sample(session: Session, *, city: str, layer: str, map_version: str, design: dict[str, Any],
                  strata: dict[str, Any], points: list[dict[str, Any]], user_id: int | None,
                  origin: str = "drawn", response: str = "experts", second_share: float = 0.1,
                  seed: int = 0) -> AssessmentSample:
    """Store a sample and its points; ``second_share`` of them (seeded) also go to a second expert."""
    sample = AssessmentSample(city=city, layer=layer, map_version=map_version, design=design, strata=strata,
                              origin=origin, response=response, second_share=second_share, created_by=user_id,
                              points_total=len(points), labelled=0)
    session.add(sample)
    session.flush()
    n_second = round(second_share * len(points))
    chosen = set(np.random.default_rng(seed + 1).choice(len(points), size=n_second, replace=False).tolist()) \
        if n_second else set()
    session.add_all([AssessmentPoint(sample_id=sample.id, seq=i + 1, stratum=int(p["stratum"]),
                                     map_class=int(p.get("map_class", p["stratum"])), row=p.get("row"),
                                     col=p.get("col"), lon=float(p["lon"]), lat=float(p["lat"]),
                                     unit_m=float(p.get("unit_m", 0.6)), second=i in chosen)
                     for i, p in enumerate(points)])
    History.record(session, _project_of(session, sample), user_id, "assessment-sample", ENTITY, str(sample.id),
                   after={"city": city, "layer": layer, "map_version": map_version, "n": len(points),
                          "origin": origin, "method": design.get("method")})
    return sample


def sample_row(session: Session, sample_id: int) -> AssessmentSample:
    found = session.get(AssessmentSample, sample_id)
    if found is None:
        raise NotFound(f"no assessment sample {sample_id}")
    return found


def point_row(session: Session, sample_id: int, seq: int, lock: bool = False) -> AssessmentPoint:
    query = select(AssessmentPoint).where(AssessmentPoint.sample_id == sample_id, AssessmentPoint.seq == seq)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"no point {seq} in assessment sample {sample_id}")
    return found


def _active(session: Session, point_id: int) -> list[AssessmentLabel]:
    return list(session.scalars(select(AssessmentLabel).where(AssessmentLabel.point_id == point_id,
                                                              AssessmentLabel.state == "active")
                                .order_by(AssessmentLabel.pass_no)))


def point_view(session: Session, point: AssessmentPoint, user_id: int) -> dict[str, Any]:
    """A point as a user may see it: its map class only once this user labelled it."""
    labels = _active(session, point.id)
    mine = [lab for lab in labels if lab.author_id == user_id]
    return {"sample": point.sample_id, "seq": point.seq, "lon": point.lon, "lat": point.lat, "unit_m": point.unit_m,
            "version": point.version, "second": point.second,
            "map_class": point.map_class if mine else None,
            "labels": [_label_out(lab) for lab in mine]}


def _label_out(label: AssessmentLabel) -> dict[str, Any]:
    return {"id": label.id, "pass_no": label.pass_no, "class_id": label.class_id, "cant_tell": label.cant_tell,
            "comment": label.comment, "state": label.state, "source": label.source,
            "created_at": label.created_at.isoformat() if label.created_at else None}


def next_point(session: Session, sample_id: int, user_id: int) -> dict[str, Any] | None:
    """The next point for this user, blind: a second-expert point labelled by someone else first,
    else the first point nobody labelled; None when the sample is done for them."""
    sample_row(session, sample_id)
    ours = (select(AssessmentLabel.point_id).join(AssessmentPoint, AssessmentPoint.id == AssessmentLabel.point_id)
            .where(AssessmentPoint.sample_id == sample_id, AssessmentLabel.state == "active"))  # this sample's only
    first = ours.where(AssessmentLabel.pass_no == 1)
    mine = ours.where(AssessmentLabel.author_id == user_id)
    second_done = ours.where(AssessmentLabel.pass_no == 2)
    base = select(AssessmentPoint).where(AssessmentPoint.sample_id == sample_id).order_by(AssessmentPoint.seq)
    point = session.scalar(base.where(AssessmentPoint.second.is_(True), AssessmentPoint.id.in_(first),
                                      AssessmentPoint.id.not_in(mine), AssessmentPoint.id.not_in(second_done))
                           .limit(1))
    pass_no = 2
    if point is None:
        point = session.scalar(base.where(AssessmentPoint.id.not_in(first)).limit(1))
        pass_no = 1
    if point is None:
        return None
    return {**point_view(session, point, user_id), "pass_no": pass_no}


def label_point(session: Session, sample_id: int, seq: int, user_id: int, *, class_id: int | None,
                cant_tell: bool, comment: str | None, version: int, pass_no: int,
                source: str = "web") -> dict[str, Any]:
    """Record a label made on the point's ``version`` (409 if stale or already labelled in that pass)."""
    sample = sample_row(session, sample_id)
    point = point_row(session, sample_id, seq, lock=True)
    if point.version != version:
        raise stale("point", version, point.version, point_view(session, point, user_id), None)
    if (class_id is None) != bool(cant_tell):
        raise Conflict("give a class, or say you can't tell (not both)")
    labels = _active(session, point.id)
    if any(lab.pass_no == pass_no for lab in labels):
        raise Conflict(f"point {seq} has a label of pass {pass_no} already; undo it first")
    if pass_no == 2:
        firsts = [lab for lab in labels if lab.pass_no == 1]
        if not point.second or not firsts:
            raise Conflict(f"point {seq} is not waiting for a second expert")
        if firsts[0].author_id == user_id:
            raise Conflict("the second label must come from another expert")
    label = AssessmentLabel(point_id=point.id, pass_no=pass_no, class_id=class_id, cant_tell=bool(cant_tell),
                            comment=(comment or None), author_id=user_id, source=source)
    session.add(label)
    point.version += 1
    if pass_no == 1:
        sample.labelled += 1
    sample.version += 1
    session.flush()
    History.record(session, _project_of(session, sample), user_id, "assessment-label", ENTITY, f"{sample_id}/{seq}",
                   after={"label": label.id, "pass_no": pass_no, "class_id": class_id, "cant_tell": cant_tell})
    return {"label": _label_out(label), "point": point_view(session, point, user_id)}


def undo_label(session: Session, sample_id: int, label_id: int, user_id: int, may_undo_others: bool) -> dict[str, Any]:
    """Undo a label (a new history entry); the point is free to label again."""
    sample = sample_row(session, sample_id)
    label = session.get(AssessmentLabel, label_id, with_for_update=True)
    point = session.get(AssessmentPoint, label.point_id) if label is not None else None
    if label is None or point is None or point.sample_id != sample_id:
        raise NotFound(f"no label {label_id} in assessment sample {sample_id}")
    if label.author_id != user_id and not may_undo_others:
        raise Forbidden("only its author or a reviewer can undo a label")
    if label.state != "active":
        raise Conflict(f"label {label_id} was undone already")
    label.state, label.undone_by, label.undone_at = "undone", user_id, utcnow()
    point.version += 1
    if label.pass_no == 1:
        sample.labelled -= 1
    sample.version += 1
    History.record(session, _project_of(session, sample), user_id, "assessment-undo", ENTITY,
                   f"{sample_id}/{point.seq}",
                   before={"label": label.id, "class_id": label.class_id, "cant_tell": label.cant_tell})
    return {"label": _label_out(label), "point": point_view(session, point, user_id)}


def mark_used_for_training(session: Session, sample_id: int, seq: int, user_id: int) -> AssessmentSample:
    """A point turned into a correction: the sample stops counting as an independent assessment."""
    sample = sample_row(session, sample_id)
    point = point_row(session, sample_id, seq, lock=True)
    point.used_for_training = True
    point.version += 1
    if sample.independent:
        sample.independent = False
        sample.dependent_reason = f"point {seq} was used as a correction (training data): draw a new sample"
    sample.version += 1
    History.record(session, _project_of(session, sample), user_id, "assessment-used", ENTITY, f"{sample_id}/{seq}",
                   after={"independent": False})
    return sample


def sample_summary(session: Session, sample: AssessmentSample) -> dict[str, Any]:
    cant = session.scalar(select(func.count()).select_from(AssessmentLabel).join(AssessmentPoint)
                          .where(AssessmentPoint.sample_id == sample.id, AssessmentLabel.state == "active",
                                 AssessmentLabel.pass_no == 1, AssessmentLabel.cant_tell.is_(True))) or 0
    return {"id": sample.id, "city": sample.city, "layer": sample.layer, "map_version": sample.map_version,
            "design": sample.design, "origin": sample.origin, "response": sample.response,
            "independent": sample.independent, "dependent_reason": sample.dependent_reason,
            "created_at": sample.created_at, "points": sample.points_total, "labelled": sample.labelled,
            "cant_tell": int(cant), "second_share": sample.second_share, "version": sample.version}


def sample_report(session: Session, sample_id: int) -> dict[str, Any]:
    """The estimates of a sample from its active labels (issue 16's report.json shape, and more)."""
    sample = sample_row(session, sample_id)
    rows = session.execute(select(AssessmentPoint.id, AssessmentPoint.stratum, AssessmentLabel.pass_no,
                                  AssessmentLabel.class_id, AssessmentLabel.cant_tell, AssessmentLabel.created_at,
                                  AssessmentLabel.source)
                           .join(AssessmentLabel, AssessmentLabel.point_id == AssessmentPoint.id)
                           .where(AssessmentPoint.sample_id == sample_id, AssessmentLabel.state == "active")).all()
    first = {r.id: r for r in rows if r.pass_no == 1}
    second = {r.id: r for r in rows if r.pass_no == 2}
    labels = [(r.stratum, r.class_id) for r in first.values() if not r.cant_tell and r.class_id is not None]
    cant = sum(1 for r in first.values() if r.cant_tell)
    pairs = [(first[p].class_id, s.class_id) for p, s in second.items()
             if p in first and not first[p].cant_tell and not s.cant_tell]
    last = max((r.created_at for r in rows), default=None)
    strata = {int(k): v for k, v in sample.strata.items()}
    return build_report(
        strata, labels, cant_tell=cant, version=sample.map_version,
        sample={"id": sample.id, "city": sample.city, "layer": sample.layer, "points": sample.points_total,
                "labelled": sample.labelled, "origin": sample.origin, "response": sample.response,
                "independent": sample.independent, "dependent_reason": sample.dependent_reason,
                "created_at": sample.created_at.isoformat()},
        design=sample.design, agreement=agreement([a for a, _ in pairs], [b for _, b in pairs]),
        assessed_at=last.isoformat() if isinstance(last, dt.datetime) else None,
        simulated=any(r.source == "reference" for r in first.values()),  # any label from a reference raster
        simulated_labels=sum(1 for r in first.values() if r.source == "reference"))


def samples_of(session: Session, city: str | None, layer: str | None, limit: int = 50) -> list[AssessmentSample]:
    query = select(AssessmentSample).order_by(AssessmentSample.id.desc()).limit(limit)
    if city:
        query = query.where(AssessmentSample.city == city)
    if layer:
        query = query.where(AssessmentSample.layer == layer)
    return list(session.scalars(query))


def latest_for_version(session: Session, city: str, layer: str, version: str) -> AssessmentSample | None:
    """The newest sample of this layer version with labels (independent ones first)."""
    return session.scalar(select(AssessmentSample)
                          .where(AssessmentSample.city == city, AssessmentSample.layer == layer,
                                 AssessmentSample.map_version == version, AssessmentSample.labelled > 0)
                          .order_by(AssessmentSample.independent.desc(), AssessmentSample.id.desc()).limit(1))


def label_from_reference(session: Session, sample_id: int, classes: list[int | None], user_id: int,
                         source: str = "reference") -> int:
    """Label every unlabelled point (in order of ``seq``) with ``classes`` (None: can't tell)."""
    sample = sample_row(session, sample_id)
    points = list(session.scalars(select(AssessmentPoint).where(AssessmentPoint.sample_id == sample_id)
                                  .order_by(AssessmentPoint.seq)))
    done = set(session.scalars(select(AssessmentLabel.point_id).join(AssessmentPoint)
                               .where(AssessmentPoint.sample_id == sample_id, AssessmentLabel.pass_no == 1,
                                      AssessmentLabel.state == "active")))
    added = 0
    for point, value in zip(points, classes, strict=True):
        if point.id in done:
            continue
        session.add(AssessmentLabel(point_id=point.id, pass_no=1, class_id=value, cant_tell=value is None,
                                    author_id=user_id, source=source,
                                    comment="simulated response from a reference raster" if source == "reference"
                                    else None))
        added += 1
    session.execute(update(AssessmentPoint).where(AssessmentPoint.sample_id == sample_id,
                                                  AssessmentPoint.id.not_in(done))
                    .values(version=AssessmentPoint.version + 1))
    sample.labelled += added
    sample.response = source if sample.labelled == added else "mixed"
    sample.version += 1
    History.record(session, _project_of(session, sample), user_id, "assessment-label-all", ENTITY, str(sample_id),
                   after={"labels": added, "source": source})
    return added


def user_name(session: Session, user_id: int | None) -> str | None:
    return session.scalar(select(User.name).where(User.id == user_id)) if user_id is not None else None


def published_figures(report: dict[str, Any]) -> dict[str, Any]:
    """What a STAC item carries of a report: overall, per-class accuracies and areas, the sample."""
    return {"overall_accuracy": report["overall_accuracy"], "users_accuracy": report["users_accuracy"],
            "producers_accuracy": report["producers_accuracy"], "area_m2": report["area_m2"], "n": report["n"],
            "cant_tell": report["cant_tell"], "assessed_at": report.get("assessed_at"),
            "sample": report["sample"]["id"], "independent": report["sample"]["independent"],
            "response": report["sample"]["response"], "simulated": report.get("simulated", False),
            "design": {k: report["design"].get(k) for k in ("method", "seed", "n", "min_per_class", "target_se")},
            "method": "stratified estimators of Olofsson et al. (2014); ci95 = half-width of the 95 % interval"}


def sample_locations(session: Session, sample_id: int) -> list[tuple[float, float]]:
    """The (lon, lat) of a sample's points in order of ``seq`` (NotFound for an unknown sample)."""
    sample_row(session, sample_id)
    return [(lon, lat) for lon, lat in session.execute(
        select(AssessmentPoint.lon, AssessmentPoint.lat).where(AssessmentPoint.sample_id == sample_id)
        .order_by(AssessmentPoint.seq))]
