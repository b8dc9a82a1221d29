"""Reads for the expert tools: projects, neighbourhoods with progress, groups with the engine's
summary line, masks sorted by confidence, patches, decisions, history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Row, Select, String, cast, func, select
from sqlalchemy.orm import Session

from mcae.platform.annotation import schemas
from mcae.platform.annotation.areas import gsd
from mcae.platform.annotation.capped import capped_count
from mcae.platform.annotation.lookups import user_names
from mcae.platform.annotation.models import Decision, DecisionMask, Group, History, Mask, Neighbourhood, Patch, Project
from mcae.platform.annotation.views import (
    aware,
    class_name,
    decision_out,
    group_out,
    history_out,
    mask_out,
    mix_totals,
    neighbourhood_out,
    patch_out,
    project_out,
    rejection_out,
)


def projects(session: Session) -> list[schemas.ProjectOut]:
    """Every project, by id, from its stored counters."""
    return [project_out(p) for p in session.scalars(select(Project).order_by(Project.id))]


def neighbourhoods(session: Session, project: Project, page: int, per_page: int,
                   q: str | None = None) -> schemas.NeighbourhoodPage:
    """A page of the project's neighbourhoods (row, column order), ``q`` a name search: their
    stored counters, no masks read."""
    query = select(Neighbourhood).where(Neighbourhood.project_id == project.id, Neighbourhood.masks > 0)
    if q and q.strip():
        query = query.where(func.lower(Neighbourhood.name).contains(q.strip().lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Neighbourhood.seq).offset((page - 1) * per_page).limit(per_page))
    gsd_m = gsd(project)
    return schemas.NeighbourhoodPage(total=total, page=page, per_page=per_page,
                                     items=[neighbourhood_out(h, gsd_m, project.area) for h in rows])


GroupSort = Literal["cluster", "-area", "-gain", "-open-area", "-size", "-doubt", "class"]


def groups_of(session: Session, project: Project, neighbourhood: str, sort: GroupSort = "cluster",
              min_area_ha: float | None = None, *, q: str | None = None,
              class_id: int | None = None) -> list[schemas.GroupOut]:
    """The groups of a neighbourhood, in cluster order, by area, map gain, size or doubt (largest
    first) or by predicted class (then largest first); ``min_area_ha`` keeps those of at least that
    area, ``q`` those whose key or predicted class name contains it, ``class_id`` those of that
    predicted class. ``index``/``of`` stay the cluster order's."""
    groups = session.execute(select(*Group.__table__.c).where(Group.project_id == project.id,  # rows, not ORM objects
                                                              Group.neighbourhood == neighbourhood)
                             .order_by(Group.cluster, Group.pred_class)).all()
    if not groups:
        from mcae.tiles.ids import UnknownId

        raise UnknownId("neighbourhood", neighbourhood)
    names = user_names(session)  # the groups' counters and class mixes: no masks read
    gsd_m, total = gsd(project), project.area
    totals = mix_totals([g.mix for g in groups])
    out = [group_out(g, i + 1, len(groups), project.model_version, names, gsd_m=gsd_m, project_area=total,
                     mix_total=mix_total) for i, (g, mix_total) in enumerate(zip(groups, totals, strict=True))]
    if min_area_ha is not None:
        out = [g for g in out if g.area_ha >= min_area_ha]
    if class_id is not None:
        out = [g for g in out if g.pred_class == class_id]
    if q:
        needle = q.strip().lower()
        out = [g for g in out if needle in g.key.lower() or needle in g.pred_name.lower()]
    if sort == "class":
        out.sort(key=lambda g: (g.pred_class, -g.size, g.index))
    elif sort != "cluster":
        field = {"-area": "area_ha", "-gain": "gain_ha", "-open-area": "open_ha", "-size": "size",
                 "-doubt": "doubt"}[sort]
        out.sort(key=lambda g: (-getattr(g, field), g.index))
    return out


def read_group(session: Session, project: Project, group: Group,
               names: dict[int, str] | None = None) -> schemas.GroupOut:
    siblings = list(session.scalars(select(Group.id).where(Group.project_id == project.id,
                                                           Group.neighbourhood == group.neighbourhood)
                                    .order_by(Group.cluster, Group.pred_class)))
    names = names if names is not None else user_names(session)
    return group_out(group, siblings.index(group.id) + 1, len(siblings), project.model_version,
                     names, gsd_m=gsd(project), project_area=project.area,
                     rejections=rejections_of(session, group, names))


def rejections_of(session: Session, group: Group, names: dict[int, str]) -> list[schemas.RejectionOut]:
    """Rejected decisions (in force otherwise) on masks of this group, newest first: what the
    reviewer said, for the author who meets the masks again (indexed: the group's masks)."""
    rows = session.execute(
        select(Decision, func.count(DecisionMask.mask_pk)).join(DecisionMask, DecisionMask.decision_id == Decision.id)
        .join(Mask, Mask.id == DecisionMask.mask_pk)
        .where(Mask.group_id == group.id, Decision.review == "rejected", Decision.state == "active")
        .group_by(Decision.id).order_by(Decision.id.desc()).limit(20)).all()
    return [rejection_out(d, names, int(n)) for d, n in rows]


