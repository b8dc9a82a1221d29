"""How decisions set mask classes: precedence, recomputation and the versions they bump.

A mask's class comes from the decisions in force on it (active, not rejected, first pass):
a mask correction beats a group decision, and among decisions of one kind the later wins,
as the engine's ``mask_labels`` does. Class 0 (Unknown) leaves the mask undecided.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import Text, bindparam, case, cast, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mcae.inference.classes import N_CLASSES
from mcae.platform.annotation.counters import Deltas, authors, facts
from mcae.platform.annotation.fast_rows import read_tuples
from mcae.platform.annotation.group_totals import SCALARS
from mcae.platform.annotation.models import Base, Decision, DecisionMask, Group, Mask, Project

CHUNK = 500


def chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def in_force(session: Session, mask_pks: list[int],
             by: dict[int, tuple[str, int]] | None = None) -> dict[int, tuple[int, str | None, int]]:
    """Per mask: (class, fine class, decision id) of the decision in force; absent if none.
    ``by``, if given, gets (target, author) of every decision read."""
    best: dict[int, tuple[tuple[bool, int], int, str | None]] = {}
    for part in chunks(mask_pks):
        rows = session.execute(
            select(DecisionMask.mask_pk, Decision.id, Decision.target, Decision.class_id, Decision.fine_class,
                   Decision.author_id)
            .join(Decision, Decision.id == DecisionMask.decision_id)
            .where(DecisionMask.mask_pk.in_(part), Decision.state == "active", Decision.review != "rejected",
                   Decision.pass_no == 1))
        for mask_pk, decision_id, target, class_id, fine, author in rows:
            if by is not None:
                by[decision_id] = (target, author)
            rank = (target == "mask", decision_id)
            if mask_pk not in best or rank > best[mask_pk][0]:
                best[mask_pk] = (rank, class_id, fine)
    return {pk: (cls, fine, rank[1]) for pk, (rank, cls, fine) in best.items()}


def recompute(session: Session, mask_pks: list[int], bumped: set[int] | frozenset[int] = frozenset(),
              locked: set[int] | None = None) -> list[tuple[int, int | None, int | None]]:
    """Set each mask's class from the decisions in force; bump the versions of masks that
    changed and of their groups (but those in ``bumped``).

    ``locked``: the groups of these masks, when the caller holds their locks already (a group
    decision's claim); otherwise they are locked here. The masks are read as rows (fresh: the
    groups' locks are held) and written set-based: one ``UPDATE ... WHERE id IN`` per new state
    (a group decision: one), not one statement per mask. Mask objects the session holds are
    expired, so that a later read sees the new state.

    Returns (mask, class before, class after) of every mask that changed.
    """
    small = small_groups(session, locked) if locked is not None else \
        {g for g, is_small in _lock_groups(session, mask_pks).items() if is_small}
    by: dict[int, tuple[str, int]] = {}  # (target, author) of the decisions before and after
    forced = in_force(session, mask_pks, by)
    changed: list[tuple[int, int | None, int | None]] = []
    groups: set[int] = set()
    deltas: Deltas | None = None
    states: dict[tuple[int | None, str | None, int | None, bool], list[int]] = defaultdict(list)
    masks = Base.metadata.tables["masks"].c
    for part in chunks(mask_pks):
        rows = session.execute(select(masks.id, masks.class_id, masks.fine_class, masks.decision_id, masks.group_id,
                                      masks.project_id, masks.present, masks.patch, masks.neighbourhood, masks.area,
                                      masks.refine, masks.pred_class, masks.mapped_class, Decision.target,
                                      Decision.author_id)
                               .outerjoin(Decision, Decision.id == masks.decision_id)
                               .where(masks.id.in_(part))).all()
        by.update({r.decision_id: (r.target, r.author_id) for r in rows if r.decision_id is not None})
        for row in rows:
            cls, fine, decision_id = forced.get(row.id, (None, None, None))
            cls = cls or None  # Unknown (0): undecided
            fine = fine if cls else None
            if (row.class_id, row.fine_class, row.decision_id) != (cls, fine, decision_id):
                changed.append((row.id, row.class_id, cls))
                # decided: out of refinement; undecided in a small group: back to refinement
                refine = False if cls else bool(row.refine or row.group_id in small)
                states[(cls, fine, decision_id, refine)].append(row.id)
                deltas = deltas or Deltas(row.project_id)
                deltas.add(facts(row, by), facts(row, by, class_id=cls, decision_id=decision_id, refine=refine))
                if row.group_id is not None:
                    groups.add(row.group_id)
    for (cls, fine, decision_id, refine), ids in sorted(states.items(), key=lambda item: item[1][0]):
        for part in chunks(sorted(ids)):
            session.execute(update(Mask).where(Mask.id.in_(part)).values(
                class_id=cls, fine_class=fine, decision_id=decision_id, refine=refine, version=Mask.version + 1)
                .execution_options(synchronize_session=False))
    if changed:
        _expire_masks(session, {pk for pk, _, _ in changed})
    if deltas is not None:
        deltas.apply(session)
    refresh_totals(session, groups, bump=groups - set(bumped))
    return changed


def _expire_masks(session: Session, pks: set[int]) -> None:
    """Forget what the session holds of these masks (written with Core: its objects are stale)."""
    for obj in list(session.identity_map.all_states()):
        key = obj.key
        if key is not None and key[0] is Mask and key[1][0] in pks and obj.obj() is not None:
            session.expire(obj.obj())


def small_groups(session: Session, group_ids: Iterable[int]) -> set[int]:
    """Those of these groups with fewer masks than their project's ``min_group_size``."""
    ids = sorted(set(group_ids))
    out: set[int] = set()
    for part in chunks(ids):
        out.update(session.scalars(select(Group.id).join(Project, Project.id == Group.project_id).where(
            Group.id.in_(part), Group.size < Project.min_group_size)))
    return out


def send_small_groups(session: Session, project_id: str) -> list[int]:
    """Send the undecided masks of the project's groups of fewer than ``min_group_size`` masks to
    refinement (they are corrected one by one, not by a cluster action each); returns the groups
    changed. The caller refreshes the groups' totals and recounts the project."""
    minimum = select(Project.min_group_size).where(Project.id == project_id).scalar_subquery()
    small = select(Group.id).where(Group.project_id == project_id, Group.size < minimum)
    waiting = (Mask.group_id.in_(small), Mask.class_id.is_(None), Mask.present.is_(True), Mask.refine.is_(False))
    ids = sorted(g for g in session.scalars(select(Mask.group_id).where(*waiting).distinct()) if g is not None)
    if ids:
        session.execute(update(Mask).where(*waiting).values(refine=True, version=Mask.version + 1)
                        .execution_options(synchronize_session=False))
    return ids


def lock_groups_of(session: Session, mask_pks: list[int]) -> set[int]:
    """Lock the groups of these masks, in id order, before any of the masks (PostgreSQL; SQLite
    holds its one write lock already): every write takes group locks before mask locks, in the
    same order, so two writes never wait on each other in a cycle."""
    return set(_lock_groups(session, mask_pks))


def _lock_groups(session: Session, mask_pks: list[int]) -> dict[int, bool]:
    """``lock_groups_of``, with whether each group is smaller than its project's ``min_group_size``:
    one statement for a write of up to 500 masks (the groups found from the masks, locked in id
    order, with their projects' minimum), two reads per 500 beyond (the ids first, then locked in
    id order across all of them)."""
    small = Group.size < Project.min_group_size
    if len(mask_pks) <= CHUNK:
        of_masks = select(Mask.group_id).where(Mask.id.in_(mask_pks), Mask.group_id.is_not(None))
        return {g: bool(s) for g, s in session.execute(
            select(Group.id, small).join(Project, Project.id == Group.project_id).where(Group.id.in_(of_masks))
            .order_by(Group.id).with_for_update(of=Group))}
    ids: set[int] = set()
    for part in chunks(mask_pks):
        ids.update(g for (g,) in session.execute(select(Mask.group_id).where(Mask.id.in_(part),
                                                                             Mask.group_id.is_not(None)))
                   if g is not None)
    out: dict[int, bool] = {}
    for part in chunks(sorted(ids)):
        out.update({g: bool(s) for g, s in session.execute(
            select(Group.id, small).join(Project, Project.id == Group.project_id).where(Group.id.in_(part))
            .order_by(Group.id).with_for_update(of=Group))})
    return out


def bump_groups(session: Session, group_ids: Iterable[int]) -> None:
    ids = sorted(set(group_ids))
    for part in chunks(ids):
        session.execute(update(Group).where(Group.id.in_(part)).values(version=Group.version + 1))


def refresh_totals(session: Session, group_ids: Iterable[int], bump: Iterable[int] = ()) -> None:
    """Recount the counters of these groups from their masks (indexed by group: the cost is the
    size of the groups a write touched, never the project's), in the write's transaction, and
    bump the versions of those in ``bump``; and move the open-group counters of their
    neighbourhoods and projects by the groups that opened or closed. Per chunk, one read (the
    groups' rows joined to their present masks: the sums and the class mix are added up here,
    by the same rules as ``GroupTotals``) and one ``executemany``."""
    ids = sorted(set(group_ids))
    if not ids:
        return
    bumped = set(bump)
    session.flush()  # (read with Core below: as an ORM read would have autoflushed)
    opened: dict[tuple[str, str], int] = defaultdict(int)
    table = Base.metadata.tables["groups"]
    c = table.c
    for part in chunks(ids):
        rows = read_tuples(session, select(  # probabilities only where undecided
            Group.id, Group.project_id, Group.neighbourhood, Group.open_masks, Mask.id, Mask.area, Mask.class_id,
            Mask.refine, Mask.pred_score, case((Mask.class_id.is_(None), cast(Mask.proba, Text)), else_=None))
            .outerjoin(Mask, (Mask.group_id == Group.id) & Mask.present.is_(True)).where(Group.id.in_(part)))
        was = {r[0]: (r[1], r[2], r[3]) for r in rows}
        values = _group_totals(part, [(r[0], *r[5:]) for r in rows if r[4] is not None])  # groups' present masks
        for v in values:
            found = was.get(int(v["id"]))
            change = int(v["open_masks"] > 0) - int(found is not None and (found[2] or 0) > 0)
            if change and found is not None:
                opened[(found[0], found[1])] += change
        session.execute(update(table).where(c.id == bindparam("gid")).values(
            {**{c[k]: bindparam(f"n_{k}", type_=c[k].type) for k in (*SCALARS, "gain", "mix")},
             c.version: c.version + bindparam("n_bump")}),
            [{"gid": v["id"], "n_bump": int(v["id"] in bumped), **{f"n_{k}": v[k] for k in (*SCALARS, "gain", "mix")}}
             for v in values])
        _sync_groups(session, values, bumped)
    _move_open_groups(session, opened)


def _sync_groups(session: Session, values: list[dict[str, Any]], bumped: set[int]) -> None:
    """Give the Group objects the session holds what was just written with Core (no read, no flush)."""
    found = {int(v["id"]): v for v in values}
    for state in list(session.identity_map.all_states()):
        key, obj = state.key, state.obj()
        if key is None or key[0] is not Group or obj is None or key[1][0] not in found:
            continue
        v = found[key[1][0]]
        for k in (*SCALARS, "gain", "mix"):
            set_committed_value(obj, k, v[k])
        if key[1][0] in bumped and "version" in state.dict:
            set_committed_value(obj, "version", state.dict["version"] + 1)


def _group_totals(part: list[int], rows: list[Any]) -> list[dict[str, Any]]:
    """Each group's counters and class mix from its present masks' rows (group, area, class,
    refine, score, probabilities as JSON text); zeros and no mix for a group without any."""
    n = len(rows)
    index = {gid: i for i, gid in enumerate(part)}
    where = np.fromiter((index[r[0]] for r in rows), np.int64, n)
    area = np.fromiter((r[1] or 0 for r in rows), np.int64, n)
    classes = np.fromiter((r[2] or 0 for r in rows), np.int64, n)
    refine = np.fromiter((bool(r[3]) for r in rows), bool, n)
    score = np.fromiter((r[4] if r[4] is not None else 0.0 for r in rows), np.float64, n)
    decided = classes > 0
    is_open = ~decided & ~refine
    width = len(part)

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(where, weights=weights, minlength=width)

    def count(flags: np.ndarray) -> np.ndarray:
        return np.bincount(where[flags], minlength=width)

    sums = {"area": total(area.astype(np.float64)), "decided_area": total(np.where(decided, area, 0).astype(float)),
            "open_area": total(np.where(is_open, area, 0).astype(float)), "open_masks": count(is_open),
            "masks": np.bincount(where, minlength=width), "decided": count(decided),
            "refine": count(~decided & refine)}
    gain = total(np.where(is_open, area * (1.0 - score), 0.0))
    weights = _mix_rows(rows, classes)
    mix = np.zeros((width, N_CLASSES))
    np.add.at(mix, where, weights)
    present = np.bincount(where, minlength=width) > 0
    return [{"id": gid, **{k: round(float(v[i])) for k, v in sums.items()}, "gain": round(float(gain[i]), 3),
             "mix": [round(float(w), 6) for w in mix[i]] if present[i] else None}
            for i, gid in enumerate(part)]


def _mix_rows(rows: list[Any], classes: np.ndarray) -> np.ndarray:
    """Per mask, its weights in the class mix (``views.mix_percent`` makes the histogram of
    them): one on its class when decided, its probabilities otherwise (the engine's
    ``class_mix``). The probabilities are read as their JSON text and decoded as one array per
    call (one ``json.loads`` per mask would be most of an import's time)."""
    weights = np.zeros((len(rows), N_CLASSES))
    guessed = np.flatnonzero((classes == 0) & np.fromiter((r[5] is not None and r[5] != "null" for r in rows),
                                                            bool, len(rows)))
    if len(guessed):
        probas = json.loads("[" + ",".join(rows[int(i)][5] for i in guessed) + "]")
        width = min(N_CLASSES, min(len(p) for p in probas))
        block = np.zeros((len(guessed), N_CLASSES))
        block[:, :width] = np.asarray([p[:width] for p in probas], np.float64)
        weights[guessed] = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    decided = np.flatnonzero(classes > 0)
    weights[decided, classes[decided] - 1] = 1.0
    return weights


def _move_open_groups(session: Session, opened: dict[tuple[str, str], int]) -> None:
    """Add the groups that opened (+) or closed (-) to their neighbourhoods' and projects'
    ``open_groups`` (``UPDATE ... SET n = n + d``, by key: safe under concurrent writes)."""
    hoods = [{"p": pid, "k": hood, "d": d} for (pid, hood), d in sorted(opened.items()) if d]
    if not hoods:
        return
    table = Base.metadata.tables["neighbourhoods"]
    c = table.c
    session.execute(update(table).where(c.project_id == bindparam("p"), c.name == bindparam("k"))
                    .values(open_groups=c.open_groups + bindparam("d")), hoods)
    projects: dict[str, int] = defaultdict(int)
    for (pid, _), d in opened.items():
        projects[pid] += d
    for pid, d in sorted(projects.items()):
        if d:
            session.execute(update(Project).where(Project.id == pid).values(open_groups=Project.open_groups + d)
                            .execution_options(synchronize_session=False))


def recompute_bulk(session: Session, mask_pks: list[int], changed_groups: set[int] | None = None) -> int:
    """``recompute`` for many masks at once (Load): the same rules and version bumps, read and
    written with a few Core statements per chunk instead of one ORM object per mask. Returns
    how many masks changed. (The session must not hold these masks as objects it trusts.)

    With ``changed_groups``, the groups whose masks changed are added to it and their versions
    and totals are left to the caller (``finish_groups``, once after many batches)."""
    small = small_groups(session, lock_groups_of(session, mask_pks))
    forced = in_force(session, mask_pks)
    conn = session.connection()
    changed, groups = 0, set()
    table = Base.metadata.tables["masks"]
    masks = table.c
    deltas: Deltas | None = None
    for part in chunks(mask_pks):
        rows = conn.execute(select(masks.id, masks.class_id, masks.fine_class, masks.decision_id, masks.group_id,
                                   masks.project_id, masks.present, masks.patch, masks.neighbourhood, masks.area,
                                   masks.refine, masks.pred_class, masks.mapped_class)
                            .where(masks.id.in_(part))).all()
        by = authors(session, [r.decision_id for r in rows] + [forced[r.id][2] for r in rows if r.id in forced])
        values: list[dict[str, Any]] = []
        for row in rows:
            cls, fine, decision_id = forced.get(row.id, (None, None, None))
            cls = cls or None  # Unknown (0): undecided
            fine = fine if cls else None
            if (row.class_id, row.fine_class, row.decision_id) != (cls, fine, decision_id):
                refine = False if cls else bool(row.refine or row.group_id in small)
                values.append({"pk": row.id, "c": cls, "f": fine, "d": decision_id, "r": refine})
                deltas = deltas or Deltas(row.project_id)
                deltas.add(facts(row, by), facts(row, by, class_id=cls, decision_id=decision_id, refine=refine))
                if row.group_id is not None:
                    groups.add(row.group_id)
        if values:
            conn.execute(update(table).where(masks.id == bindparam("pk")).values(
                class_id=bindparam("c"), fine_class=bindparam("f"), decision_id=bindparam("d"),
                refine=bindparam("r"), version=masks.version + 1), values)
        changed += len(values)
    if deltas is not None:
        deltas.apply(session)
    if changed_groups is not None:
        changed_groups.update(groups)
    else:
        finish_groups(session, groups)
    return changed


def finish_groups(session: Session, groups: set[int]) -> None:
    """Bump these groups' versions and recount their totals after their masks changed."""
    bump_groups(session, groups)
    refresh_totals(session, groups)
