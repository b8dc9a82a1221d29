"""Review aids: agreement between the two labellings of double groups, and the dashboard."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mcae.platform.annotation import review_schemas
from mcae.platform.annotation.areas import gsd, hectares
from mcae.platform.annotation.counters import tallies
from mcae.platform.annotation.lookups import user_names
from mcae.platform.annotation.models import Decision, DecisionMask, Group, History, Mask, Project, Training
from mcae.platform.annotation.views import class_name, training_out


def agreement(session: Session, project: Project, limit: int = 500) -> review_schemas.AgreementOut:
    """Cohen's kappa between first and second labellings, mask by mask, with the disagreements."""
    names = user_names(session)
    # only masks a second labelling covers can be compared: found from the second-pass decisions
    # (``ix_decisions_pass``), not from every decision of the double groups (a labelled city's
    # double groups hold ~170,000 decided masks before anyone labels them twice: 3-7 s)
    counted = (Decision.project_id == project.id, Decision.state == "active", Decision.review != "rejected",
               Decision.target == "group")
    twice = sorted(set(session.scalars(select(DecisionMask.mask_pk).join(
        Decision, Decision.id == DecisionMask.decision_id).where(*counted, Decision.pass_no == 2))))
    labellings = (select(DecisionMask.mask_pk, Decision.id, Decision.pass_no, Decision.class_id, Decision.author_id)
                  .join(Decision, Decision.id == DecisionMask.decision_id)
                  .join(Mask, Mask.id == DecisionMask.mask_pk).join(Group, Group.id == Mask.group_id)
                  .where(*counted, Group.double.is_(True)))  # the two labellings only
    rows = [row for start in range(0, len(twice), 500)  # by mask (ix_decision_masks_mask), a chunk at a time
            for row in session.execute(labellings.where(DecisionMask.mask_pk.in_(twice[start:start + 500])))]
    latest: dict[tuple[int, int], tuple[int, int, int]] = {}
    for mask_pk, decision_id, pass_no, class_id, author in rows:
        key = (mask_pk, pass_no)
        if key not in latest or decision_id > latest[key][0]:
            latest[key] = (decision_id, class_id, author)
    pairs = [(pk, latest[(pk, 1)], latest[(pk, 2)]) for pk, p in latest if p == 1 and (pk, 2) in latest]
    first = np.array([a[1] for _, a, _ in pairs])
    second = np.array([b[1] for _, _, b in pairs])
    kappa = None
    if len(pairs) >= 2:
        from sklearn.metrics import cohen_kappa_score

        value = cohen_kappa_score(first, second) if len(set(first) | set(second)) > 1 else 1.0
        kappa = None if np.isnan(value) else round(float(value), 4)
    disagreements = []
    differing = [(pk, a, b) for pk, a, b in pairs if a[1] != b[1]]
    masks = {m.id: m for m in session.scalars(select(Mask).where(Mask.id.in_([pk for pk, _, _ in differing[:limit]])))}
    shown_groups = sorted({m.group_id for m in masks.values() if m.group_id is not None})
    keys = dict(session.execute(select(Group.id, Group.key).where(Group.id.in_(shown_groups))).all())  # not the city's
    corrections = dict(session.execute(select(Decision.id, Decision.author_id).where(
        Decision.id.in_([m.decision_id for m in masks.values() if m.decision_id]), Decision.target == "mask")).all())
    for pk, a, b in differing[:limit]:
        m = masks[pk]
        settled = None
        if m.decision_id in corrections and m.decision_id > max(a[0], b[0]):  # a correction made since
            settled = review_schemas.Settled(decision=m.decision_id, class_id=m.class_id or 0,
                                      class_name=class_name(m.class_id) or "Unknown",
                                      by=names.get(corrections[m.decision_id], "?"))
        disagreements.append(review_schemas.Disagreement(
            mask=pk, patch=m.patch, mask_id=m.mask_id, neighbourhood=m.neighbourhood,
            group=keys.get(m.group_id) if m.group_id else None,
            first=_labelling(a, names), second=_labelling(b, names), settled=settled))
    groups = session.scalar(select(func.count(Group.id)).where(Group.project_id == project.id,
                                                               Group.double.is_(True))) or 0
    annotators = sorted({names.get(v[2], "?") for v in latest.values()})
    return review_schemas.AgreementOut(double_groups=groups, compared_masks=len(pairs),
                                agreeing=len(pairs) - len(differing), kappa=kappa, annotators=annotators,
                                disagreements=disagreements)


