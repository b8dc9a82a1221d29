"""Refinement writes: sends of a group's masks to refinement and their undo, corrections of
single masks of a patch, and "fully checked" patches. Like ``service``, every function runs
inside the caller's transaction and keeps the counters in it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mcae.inference.errors import InputError
from mcae.platform.annotation import schemas
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.counters import Deltas, authors, facts
from mcae.platform.annotation.lookups import group_row, patch_row, project_row, stale, user_names, wanted_version
from mcae.platform.annotation.mask_classes import lock_groups_of, recompute, refresh_totals, small_groups
from mcae.platform.annotation.models import Decision, Group, History, Mask, Patch, Project, utcnow
from mcae.platform.annotation.queries import read_group, read_patch
from mcae.platform.annotation.service import (
    action_seconds,
    check_fine,
    claim,
    class_of,
    group_state,
    last_change,
    new_decision,
    pick,
)
from mcae.platform.annotation.views import decision_out
from mcae.platform.errors import Conflict, Forbidden


def refine_group(session: Session, project_id: str, user: CurrentUser, neighbourhood: str, key: str,
                 body: schemas.RefineIn, if_match: str | None) -> schemas.SaveOut:
    """Send some (default: every open) mask of a group to refinement."""
    project = project_row(session, project_id)
    group = group_row(session, project_id, neighbourhood, key)
    members = list(session.scalars(select(Mask).where(Mask.group_id == group.id, Mask.present.is_(True))))
    selection = pick([m for m in members if not m.class_id] if body.masks is None else members, body.masks,
                        f"group {neighbourhood}/{key}")
    version = wanted_version(body.version, if_match, "group")
    if not claim(session, Group, group.id, version):
        session.refresh(group)
        raise stale(f"group {neighbourhood}/{key}", version, group.version, group_state(session, project, group),
                    last_change(session, project_id, "group", f"{neighbourhood}/{key}"))
    sent = []
    fresh = list(session.scalars(select(Mask).where(Mask.id.in_([m.id for m in selection]))
                                 .execution_options(populate_existing=True)))
    by, deltas = authors(session, [m.decision_id for m in fresh]), Deltas(project_id)
    for mask in fresh:
        if not mask.refine:
            sent.append(mask.id)
        before = facts(mask, by)
        mask.refine = True
        mask.version += 1
        deltas.add(before, facts(mask, by))
    session.flush()
    deltas.apply(session)
    refresh_totals(session, [group.id])
    History.record(session, project_id, user.id, "refine", "group", f"{neighbourhood}/{key}",
           before={"version": version}, after={"masks": [m.id for m in selection]})
    entry = History.record(session, project_id, user.id, "send", "refinement", f"{neighbourhood}/{key}",
                   after={"masks": sorted(sent), "group": group.id})
    session.flush()
    session.refresh(group)
    return schemas.SaveOut(decisions=[], masks_changed=len(selection), group=read_group(session, project, group),
                           refinement=entry.id)


def undo_refinement(session: Session, project_id: str, user: CurrentUser, refinement: int) -> schemas.SaveOut:
    """Take a send to refinement back: its masks that still wait (undecided) return to the group."""
    entry = session.scalar(select(History).where(History.id == refinement, History.project_id == project_id,
                                                 History.entity == "refinement", History.action == "send"))
    if entry is None:
        from mcae.tiles.catalog import UnknownId

        raise UnknownId("refinement", str(refinement))
    if entry.user_id != user.id and not user.has("reviewer"):
        raise Forbidden("only who sent masks to refinement, or a reviewer, can take the send back")
    project = project_row(session, project_id)
    hood, _, key = entry.entity_id.partition("/")
    group = group_row(session, project_id, hood, key)
    if not claim(session, Group, group.id, group.version):  # the group's lock, held to the commit
        session.refresh(group)
    later = session.scalars(select(History.after).where(  # indexed: this group's sends and their undos
        History.project_id == project_id, History.entity == "refinement", History.entity_id == entry.entity_id,
        History.action == "unsend", History.id > entry.id))
    if any((after or {}).get("of") == entry.id for after in later):
        raise Conflict(f"the send to refinement {refinement} was taken back already",
                       details={"refinement": refinement})
    ids = [int(i) for i in (entry.after or {}).get("masks", [])]
    back = list(session.scalars(select(Mask).where(Mask.id.in_(ids), Mask.refine.is_(True), Mask.class_id.is_(None))
                                .execution_options(populate_existing=True))) if ids else []
    if group.id in small_groups(session, [group.id]):  # a small group's masks wait for refinement anyway
        back = []
    deltas = Deltas(project_id)
    for mask in back:
        before = facts(mask, {})
        mask.refine = False
        mask.version += 1
        deltas.add(before, facts(mask, {}))
    session.flush()
    deltas.apply(session)
    refresh_totals(session, [group.id])
    History.record(session, project_id, user.id, "unsend", "refinement", entry.entity_id,
           after={"of": entry.id, "masks": [m.id for m in back]})
    History.record(session, project_id, user.id, "unrefine", "group", entry.entity_id,
           after={"of": entry.id, "masks": len(back)})
    session.flush()
    session.refresh(group)
    return schemas.SaveOut(decisions=[], masks_changed=len(back), group=read_group(session, project, group))


def correct_patch(session: Session, project_id: str, user: CurrentUser, patch_name: str,
                  body: schemas.CorrectionsIn, if_match: str | None) -> schemas.SaveOut:
    """Refinement: mask corrections of one patch, every row in one transaction."""
    project = project_row(session, project_id)
    patch = patch_row(session, project_id, patch_name)
    ids = [row.mask for row in body.rows]
    if len(set(ids)) != len(ids):
        raise InputError("a mask appears twice among the rows")
    masks = {m.mask_id: m for m in session.scalars(select(Mask).where(
        Mask.project_id == project_id, Mask.patch == patch_name, Mask.mask_id.in_(ids), Mask.present.is_(True)))}
    missing = [i for i in ids if i not in masks]
    if missing:
        raise InputError(f"patch {patch_name} has no mask {missing[0]} open to labelling")
    locked = lock_groups_of(session, [m.id for m in masks.values()])
    masks = {m.mask_id: m for m in session.scalars(  # again, under the locks: the current versions
        select(Mask).where(Mask.id.in_([m.id for m in masks.values()])).with_for_update()
        .execution_options(populate_existing=True))}
    per_row = all(row.version is not None for row in body.rows)
    if if_match is not None or body.version is not None or not per_row:
        version = wanted_version(body.version, if_match, "patch")
        if not claim(session, Patch, patch.id, version):
            session.refresh(patch)
            raise stale(f"patch {patch_name}", version, patch.version, {"version": patch.version},
                        last_change(session, project_id, "patch", patch_name))
    else:
        patch.version += 1
    for row in body.rows:
        mask = masks[row.mask]
        if row.version is not None and row.version != mask.version:
            raise stale(f"mask {patch_name}/{row.mask}", row.version, mask.version,
                        {"mask": row.mask, "version": mask.version, "class_id": mask.class_id},
                        last_change(session, project_id, "mask", f"{patch_name}/{row.mask}"))
    now = utcnow()
    elapsed = action_seconds(session, None, user, now)
    names = user_names(session)
    made: list[Decision] = []
    touched: list[int] = []
    for row in body.rows:
        mask = masks[row.mask]
        class_id = class_of(row.class_id)
        decision = new_decision(session, project, user.id, [mask], target="mask", class_id=class_id,
                                 fine_class=check_fine(project, class_id, row.fine_class), patch=patch_name,
                                 mask_id=row.mask, model_version=project.model_version,
                                 elapsed_s=elapsed if not made else 0.0, created_at=now)
        History.record(session, project_id, user.id, "correct", "mask", f"{patch_name}/{row.mask}",
               before={"class": mask.class_id, "fine_class": mask.fine_class, "decision": mask.decision_id},
               after={"class": class_id, "decision": decision.id})
        made.append(decision)
        touched.append(mask.id)
    changed = recompute(session, touched, locked=locked)
    History.record(session, project_id, user.id, "correct", "patch", patch_name,
           after={"decisions": [d.id for d in made], "changed": len(changed)})
    session.flush()
    return schemas.SaveOut(decisions=[decision_out(d, names, 1) for d in made], masks_changed=len(changed),
                           patch=read_patch(session, patch))


def set_checked(session: Session, project_id: str, user: CurrentUser, patch_name: str,
                body: schemas.CheckedIn, if_match: str | None) -> schemas.PatchOut:
    patch = patch_row(session, project_id, patch_name)
    version = wanted_version(body.version, if_match, "patch")
    before = {"checked": patch.checked, "version": version}
    if not claim(session, Patch, patch.id, version):
        session.refresh(patch)
        raise stale(f"patch {patch_name}", version, patch.version, {"version": patch.version,
                                                                      "checked": patch.checked},
                    last_change(session, project_id, "patch", patch_name))
    session.refresh(patch)
    open_masks = 0
    if body.checked:
        n, decided, waiting = patch.masks, patch.decided, patch.refine  # its counters
        open_masks = n - decided
        if open_masks and not body.override:
            raise InputError(
                f"patch {patch_name} has {n - decided} undecided masks ({waiting} waiting for refinement): "
                "a fully checked patch feeds the dense training set, so decide them first, or mark it "
                "checked with override (recorded with your name)")
    if patch.checked != body.checked:
        session.execute(update(Project).where(Project.id == project_id)
                        .values(checked_patches=Project.checked_patches + (1 if body.checked else -1))
                        .execution_options(synchronize_session=False))
    patch.checked = body.checked
    patch.checked_by, patch.checked_at = (user.id, utcnow()) if body.checked else (None, None)
    after: dict[str, Any] = {"checked": body.checked, "version": patch.version}
    if open_masks:
        after.update(override=True, undecided=open_masks)
    History.record(session, project_id, user.id, "check" if body.checked else "uncheck", "patch", patch_name,
           before=before, after=after)
    session.flush()
    return read_patch(session, patch)
