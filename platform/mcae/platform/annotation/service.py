"""The rules of annotation writes: versions and 409s, cluster decisions as objects, undo,
corrections, refinement, "fully checked" patches, and loading the engine's decisions.

Every function here runs inside the caller's transaction (``Database.session()``), so a
write is all or nothing, and is acknowledged only after that transaction committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from mcae.inference.errors import InputError
from mcae.platform.annotation import schemas
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.counters import recount
from mcae.platform.annotation.lookups import (
    decision_row,
    group_row,
    project_row,
    stale,
    user_names,
    wanted_version,
)
from mcae.platform.annotation.mask_classes import (
    recompute,
    refresh_totals,
    send_small_groups,
)
from mcae.platform.annotation.models import Base, Decision, DecisionMask, Group, History, Mask, Patch, Project, utcnow
from mcae.platform.annotation.queries import read_group
from mcae.platform.annotation.views import aware, decision_out
from mcae.platform.errors import Conflict, Forbidden

ELAPSED_CAP_S = 600.0  # longer gaps are breaks, not the time an action took


def last_change(session: Session, project_id: str, entity: str, entity_id: str) -> dict[str, Any] | None:
    row = session.execute(
        select(History.at, History.action, History.user_id).where(
            History.project_id == project_id, History.entity == entity, History.entity_id == entity_id)
        .order_by(History.id.desc()).limit(1)).first()
    if row is None:
        return None
    return {"user": user_names(session).get(row.user_id) if row.user_id else None,
            "at": aware(row.at).isoformat(timespec="seconds"), "action": row.action}


def claim(session: Session, model: type[Group] | type[Patch], row_id: int, version: int) -> bool:
    """Bump a row's version if it still is ``version`` (atomic on SQLite and PostgreSQL)."""
    result = session.execute(update(model).where(model.id == row_id, model.version == version)
                             .values(version=model.version + 1).execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def check_fine(project: Project, class_id: int, fine: str | None) -> str | None:
    """The fine class of a decision, checked against the project's list for its coarse class
    (every path: group decisions, corrections, Load); None for none, "unknown" or Unknown."""
    fine = fine.strip() if fine is not None else None
    if not fine or fine.lower() == "unknown" or class_id == 0:  # Unknown takes a label back: no fine class
        return None
    allowed = project.fine_classes.get(schemas.class_name_of(class_id), [])
    if allowed and fine not in allowed:
        raise InputError(f"fine class {fine[:64]!r} is not one of {schemas.class_name_of(class_id)}'s: {allowed}")
    if len(fine) > 64:
        raise InputError("a fine class is at most 64 characters")
    return fine



def action_seconds(session: Session, group: Group | None, user: CurrentUser, now: dt.datetime) -> float | None:
    """Seconds the action took, measured here: since the group was handed out or the last save."""
    start = None
    if group is not None and group.lease_user_id == user.id and group.lease_started is not None:
        start = aware(group.lease_started)
    else:
        last = session.scalar(select(func.max(Decision.created_at)).where(Decision.author_id == user.id))
        start = aware(last) if last is not None else None
    if start is None:
        return None
    seconds = (now - start).total_seconds()
    return round(seconds, 3) if 0 <= seconds <= ELAPSED_CAP_S else None


def new_decision(session: Session, project: Project, user_id: int, masks: Sequence[Any], **fields: Any) -> Decision:
    """A decision and its masks (Mask objects or rows with ``id``, ``class_id``, ``fine_class`` and
    ``decision_id``: what each mask was before)."""
    decision = Decision(project_id=project.id, author_id=user_id, **fields)
    session.add(decision)
    session.flush()
    rows = [{"decision_id": decision.id, "mask_pk": m.id, "before_class": m.class_id, "before_fine": m.fine_class,
             "before_decision": m.decision_id} for m in masks]
    if rows:  # the table's executemany: compiled once and cached (a multi-row VALUES of a group's
        # hundreds of masks was compiled afresh each time: 70 ms for 300 masks)
        session.execute(insert(Base.metadata.tables["decision_masks"]), rows)
    return decision


def decide_group(session: Session, project_id: str, user: CurrentUser, neighbourhood: str, key: str,
                 body: schemas.GroupDecisionIn, if_match: str | None) -> schemas.SaveOut:
    """One class for a set of a group's masks (all by default): one decision, one transaction.

    Reads the group row once (the claim's UPDATE ... RETURNING, or a plain read for a second
    labelling) and the users once."""
    project = project_row(session, project_id)
    class_id = class_of(body.class_id)
    fine = check_fine(project, class_id, body.fine_class)
    now = utcnow()
    model_version = body.model_version or project.model_version
    names = user_names(session)
    if not body.second_pass:
        version = wanted_version(body.version, if_match, "group")
        group = _claim_group(session, project, neighbourhood, key, version)  # its lock, held to the commit
    else:
        group = group_row(session, project_id, neighbourhood, key)
    # the members' ids and states as rows (no ORM object, no probabilities decoded: a city's
    # groups hold hundreds of masks), read under the group's lock
    members = list(session.execute(select(Mask.id, Mask.class_id, Mask.fine_class, Mask.decision_id)
                                   .where(Mask.group_id == group.id, Mask.present.is_(True)).order_by(Mask.id)))
    selection = pick(members, body.masks, f"group {neighbourhood}/{key}")
    elapsed = action_seconds(session, group, user, now)
    if body.second_pass:
        decision = _second_pass(session, project, group, user, selection, class_id, fine, model_version, elapsed)
        return schemas.SaveOut(decisions=[decision_out(decision, names, len(selection))], masks_changed=0)
    decision = new_decision(session, project, user.id, selection, target="group", class_id=class_id,
                             fine_class=fine, neighbourhood=neighbourhood, group_key=key,
                             model_version=model_version, elapsed_s=elapsed, created_at=now)
    changed = recompute(session, [m.id for m in selection], bumped={group.id}, locked={group.id})  # claimed
    if group.lease_user_id == user.id:
        group.lease_started = now
    after = {"decision": decision.id, "class": class_id, "fine_class": fine, "masks": len(selection),
             "changed": [[pk, a, b] for pk, a, b in changed]}
    History.record(session, project_id, user.id, "decide", "group", f"{neighbourhood}/{key}",
           before={"version": version}, after=after)
    History.record(session, project_id, user.id, "create", "decision", str(decision.id), after=after)
    session.flush()  # the group's row as RETURNING gave it, and no other write of this one changes it
    return schemas.SaveOut(decisions=[decision_out(decision, names, len(selection))], masks_changed=len(changed),
                           group=read_group(session, project, group, names))


def _claim_group(session: Session, project: Project, neighbourhood: str, key: str, version: int) -> Group:
    """Bump the group's version if it still is ``version``: the row as it is now, locked (one read);
    404 for no such group, 409 with its current state for another version."""
    claimed = session.scalars(
        update(Group).where(Group.project_id == project.id, Group.neighbourhood == neighbourhood, Group.key == key,
                            Group.version == version)
        .values(version=Group.version + 1).returning(Group),
        execution_options={"populate_existing": True, "synchronize_session": False}).first()
    if claimed is not None:
        return claimed
    group = group_row(session, project.id, neighbourhood, key)
    raise stale(f"group {neighbourhood}/{key}", version, group.version, group_state(session, project, group),
                last_change(session, project.id, "group", f"{neighbourhood}/{key}"))


def _second_pass(session: Session, project: Project, group: Group, user: CurrentUser, selection: Sequence[Any],
                 class_id: int, fine: str | None, model_version: str | None, elapsed: float | None) -> Decision:
    """The independent second labelling of a double group: recorded, compared, never applied."""
    if not group.double:
        raise InputError(f"group {group.neighbourhood}/{group.key} is not one of the groups labelled twice")
    first_authors = set(session.scalars(
        select(Decision.author_id).join(DecisionMask, DecisionMask.decision_id == Decision.id)
        .where(DecisionMask.mask_pk.in_([m.id for m in selection]), Decision.pass_no == 1,
               Decision.state == "active")))
    if user.id in first_authors:
        raise Forbidden("the second labelling of a group must be by another annotator than the first")
    decision = new_decision(session, project, user.id, selection, target="group", class_id=class_id,
                             fine_class=fine, neighbourhood=group.neighbourhood, group_key=group.key,
                             model_version=model_version, elapsed_s=elapsed, pass_no=2)
    History.record(session, project.id, user.id, "second-pass", "decision", str(decision.id),
           after={"class": class_id, "masks": len(selection), "group": f"{group.neighbourhood}/{group.key}"})
    return decision


def undo(session: Session, project_id: str, user: CurrentUser, decision_id: int) -> schemas.SaveOut:
    """Take a decision back as a whole: its masks return to what the other decisions say."""
    decision = decision_row(session, project_id, decision_id)
    if decision.author_id != user.id and not user.has("reviewer"):
        raise Forbidden("only its author or a reviewer can undo a decision")
    result = session.execute(update(Decision).where(Decision.id == decision_id, Decision.state == "active")
                             .values(state="undone", undone_by=user.id, undone_at=utcnow())
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"decision {decision_id} was undone already", details={"decision": decision_id})
    session.refresh(decision)
    masks = list(session.scalars(select(DecisionMask.mask_pk).where(DecisionMask.decision_id == decision_id)))
    changed = recompute(session, masks) if decision.pass_no == 1 else []
    History.record(session, project_id, user.id, "undo", "decision", str(decision_id), before={"state": "active"},
           after={"state": "undone", "changed": [[pk, a, b] for pk, a, b in changed]})
    if decision.target == "group":
        History.record(session, project_id, user.id, "undo", "group", f"{decision.neighbourhood}/{decision.group_key}",
               after={"decision": decision_id, "changed": len(changed)})
    session.flush()
    group = None  # the group's new state, for a tool that shows it (None if re-clustering removed it)
    if decision.target == "group" and decision.neighbourhood and decision.group_key:
        found = session.scalar(select(Group).where(Group.project_id == project_id,
                                                   Group.neighbourhood == decision.neighbourhood,
                                                   Group.key == decision.group_key)
                               .execution_options(populate_existing=True))
        group = read_group(session, project_row(session, project_id), found) if found is not None else None
    return schemas.SaveOut(decisions=[decision_out(decision, user_names(session), len(masks))],
                           masks_changed=len(changed), group=group)


def review(session: Session, project_id: str, user: CurrentUser, decision_id: int,
           body: schemas.ReviewIn) -> schemas.DecisionOut:
    """Accept or reject a decision; a rejected one stops counting and goes back to its author."""
    decision = decision_row(session, project_id, decision_id)
    if decision.author_id == user.id and not user.has("admin"):
        raise Forbidden("a reviewer does not review their own decisions")
    if decision.state != "active":
        raise Conflict(f"decision {decision_id} was undone; there is nothing to review")
    before = {"review": decision.review, "comment": decision.review_comment}
    verdict = "accepted" if body.verdict == "accept" else "rejected"
    was = decision.review
    decision.review, decision.review_comment = verdict, body.comment
    decision.reviewer_id, decision.reviewed_at = user.id, utcnow()
    session.flush()
    masks = list(session.scalars(select(DecisionMask.mask_pk).where(DecisionMask.decision_id == decision_id)))
    changed = recompute(session, masks) if decision.pass_no == 1 and (was == "rejected") != (verdict == "rejected") \
        else []
    History.record(session, project_id, user.id, "review", "decision", str(decision_id), before=before,
           after={"review": verdict, "comment": body.comment, "changed": len(changed)})
    return decision_out(decision, user_names(session), len(masks))


def edit_project(session: Session, project_id: str, user: CurrentUser, body: schemas.ProjectPatch,
                 if_match: str | None) -> Project:
    project = project_row(session, project_id)
    version = wanted_version(body.version, if_match, "project")
    changes = body.model_dump(exclude={"version"}, exclude_none=True)
    before = {k: getattr(project, k) for k in changes}
    result = session.execute(update(Project).where(Project.id == project_id, Project.version == version)
                             .values(version=Project.version + 1, **changes)
                             .execution_options(synchronize_session=False))
    session.refresh(project)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise stale(f"project {project_id}", version, project.version, {"version": project.version},
                    last_change(session, project_id, "project", project_id))
    if "min_group_size" in changes and changes["min_group_size"] != before["min_group_size"]:
        refresh_totals(session, send_small_groups(session, project_id))  # (a larger group is not taken back)
        recount(session, project_id)  # an admin's setting: the project's counters from its masks, once
        session.refresh(project)
    History.record(session, project_id, user.id, "edit", "project", project_id, before=before, after=changes)
    return project


# -- helpers ---------------------------------------------------------------------------------

def class_of(value: schemas.ClassIn) -> int:
    try:
        return schemas.class_id_of(value, allow_unknown=True)
    except (LookupError, ValueError) as exc:
        raise InputError(str(exc)) from None


def pick(members: Sequence[Any], wanted: list[int] | None, where: str) -> list[Any]:
    if wanted is None:
        if not members:
            raise InputError(f"{where} has no masks to label")
        return list(members)
    by_id = {m.id: m for m in members}
    if len(set(wanted)) != len(wanted):
        raise InputError("a mask id appears twice in `masks`")
    outside = [i for i in wanted if i not in by_id]
    if outside:
        raise InputError(f"mask {outside[0]} is not in {where}")
    if not wanted:
        raise InputError("`masks` is empty: select at least one mask")
    return [by_id[i] for i in wanted]


def group_state(session: Session, project: Project, group: Group) -> dict[str, Any]:
    return read_group(session, project, group).model_dump(mode="json")
