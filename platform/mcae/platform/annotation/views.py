"""Rows as clients see them, the one place a row becomes a schema (``*_out``): projects, neighbourhoods,
groups with the engine's summary line, masks, decisions, patches, rejections, history."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Row

from mcae.inference.classes import MCAE
from mcae.inference.group_line import describe_group
from mcae.platform.annotation import review_schemas, schemas
from mcae.platform.annotation.areas import gsd, hectares, share
from mcae.platform.annotation.models import (
    Decision,
    Group,
    History,
    Mask,
    Neighbourhood,
    Patch,
    Project,
    Training,
    utcnow,
)


def class_name(class_id: int | None) -> str | None:
    if class_id is None:
        return None
    return "Unknown" if class_id == 0 else MCAE.name_of(class_id)


def mix_percent(weights: Sequence[float] | None, total: float | None = None) -> dict[str, float]:
    """A class mix in percent, largest first, from its weights per class (the engine's ``class_mix``).

    Plain Python on a dozen numbers (numpy's call overhead per group was a third of the groups
    route's time), but the total as numpy sums it (pairwise: a plain sum differs in the last bit,
    and a share on a .xx5 then rounds the other way): ``total`` from ``mix_totals`` for many."""
    w = [float(v) for v in weights] if weights else []
    if total is None:
        total = float(np.sum(w)) if w else 0.0
    if not w or total == 0:
        return {}
    pct = [100 * v / total for v in w]
    order = sorted(range(len(pct)), key=lambda i: -pct[i])  # stable: ties keep the class order
    return {MCAE.get(i + 1).name: round(pct[i], 2) for i in order if pct[i] >= 0.01}


def mix_totals(mixes: Sequence[Sequence[float] | None]) -> list[float | None]:
    """The totals of many class mixes as ``mix_percent`` sums one, in one numpy call for those of
    the usual length (a row sum is the same pairwise sum); None for the others (summed one by one)."""
    lengths = [len(m) if m else 0 for m in mixes]
    usual = max(set(lengths), key=lengths.count) if lengths else 0
    out: list[float | None] = [None] * len(mixes)
    rows = [i for i, n in enumerate(lengths) if n == usual and n]
    if rows:
        sums = np.asarray([mixes[i] for i in rows], np.float64).sum(axis=1).tolist()
        for i, total in zip(rows, sums, strict=True):
            out[i] = total
    return out


def group_out(group: Group | Row[Any], index: int, of: int, model_version: str | None, lease_names: dict[int, str], *,
              gsd_m: float = 0.0, project_area: int = 0, mix_total: float | None = None,
              rejections: list[schemas.RejectionOut] | None = None) -> schemas.GroupOut:
    """A group as the tools see it, from its counters (masks, decided, refinement, areas in
    pixels, the class mix's weights; ``gsd_m`` metres a pixel, ``project_area`` the project's pixels,
    ``mix_total`` the mix's total from ``mix_totals``)."""
    mix = mix_percent(group.mix, mix_total)
    decided, refine = group.decided, group.refine
    nan = float("nan")
    summary = describe_group({
        "index": index, "of": of, "histogram": mix,
        "score_min": nan if group.score_min is None else group.score_min,
        "score_max": nan if group.score_max is None else group.score_max})
    lease = None
    if group.lease_user_id is not None and group.lease_until is not None and aware(group.lease_until) > utcnow():
        lease = schemas.LeaseOut(user=lease_names.get(group.lease_user_id), until=group.lease_until)
    return schemas.GroupOut(
        id=group.id, neighbourhood=group.neighbourhood, key=group.key, cluster=group.cluster,
        pred_class=group.pred_class, pred_name=class_name(group.pred_class) or "Unknown",
        size=group.masks, decided=decided, open=group.open_masks, refine=refine,
        score_min=_finite(group.score_min), score_max=_finite(group.score_max), histogram=mix,
        index=index, of=of, summary=summary, double=group.double, model_version=model_version,
        version=group.version, lease=lease, area_ha=hectares(group.area or 0, gsd_m),
        decided_ha=hectares(group.decided_area or 0, gsd_m), open_ha=hectares(group.open_area or 0, gsd_m),
        share=share(group.area or 0, project_area), gain_ha=hectares(group.gain or 0.0, gsd_m),
        doubt=doubt_of(mix), rejections=rejections or [])


def doubt_of(mix: dict[str, float]) -> float:
    """The share of a group outside its leading class in its class mix (percent): 0 for one class."""
    return round(1.0 - max(mix.values()) / 100.0, 4) if mix else 0.0


def mask_out(project_id: str, mask: Mask, group_key: str | None, via: str | None,
             gsd_m: float = 0.0) -> schemas.MaskOut:
    return schemas.MaskOut(
        id=mask.id, patch=mask.patch, mask_id=mask.mask_id, neighbourhood=mask.neighbourhood,
        group=group_key, area=mask.area, bbox=[int(v) for v in mask.bbox], pred_class=mask.pred_class,
        confidence=_finite(mask.pred_score), class_id=mask.class_id, class_name=class_name(mask.class_id),
        fine_class=mask.fine_class, decision_id=mask.decision_id, via=via,  # type: ignore[arg-type]
        refine=mask.refine, version=mask.version,
        thumbnail=f"/api/projects/{project_id}/patches/{mask.patch}/masks/{mask.mask_id}/thumbnail.png",
        area_m2=round(mask.area * gsd_m * gsd_m, 1) if gsd_m else None)


def decision_out(d: Decision, users: dict[int, str], n_masks: int) -> schemas.DecisionOut:
    return schemas.DecisionOut(
        id=d.id, target=d.target, class_id=d.class_id, class_name=class_name(d.class_id) or "",  # type: ignore[arg-type]
        fine_class=d.fine_class, neighbourhood=d.neighbourhood, group=d.group_key, patch=d.patch,
        mask=d.mask_id, masks=n_masks, model_version=d.model_version, author=users.get(d.author_id, "?"),
        created_at=d.created_at, source=d.source, second_pass=d.pass_no == 2, elapsed_s=d.elapsed_s,
        state=d.state, undone_by=users.get(d.undone_by) if d.undone_by else None,  # type: ignore[arg-type]
        review=d.review, reviewer=users.get(d.reviewer_id) if d.reviewer_id else None,  # type: ignore[arg-type]
        review_comment=d.review_comment, restored_by=users.get(d.restored_by) if d.restored_by else None)


def patch_out(patch: Patch, users: dict[int, str], bounds: list[float] | None = None, *,
              gsd_m: float = 0.0) -> schemas.PatchOut:
    """A patch with its counters (``gsd_m``: metres a pixel)."""
    return schemas.PatchOut(
        name=patch.name, neighbourhood=patch.neighbourhood, row=patch.row, col=patch.col,
        checked=patch.checked, checked_by=users.get(patch.checked_by) if patch.checked_by else None,
        checked_at=patch.checked_at, masks=patch.masks, decided=patch.decided, refine=patch.refine,
        version=patch.version, bounds=bounds, area_ha=hectares(patch.area, gsd_m),
        decided_ha=hectares(patch.decided_area, gsd_m))


def project_out(project: Project) -> schemas.ProjectOut:
    """A project with its settings and counters."""
    gsd_m = gsd(project)
    return schemas.ProjectOut(
        id=project.id, name=project.name, city=project.city, layer=project.layer, scheme=project.scheme,
        classes=[schemas.ClassOut(id=0, name="Unknown", color="#000000")] +
                [schemas.ClassOut(id=c.id, name=c.name, color=c.hex) for c in MCAE],
        fine_classes=project.fine_classes or {}, grid=project.grid, model_version=project.model_version,
        double_share=project.double_share, publish_policy=project.publish_policy,  # type: ignore[arg-type]
        version=project.version, masks=project.masks, decided=project.decided,
        patches=project.patches, checked_patches=project.checked_patches, area_ha=hectares(project.area, gsd_m),
        decided_ha=hectares(project.decided_area, gsd_m), gsd=gsd_m or None, min_group_size=project.min_group_size)


def neighbourhood_out(hood: Neighbourhood, gsd_m: float, project_area: int) -> schemas.NeighbourhoodOut:
    """A neighbourhood with its counters (``project_area``: the project's pixels, for its share)."""
    return schemas.NeighbourhoodOut(
        name=hood.name, patches=list(hood.patches), groups=hood.groups, masks=hood.masks, decided=hood.decided,
        progress=round(hood.decided / hood.masks, 4) if hood.masks else 1.0, area_ha=hectares(hood.area, gsd_m),
        decided_ha=hectares(hood.decided_area, gsd_m), share=share(hood.area, project_area),
        bounds=list(hood.bounds) if hood.bounds else None)


def rejection_out(d: Decision, users: dict[int, str], n_masks: int) -> schemas.RejectionOut:
    return schemas.RejectionOut(decision=d.id, author=users.get(d.author_id, "?"),
                                reviewer=users.get(d.reviewer_id) if d.reviewer_id else None,
                                comment=d.review_comment, reviewed_at=d.reviewed_at,
                                class_name=class_name(d.class_id) or "Unknown", masks=n_masks)


def history_out(h: History, users: dict[int, str]) -> schemas.HistoryOut:
    return schemas.HistoryOut(id=h.id, at=h.at, user=users.get(h.user_id) if h.user_id else None,
                              action=h.action, entity=h.entity, entity_id=h.entity_id, before=h.before,
                              after=h.after)


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def training_out(t: Training) -> review_schemas.TrainingOut:
    """A retraining with its hold-out report (what older ones recorded, said as well as it can be)."""
    return review_schemas.TrainingOut(at=t.at, model_version=t.model_version, masks=t.masks, decisions=t.decisions,
                                      holdout_accuracy=t.holdout_accuracy or {}, map_version=t.map_version,
                                      holdout=review_schemas.HoldoutOut.from_report(t.holdout, t.holdout_accuracy))
