"""Dump and Load: the engine's decisions JSONL (`mcae label --decisions`), one format both ways.

Dump writes the decisions in force, in order, with their masks resolved, their author, time
and model version. Load validates a whole file first, then applies it in one transaction:
all of it or nothing, with a summary of what it added.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from mcae.inference.decisions import parse_decisions, resolve
from mcae.platform.annotation import schemas
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.history import record
from mcae.platform.annotation.importer import engine_decisions
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.models import Group, Mask, User
from mcae.platform.annotation.service import apply_engine_decisions
from mcae.platform.annotation.views import class_name

MAX_LOAD_BYTES = 64 * 1024 * 1024


def dump(session: Session, project_id: str) -> str:
    project_row(session, project_id)
    return "".join(d.to_json() + "\n" for d in engine_decisions(session, project_id))


def membership(session: Session, project_id: str) -> pd.DataFrame:
    """(neighbourhood, group, patch, mask_id) of every present mask, as the engine's resolve wants."""
    rows = session.execute(select(Mask.neighbourhood, Group.key, Mask.patch, Mask.mask_id)
                           .join(Group, Group.id == Mask.group_id)
                           .where(Mask.project_id == project_id, Mask.present.is_(True))).all()
    return pd.DataFrame(rows, columns=["neighbourhood", "group", "patch", "mask_id"])


def load(session: Session, project_id: str, user: CurrentUser, text: str) -> schemas.LoadSummary:
    project_row(session, project_id)
    decisions = resolve(parse_decisions(text, origin="decisions"), membership(session, project_id))
    authors = dict(session.execute(select(User.name, User.id)).all())
    added = apply_engine_decisions(session, project_id, decisions, user.id, source="load", authors=authors)
    by_class = Counter(class_name(d.class_id) or "?" for d in decisions)
    summary = schemas.LoadSummary(
        added=added, group_decisions=sum(d.target == "group" for d in decisions),
        mask_decisions=sum(d.target == "mask" for d in decisions),
        masks_labelled=sum(len(d.masks or []) if d.target == "group" else 1 for d in decisions),
        by_class=dict(by_class))
    record(session, project_id, user.id, "load", "project", project_id, after=summary.model_dump())
    return summary
