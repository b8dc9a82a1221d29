"""Finding rows by their public ids (404 for unknown ones) and checking write versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcae.platform.annotation.models import Decision, Group, Mask, Patch, Project, User
from mcae.platform.errors import Conflict, PreconditionFailed
from mcae.tiles.ids import UnknownId


def project_row(session: Session, project_id: str) -> Project:
    found = session.get(Project, project_id)
    if found is None:
        raise UnknownId("project", project_id)
    return found


def group_row(session: Session, project_id: str, neighbourhood: str, key: str) -> Group:
    found = session.scalar(select(Group).where(Group.project_id == project_id, Group.neighbourhood == neighbourhood,
                                               Group.key == key))
    if found is None:
        raise UnknownId("group", f"{neighbourhood}/{key}")
    return found


def patch_row(session: Session, project_id: str, name: str) -> Patch:
    found = session.scalar(select(Patch).where(Patch.project_id == project_id, Patch.name == name))
    if found is None:
        raise UnknownId("patch", name)
    return found


def mask_row(session: Session, project_id: str, patch: str, mask_id: int) -> Mask:
    found = session.scalar(select(Mask).where(Mask.project_id == project_id, Mask.patch == patch,
                                              Mask.mask_id == mask_id))
    if found is None:
        raise UnknownId("mask", f"{patch}/{mask_id}")
    return found


def decision_row(session: Session, project_id: str, decision_id: int) -> Decision:
    found = session.get(Decision, decision_id)
    if found is None or found.project_id != project_id:
        raise UnknownId("decision", str(decision_id))
    return found


def user_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.name)).all())


def wanted_version(body_version: int | None, if_match: str | None, what: str) -> int:
    """The version a write names, from its body or an ``If-Match`` header (412 without one)."""
    if if_match is not None:
        text = if_match.strip().removeprefix("W/").strip('"')
        if not (text.isascii() and text.isdigit()):  # '²' is a digit to isdigit, not to int
            raise PreconditionFailed(f"If-Match must name the {what}'s version, e.g. If-Match: \"3\"")
        header = int(text) if len(text) <= 20 else MAX_VERSION + 1  # int() of 5,000 digits raises
        if body_version is not None and body_version != header:
            raise PreconditionFailed("If-Match and the body's version differ")
        return _bounded(header, what)
    if body_version is None:
        raise PreconditionFailed(f"a write must name the {what} version it was made on "
                                 "(a `version` field or an If-Match header)")
    return _bounded(body_version, what)


MAX_VERSION = 2**62  # versions are 64-bit database integers: a larger one names no version (not a 500)


def _bounded(version: int, what: str) -> int:
    if not 0 <= version <= MAX_VERSION:
        raise PreconditionFailed(f"{version} is no {what} version (they count up from 1)")
    return version


def stale(what: str, given: int, current: int, state: dict[str, Any], last: dict[str, Any] | None) -> Conflict:
    """The 409 of a write made on an old version: says who changed it and carries the current state."""
    by = f" by {last['user']} at {last['at']}" if last and last.get("user") else ""
    return Conflict(f"the {what} changed since version {given} (now {current}{by}); reload it: "
                    "nothing was saved", details={"current": state, "last_change": last})
