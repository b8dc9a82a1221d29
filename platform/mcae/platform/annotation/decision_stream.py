"""The decisions in force, from the database to the engine, as a stream.

A city holds hundreds of thousands of decisions and millions of their masks: they are read a
chunk at a time (keyset paged by decision id, each chunk's group decisions' members with it)
and either handed on one at a time (``iter_engine_decisions``) or written as the engine's JSON
Lines (``spool_decisions``), which ``train``, ``write_map`` and ``mask_classes`` read line by line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.decisions import DecisionsFile, write_decisions
from mcae.platform.annotation.models import Decision, DecisionMask, Mask, User
from mcae.platform.annotation.views import aware

DECISION_CHUNK = 1000  # decisions a read of ``iter_engine_decisions`` covers (keyset paged by id)


def engine_decisions(session: Session, project_id: str, reviewed_only: bool = False) -> list[EngineDecision]:
    """The decisions that are in force, in order, as the engine's records (masks resolved): a
    list of ``iter_engine_decisions`` (for the few that need one; a city's go as a stream)."""
    return list(iter_engine_decisions(session, project_id, reviewed_only=reviewed_only))


def iter_engine_decisions(session: Session, project_id: str, reviewed_only: bool = False,
                          chunk: int = DECISION_CHUNK) -> Iterator[EngineDecision]:
    """The decisions that are in force, in order, as the engine's records (masks resolved), one
    at a time: read ``chunk`` decisions at a time, keyset paged by id, each chunk's group
    decisions' members read with it, so memory is one chunk whatever the project's size.
    ``reviewed_only``: only those a reviewer accepted or a reviewer or admin made (what a
    project with the publish policy ``reviewed`` publishes)."""
    users = dict(session.execute(select(User.id, User.name)).all())
    query = select(Decision.id, Decision.target, Decision.class_id, Decision.fine_class, Decision.source,
                   Decision.author_id, Decision.created_at, Decision.model_version, Decision.neighbourhood,
                   Decision.group_key, Decision.patch, Decision.mask_id).where(
        Decision.project_id == project_id, Decision.state == "active", Decision.review != "rejected",
        Decision.pass_no == 1)
    if reviewed_only:
        trusted = select(User.id).where(User.role.in_(("reviewer", "admin")))
        query = query.where((Decision.review == "accepted") | Decision.author_id.in_(trusted))
    last = 0
    while rows := session.execute(query.where(Decision.id > last).order_by(Decision.id).limit(chunk)).all():
        last = rows[-1].id
        members = _members(session, [r.id for r in rows if r.target == "group"])
        for r in rows:
            fields: dict[str, Any] = {
                "target": r.target, "class": r.class_id, "fine_class": r.fine_class, "source": r.source,
                "id": r.id, "author": users.get(r.author_id), "at": aware(r.created_at).isoformat(),
                "model_version": r.model_version}
            if r.target == "group":
                fields.update(neighbourhood=r.neighbourhood, group=r.group_key, masks=members.pop(r.id, []))
            else:
                fields.update(patch=r.patch, mask=r.mask_id)
            yield EngineDecision.model_validate(fields)


def _members(session: Session, ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """The (patch, mask id) members of these group decisions, in (patch, mask id) order."""
    members: dict[int, list[tuple[str, int]]] = {}
    if ids:
        for decision_id, patch, mask_id in session.execute(
                select(DecisionMask.decision_id, Mask.patch, Mask.mask_id).join(Mask, Mask.id == DecisionMask.mask_pk)
                .where(DecisionMask.decision_id.in_(ids))
                .order_by(DecisionMask.decision_id, Mask.patch, Mask.mask_id)):
            members.setdefault(decision_id, []).append((patch, int(mask_id)))
    return members


def spool_decisions(session: Session, project_id: str, path: str | Path, reviewed_only: bool = False,
                    chunk: int = DECISION_CHUNK) -> DecisionsFile:
    """Write the decisions in force (``iter_engine_decisions``) to ``path`` as the engine's JSON
    Lines, a chunk at a time; the file, which the engine reads line by line, as often as it needs."""
    count = write_decisions(path, iter_engine_decisions(session, project_id, reviewed_only, chunk))
    return DecisionsFile(path, count)