def _labelling(found: tuple[int, int, int], names: dict[int, str]) -> review_schemas.Labelling:
    decision, class_id, author = found
    return review_schemas.Labelling(decision=decision, class_id=class_id, class_name=class_name(class_id) or "Unknown",
                             author=names.get(author, "?"))


def dashboard(session: Session, project: Project) -> review_schemas.DashboardOut:
    names = user_names(session)
    by_group, by_mask = (tallies(session, project.id, f"author-{t}") for t in ("group", "mask"))
    via = {"group": sum(n for n, _ in by_group.values()), "mask": sum(n for n, _ in by_mask.values())}
    sends = dict(session.execute(select(History.action, func.count(History.id)).where(  # index: entity
        History.project_id == project.id, History.entity == "refinement").group_by(History.action)).all())
    refine_sends = max(0, int(sends.get("send", 0)) - int(sends.get("unsend", 0)))
    gsd_m = gsd(project)
    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"decisions": 0, "group_decisions": 0,
                                                          "mask_decisions": 0, "masks": 0, "undone": 0,
                                                          "accepted": 0, "rejected": 0, "second_pass": 0})
    # one grouped pass over the project's decisions, in the order of ``ix_decisions_dashboard``
    # (an index-only scan, no sort): the actions, the reviews and the bulk actions' time are sums of it
    actions, elapsed, timed = 0, 0.0, 0
    reviews: dict[str, int] = defaultdict(int)
    for author, target, state, review, pass_no, count, elapsed_sum, elapsed_n in session.execute(
            select(Decision.author_id, Decision.target, Decision.state, Decision.review, Decision.pass_no,
                   func.count(), func.sum(Decision.elapsed_s), func.count(Decision.elapsed_s))
            .where(Decision.project_id == project.id)
            .group_by(Decision.author_id, Decision.target, Decision.state, Decision.review, Decision.pass_no)):
        if state == "active" and target == "group" and elapsed_n:
            elapsed, timed = elapsed + float(elapsed_sum or 0.0), timed + int(elapsed_n)
        if state == "active" and pass_no == 1:
            actions += count
            reviews[review] += count
        row = per[author]
        if state == "undone":
            row["undone"] += count
            continue
        if pass_no == 2:
            row["second_pass"] += count
            continue
        row["decisions"] += count
        row[f"{target}_decisions"] += count
        if review in ("accepted", "rejected"):
            row[review] += count
    actions += refine_sends  # a send to refinement is an expert action too (masks labelled: none)
    bulk = elapsed / timed if timed else None
    for author in set(by_group) | set(by_mask):  # masks labelled by each author's decisions (tallies)
        per[author]["masks"] = by_group.get(author, (0, 0))[0] + by_mask.get(author, (0, 0))[0]
    trainings = [training_out(t) for t in session.scalars(select(Training).where(Training.project_id == project.id)
                                                          .order_by(Training.id))]
    labelled = int(via.get("group", 0)) + int(via.get("mask", 0))
    return review_schemas.DashboardOut(
        masks=project.masks, decided=project.decided, decided_by_group=int(via.get("group", 0)),
        decided_by_mask=int(via.get("mask", 0)), actions=actions,
        masks_per_action=round(labelled / actions, 3) if actions else None,
        seconds_per_bulk_action=round(float(bulk), 3) if bulk is not None else None,
        patches=project.patches, checked_patches=project.checked_patches,
        per_annotator=[review_schemas.AnnotatorStats(user=names.get(uid, "?"), **row)
                       for uid, row in sorted(per.items())],
        reviews={k: int(v) for k, v in reviews.items()}, trainings=trainings, refine_sends=refine_sends,
        area_ha=hectares(project.area, gsd_m), decided_ha=hectares(project.decided_area, gsd_m))