SortKey = Literal["confidence", "-confidence", "area", "-area", "id"]


def _via(session: Session, masks: Sequence[Mask | Row[Any]]) -> dict[int, str]:
    ids = {m.decision_id for m in masks if m.decision_id}
    if not ids:
        return {}
    return dict(session.execute(select(Decision.id, Decision.target).where(Decision.id.in_(ids))).all())


def masks_of_group(session: Session, project: Project, group: Group, sort: SortKey, page: int,
                   per_page: int, state: Literal["all", "open", "decided", "refine"]) -> schemas.MaskPage:
    query = select(Mask).where(Mask.group_id == group.id, Mask.present.is_(True))
    query = _state_filter(query, state)
    return _mask_page(session, project, query, sort, page, per_page, {group.id: group.key})


def _state_filter(query: Select[Any], state: str) -> Select[Any]:
    if state == "open":
        return query.where(Mask.class_id.is_(None), Mask.refine.is_(False))
    if state == "decided":
        return query.where(Mask.class_id.is_not(None))
    if state == "refine":
        return query.where(Mask.class_id.is_(None), Mask.refine.is_(True))
    return query


def _mask_page(session: Session, project: Project, query: Select[Any], sort: SortKey, page: int,
               per_page: int, keys: dict[int, str] | None = None) -> schemas.MaskPage:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = {"confidence": (Mask.pred_score.is_(None).desc(), Mask.pred_score.asc(), Mask.id),
             "-confidence": (Mask.pred_score.desc(), Mask.id), "area": (Mask.area.asc(), Mask.id),
             "-area": (Mask.area.desc(), Mask.id), "id": (Mask.patch, Mask.mask_id)}[sort]
    masks = list(session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    if keys is None:
        group_ids = {m.group_id for m in masks if m.group_id}
        keys = dict(session.execute(select(Group.id, Group.key).where(Group.id.in_(group_ids))).all())
    via = _via(session, masks)
    gsd_m = gsd(project)
    items = [mask_out(project.id, m, keys.get(m.group_id) if m.group_id else None,
                      via.get(m.decision_id) if m.decision_id else None, gsd_m) for m in masks]
    return schemas.MaskPage(total=total, page=page, per_page=per_page, items=items)


def read_mask(session: Session, project: Project, mask: Mask) -> schemas.MaskOut:
    key = session.scalar(select(Group.key).where(Group.id == mask.group_id)) if mask.group_id else None
    via = _via(session, [mask])
    return mask_out(project.id, mask, key, via.get(mask.decision_id) if mask.decision_id else None, gsd(project))


def patches(session: Session, project: Project, page: int, per_page: int,
            state: Literal["all", "refine", "unchecked", "checked"], q: str | None = None) -> schemas.PatchPage:
    """A page of patches (row, column order): all, those with masks waiting for refinement, or
    (un)checked ones; ``q`` a name search. Their stored counters, no masks read."""
    query = select(Patch).where(Patch.project_id == project.id)
    if q and q.strip():
        query = query.where(func.lower(Patch.name).contains(q.strip().lower(), autoescape=True))
    if state == "refine":
        query = query.where(Patch.refine > 0)
    elif state in ("unchecked", "checked"):
        query = query.where(Patch.checked.is_(state == "checked"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Patch.row, Patch.col).offset((page - 1) * per_page).limit(per_page))
    names = user_names(session)
    gsd_m = gsd(project)
    return schemas.PatchPage(total=total, page=page, per_page=per_page,
                             items=[patch_out(p, names, gsd_m=gsd_m) for p in rows])


def read_patch(session: Session, patch: Patch, bounds: list[float] | None = None) -> schemas.PatchOut:
    session.refresh(patch)  # its counters as this transaction's writes left them
    project = session.get(Project, patch.project_id)
    return patch_out(patch, user_names(session), bounds, gsd_m=gsd(project) if project is not None else 0.0)


def patch_detail(session: Session, project: Project, patch: Patch, bounds: list[float] | None) -> schemas.PatchDetail:
    """A patch with every mask (thousands at city size), compact: one indexed read of the columns
    the refinement tool uses, as plain tuples (no ORM object per mask, no probabilities; the boxes
    as their JSON text, parsed in one go), validated once as a whole; and one read each of their
    groups' keys and their decisions' targets."""
    base = read_patch(session, patch, bounds)
    rows = session.execute(
        select(Mask.id, Mask.mask_id, Mask.group_id, cast(Mask.bbox, String), Mask.pred_class, Mask.class_id,
               Mask.fine_class, Mask.decision_id, Mask.refine, Mask.version)
        .where(Mask.project_id == project.id, Mask.patch == patch.name, Mask.present.is_(True))
        .order_by(Mask.mask_id)).tuples().all()
    boxes = json.loads("[" + ",".join(r[3] for r in rows) + "]")
    group_ids = {r[2] for r in rows if r[2]}
    keys: dict[int | None, str] = dict(session.execute(select(Group.id, Group.key).where(Group.id.in_(group_ids)))
                                       .tuples().all()) if group_ids else {}
    decision_ids = {r[7] for r in rows if r[7]}
    via: dict[int | None, str] = dict(session.execute(select(Decision.id, Decision.target)
                                                      .where(Decision.id.in_(decision_ids))).tuples().all()) \
        if decision_ids else {}
    masks = [{"id": pk, "mask_id": mask_id, "group": keys.get(group_id), "bbox": box, "pred_class": pred,
              "class_id": class_id, "class_name": class_name(class_id), "fine_class": fine, "via": via.get(decision),
              "refine": refine, "version": version}
             for (pk, mask_id, group_id, _, pred, class_id, fine, decision, refine, version), box
             in zip(rows, boxes, strict=True)]
    return schemas.PatchDetail(**base.model_dump(), mask_list=masks)  # type: ignore[arg-type]


def decisions(session: Session, project: Project, *, author: str | None, class_id: int | None,
              since: dt.datetime | None, until: dt.datetime | None, state: str | None, review: str | None,
              target: str | None, group: tuple[str, str] | None, exclude_author: str | None,
              second_pass: bool | None, page: int, per_page: int,
              before: int | None = None) -> schemas.DecisionPage:
    names = user_names(session)
    ids = {v: k for k, v in names.items()}
    query = select(Decision).where(Decision.project_id == project.id)
    if author is not None:
        query = query.where(Decision.author_id == ids.get(author, -1))
    if exclude_author is not None and exclude_author in ids:
        query = query.where(Decision.author_id != ids[exclude_author])
    if class_id is not None:
        query = query.where(Decision.class_id == class_id)
    if since is not None:
        query = query.where(Decision.created_at >= aware(since))
    if until is not None:
        query = query.where(Decision.created_at <= aware(until))
    if state is not None:
        query = query.where(Decision.state == state)
    if review is not None:
        query = query.where(Decision.review == review)
    if target is not None:
        query = query.where(Decision.target == target)
    if second_pass is not None:
        query = query.where(Decision.pass_no == (2 if second_pass else 1))
    if group is not None:
        query = query.where(Decision.neighbourhood == group[0], Decision.group_key == group[1])
    total, capped = capped_count(session, query)  # "of 10,000+": a labelled city's filters match ~900,000
    if before is not None:  # keyset: the index (project_id, id) finds the page, no OFFSET over the rows before
        query = query.where(Decision.id < before)
    rows = list(session.scalars(query.order_by(Decision.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)))
    rows, more = rows[:per_page], len(rows) > per_page
    sizes = dict(session.execute(select(DecisionMask.decision_id, func.count()).where(
        DecisionMask.decision_id.in_([d.id for d in rows])).group_by(DecisionMask.decision_id)).all())
    return schemas.DecisionPage(total=total, total_capped=capped, page=page, per_page=per_page,
                                items=[decision_out(d, names, sizes.get(d.id, 0)) for d in rows],
                                next_before=rows[-1].id if more and rows else None)


def decision_detail(session: Session, decision: Decision) -> schemas.DecisionDetail:
    rows = session.execute(
        select(Mask.id, Mask.patch, Mask.mask_id, DecisionMask.before_class, DecisionMask.before_fine,
               Mask.class_id, Mask.decision_id)
        .join(DecisionMask, DecisionMask.mask_pk == Mask.id).where(DecisionMask.decision_id == decision.id)
        .order_by(Mask.patch, Mask.mask_id)).all()
    masks = [schemas.DecisionMaskOut(id=r.id, patch=r.patch, mask_id=r.mask_id, before_class=r.before_class,
                                     before_fine_class=r.before_fine, class_id=r.class_id,
                                     from_this_decision=r.decision_id == decision.id) for r in rows]
    base = decision_out(decision, user_names(session), len(rows))
    return schemas.DecisionDetail(**base.model_dump(), mask_list=masks)


def history(session: Session, project: Project, *, entity: str | None, entity_id: str | None,
            user: str | None, page: int, per_page: int, before: int | None = None) -> schemas.HistoryPage:
    names = user_names(session)
    query = select(History).where(History.project_id == project.id)
    if entity is not None:
        query = query.where(History.entity == entity)
    if entity_id is not None:
        query = query.where(History.entity_id == entity_id)
    if user is not None:
        query = query.where(History.user_id == {v: k for k, v in names.items()}.get(user, -1))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:  # keyset: the index (project_id, id) finds the page, no OFFSET over the rows before
        query = query.where(History.id < before)
    found = list(session.scalars(query.order_by(History.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)))
    rows, more = found[:per_page], len(found) > per_page
    items = [history_out(h, names) for h in rows]
    return schemas.HistoryPage(total=total, page=page, per_page=per_page, items=items,
                               next_before=rows[-1].id if more and rows else None)
