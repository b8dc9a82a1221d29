""""Next group": a short lease so two experts are not sent the same group.

A lease is a conditional update (free, expired or already mine -> mine until now + ttl), so
two requests racing for one group cannot both win, on SQLite or PostgreSQL. It expires by
itself; asking for the next group gives back the one held before. Groups holding masks of
the expert's own rejected decisions come first; then open groups by map gain (open area x
(1 - confidence), the groups' counters, indexed), groups with only one or two masks still open
last. Groups smaller than the project's ``min_group_size`` are never handed out: the import
sends their masks to refinement, where they are corrected one by one rather than by a cluster
action each. Then, once first passes are done, double groups that need a second, independent
labelling.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from mcae.platform.annotation import schemas
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.models import Decision, DecisionMask, Group, Mask, Neighbourhood, Project, utcnow
from mcae.platform.annotation.queries import read_group

SMALL_GROUP = 2  # open masks: such groups come after every larger one
CANDIDATES = 200  # groups read per request (in gain order); leased ones are skipped


def open_groups_query(project_id: str, neighbourhood: str | None, large: bool) -> Select[int]:
    """The open groups of more than two open masks (``large``) or of one or two, best map gain first.

    The larger groups are most open groups: their read walks the gain index and stops at its
    limit. It says ``open_masks + 0`` so that no planner takes the open-masks index instead (a
    range holding nearly every group, then a sort of them all: 130 ms at 4 M masks on SQLite).
    The small ones are few: their range of the open-masks index, then a sort of those only."""
    wanted = (Group.open_masks + 0) > SMALL_GROUP if large else \
        and_(Group.open_masks > 0, Group.open_masks <= SMALL_GROUP)
    query = select(Group.id).where(Group.project_id == project_id, wanted)
    if neighbourhood is not None:
        query = query.where(Group.neighbourhood == neighbourhood)
    return query.order_by(Group.gain.desc(), Group.id)


def _open_groups(session: Session, project_id: str, neighbourhood: str | None, limit: int | None) -> list[int]:
    """Open groups, best map gain first (small groups last), from the groups' counters: two reads
    in the order of the gain index (larger groups, then small ones), each stopping at ``limit``,
    rather than one sort of every open group of the project."""
    out: list[int] = []
    for large in (True, False):
        query = open_groups_query(project_id, neighbourhood, large)
        if limit:
            query = query.limit(limit - len(out))
        out += session.scalars(query)
        if limit and len(out) >= limit:
            break
    return out


def _open_count(session: Session, project: Project, neighbourhood: str | None) -> int:
    """The groups with open masks: the project's or the neighbourhood's counter (kept by every
    write, ``mask_classes.refresh_totals``), not a count of the groups."""
    if neighbourhood is None:
        return int(project.open_groups or 0)
    found = session.scalar(select(Neighbourhood.open_groups).where(Neighbourhood.project_id == project.id,
                                                                 Neighbourhood.name == neighbourhood))
    return int(found or 0)


def _returned(session: Session, project_id: str, user_id: int) -> list[int]:
    """Groups of the user's rejected decisions that still have open masks.

    In three indexed steps (the decisions, their masks, those masks' groups), so that no
    planner joins its way through the whole masks table."""
    ids = list(session.scalars(select(Decision.id).where(
        Decision.project_id == project_id, Decision.author_id == user_id, Decision.review == "rejected",
        Decision.state == "active")))
    if not ids:
        return []
    pks = list(session.scalars(select(DecisionMask.mask_pk).where(DecisionMask.decision_id.in_(ids))))
    groups: set[int] = set()
    for start in range(0, len(pks), 500):
        groups.update(gid for gid in session.scalars(
            select(Mask.group_id).where(Mask.id.in_(pks[start:start + 500]), Mask.class_id.is_(None),
                                        Mask.group_id.is_not(None)).distinct()) if gid is not None)
    return sorted(groups)


def _second_pass_candidates(session: Session, project_id: str, user_id: int) -> list[int]:
    doubles = list(session.scalars(select(Group.id).where(
        Group.project_id == project_id, Group.double.is_(True), Group.open_masks == 0)
        .order_by(Group.neighbourhood, Group.cluster)))
    out = []
    for gid in doubles:
        authors = session.execute(
            select(Decision.author_id, Decision.pass_no).join(DecisionMask, DecisionMask.decision_id == Decision.id)
            .join(Mask, Mask.id == DecisionMask.mask_pk)
            .where(Mask.group_id == gid, Decision.state == "active").distinct()).all()
        first = {a for a, p in authors if p == 1}
        second = {a for a, p in authors if p == 2}
        if first and user_id not in first and not second:
            out.append(gid)
    return out


def _take(session: Session, group_id: int, user_id: int, now: dt.datetime, ttl: int) -> bool:
    result = session.execute(
        update(Group).where(Group.id == group_id, or_(Group.lease_user_id.is_(None), Group.lease_until < now,
                                                      Group.lease_user_id == user_id))
        .values(lease_user_id=user_id, lease_started=now, lease_until=now + dt.timedelta(seconds=ttl))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def next_group(session: Session, project_id: str, user: CurrentUser, lease_seconds: int,
               neighbourhood: str | None = None) -> schemas.NextGroupOut:
    project = project_row(session, project_id)
    now = utcnow()
    session.execute(update(Group).where(Group.project_id == project_id, Group.lease_user_id == user.id)
                    .values(lease_user_id=None, lease_until=None, lease_started=None)
                    .execution_options(synchronize_session=False))
    leased = set(session.scalars(select(Group.id).where(
        Group.project_id == project_id, and_(Group.lease_user_id.is_not(None), Group.lease_user_id != user.id,
                                             Group.lease_until >= now))))
    returned = list(session.scalars(select(Group.id).where(
        Group.id.in_(_returned(session, project_id, user.id)), Group.open_masks > 0)))
    if neighbourhood is not None:
        returned = [g for g in returned if g in set(_open_groups(session, project_id, neighbourhood, None))]
    remaining = max(0, _open_count(session, project, neighbourhood) - len(leased))
    limit = CANDIDATES + len(leased)
    while True:
        ranked = _open_groups(session, project_id, neighbourhood, limit)
        first = returned + [g for g in ranked if g not in returned]
        for gid in first:
            if gid not in leased and _take(session, gid, user.id, now, lease_seconds):
                return _out(session, project, gid, False, remaining)
        if len(ranked) < limit:
            break
        limit *= 4  # every candidate read was leased meanwhile: read further
    for gid in _second_pass_candidates(session, project_id, user.id):
        if gid not in leased and _take(session, gid, user.id, now, lease_seconds):
            return _out(session, project, gid, True, remaining)
    return schemas.NextGroupOut(group=None, remaining=0)


def release(session: Session, project_id: str, user: CurrentUser) -> int:
    result = session.execute(update(Group).where(Group.project_id == project_id, Group.lease_user_id == user.id)
                             .values(lease_user_id=None, lease_until=None, lease_started=None)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _out(session: Session, project: Project, group_id: int, second: bool, remaining: int) -> schemas.NextGroupOut:
    group = session.get(Group, group_id, populate_existing=True)
    assert group is not None  # leased just now, in this transaction
    view = read_group(session, project, group)
    return schemas.NextGroupOut(group=view, second_pass=second, lease_until=group.lease_until,
                                remaining=remaining)
