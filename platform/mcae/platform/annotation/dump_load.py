"""Dump and Load: the engine's decisions JSONL (`mcae label --decisions`), one format both ways.

Dump writes the decisions in force, in order, with their masks resolved, their author, time
and model version. Load reads a file line by line and checks all of it first, with no lock
held (``load_lines``), then writes it in one transaction, in batches of a few statements:
all of it or nothing, with a summary of what it added. An ordinary Load records every line
as the caller's, at the server's time, with source ``load`` and the project's model version;
only an admin's restore keeps the file's authors and times, and records who restored them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from array import array
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.errors import InputError
from mcae.platform.annotation import counters, decision_sets, schemas
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import engine_decisions
from mcae.platform.annotation.load_lines import Line, Stamp, checked_lines, read_lines
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.mask_classes import finish_groups, recompute_bulk
from mcae.platform.annotation.mask_keys import MaskPks
from mcae.platform.annotation.models import Base, History, utcnow
from mcae.platform.annotation.service import check_fine
from mcae.platform.annotation.views import class_name
from mcae.platform.errors import Conflict, Forbidden
from mcae.platform.settings import LoadSettings
from mcae.tiles.errors import CapExceeded

logger = logging.getLogger("mcae.platform.annotation")
ENGINE_BATCH = 2000  # engine decisions a batch of statements covers (as load.batch_lines does a Load)


def dump(session: Session, project_id: str) -> str:
    project_row(session, project_id)
    return "".join(d.to_json() + "\n" for d in engine_decisions(session, project_id))


def load(database: Database, project_id: str, user: CurrentUser, file: IO[bytes], limits: LoadSettings,
         restore: bool = False) -> schemas.LoadSummary:
    """Check the whole file (no lock held), then write it in one transaction, in batches."""
    if restore and not user.has("admin"):
        raise Forbidden("only an admin may restore a file's authors and times (mode=restore)")
    with database.reader() as session:
        project = project_row(session, project_id)
        seen_version = project.version
        stamp = Stamp(user.id, utcnow(), project.model_version, restore=restore)
        file.seek(0)
        lines, labels = [], 0
        for line in checked_lines(session, project, read_lines(file, limits.max_lines, limits.max_line_bytes),
                                  stamp, limits.batch_lines):
            labels += len(line.masks)
            if labels > limits.max_mask_labels:  # what the write lock's time grows with
                raise CapExceeded(labels, limits.max_mask_labels, what="decisions file", unit="mask labels or more",
                                  setting="load.max_mask_labels", advice="split it into several loads")
            lines.append(line)
    started = time.monotonic()
    with database.session() as session:  # the write lock (SQLite) from here to the commit
        project = project_row(session, project_id)
        if project.version != seen_version:
            raise Conflict("the project was re-imported or edited while the file was checked; nothing was "
                           "loaded: load it again")
        decision_sets.begin(session)
        for start in range(0, len(lines), limits.batch_lines):
            _insert(session, project_id, user.id, lines[start:start + limits.batch_lines], restore)
        recompute_bulk(session, sorted({pk for line in lines for pk in line.masks}))
        decision_sets.end(session)
        summary = _summary(lines, user.name, restore)
        History.record(session, project_id, user.id, "restore" if restore else "load", "project", project_id,
               after=summary.model_dump(exclude={"write_s"}))
    summary.write_s = round(time.monotonic() - started, 3)
    logger.info("load of %d decisions into %s held the write lock %.3f s", len(lines), project_id, summary.write_s)
    return summary


def load_engine_decisions(session: Session, project_id: str, decisions: Iterable[EngineDecision], author_id: int,
                          source: str, batch: int | None = None, recount: bool = True, first: bool = False) -> int:
    """Record the engine's decisions (masks resolved) in order, by ``author_id``, and apply them;
    returns how many. (The project folder's decisions at its first import, and those ``mcae label``
    makes.) Written batch by batch, set-based (``decision_sets``): a few statements per batch,
    the batch's masks' classes recomputed after it (a mask a later batch decides again is
    recomputed again: the last recompute sees every decision), memory one batch, whatever the
    city's size. A bulk write: the masks are rewritten and the changed groups' totals refreshed
    once at the end, and the project's counters recounted (``recount``; an import, which recounts
    after, passes False). ``first``: as a first import's, which holds its groups' locks already and
    takes the classes it brings in as the published map's (the import itself applies a folder's
    decisions as its masks go in: ``first_load``, which writes the rows this would)."""
    project = project_row(session, project_id)
    batch = batch or ENGINE_BATCH
    pks = MaskPks(session, project_id)
    count = batches = 0
    decision_sets.begin(session)
    stream = iter(decisions)
    while part := list(itertools.islice(stream, batch)):
        lines = []
        for number, d in enumerate(part, start=count + 1):
            found = array("q")
            for patch, mask in _mask_keys(d):
                pk = pks.get(patch, mask)
                if pk is None:
                    raise InputError(f"decision {number}: no mask {mask} in patch {patch}")
                found.append(pk)
            lines.append(Line(number=number, target=d.target, class_id=d.class_id,
                              fine_class=check_fine(project, d.class_id, d.fine_class), neighbourhood=d.neighbourhood,
                              group=d.group, patch=d.patch, mask=d.mask, author_id=author_id, at=_time(d, number),
                              source=d.source or source, model_version=d.model_version, masks=found))
        _insert(session, project_id, author_id, lines, restore=False)
        batches += 1
        doubled = batches & (batches - 1) == 0  # 1, 2, 4, 8 ... batches in: the tables doubled since
        if doubled:
            fresh_statistics(session)
        decision_sets.recompute(session, lock=not first, analyze=doubled)
        count += len(part)
    groups = decision_sets.finish(session, mapped=first)[1]
    finish_groups(session, groups)  # once: a batch's decisions touch groups all over the city
    if recount and count:
        counters.recount(session, project_id)
    return count


def fresh_statistics(session: Session) -> None:
    """On PostgreSQL, ANALYZE the decisions tables a long load is filling: planned on the
    statistics of an empty table, each batch's recompute scanned all decisions so far."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE decisions, decision_masks"))


def _mask_keys(d: EngineDecision) -> list[tuple[str, int]]:
    if d.target == "group":
        return [(str(p), int(i)) for p, i in (d.masks or [])]
    return [(d.patch or "", int(d.mask or 0))]


def _time(d: EngineDecision, number: int) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(d.at) if d.at else utcnow()
    except ValueError:
        raise InputError(f"decision {number}: `at` is not an ISO 8601 time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def _insert(session: Session, project_id: str, user_id: int, lines: list[Line], restore: bool) -> None:
    """One batch: its decisions, their masks (with the state before, ``decision_sets.write_links``)
    and history, a few statements."""
    if not lines:
        return
    rows = [{"project_id": project_id, "target": line.target, "class_id": line.class_id,
             "fine_class": line.fine_class, "neighbourhood": line.neighbourhood, "group_key": line.group,
             "patch": line.patch, "mask_id": line.mask, "model_version": line.model_version,
             "author_id": line.author_id, "created_at": line.at, "source": line.source, "pass_no": 1,
             "state": "active", "review": "pending", "restored_by": user_id if restore else None}
            for line in lines]
    ids = _insert_decisions(session, rows)
    sizes = [len(line.masks) for line in lines]
    masks = np.concatenate([np.frombuffer(line.masks, np.int64) for line in lines if line.masks] or
                           [np.zeros(0, np.int64)])
    decision_sets.write_links(session, np.column_stack([np.repeat(np.asarray(ids, np.int64), sizes), masks]))
    now = utcnow()
    history = [{"project_id": project_id, "at": now, "user_id": user_id, "action": "restore" if restore else "load",
                "entity": "decision", "entity_id": str(ident), "before": None,
                "after": {"target": line.target, "class": line.class_id, "masks": len(line.masks),
                          "source": line.source, "line": line.number}}
               for ident, line in zip(ids, lines, strict=True)]
    if session.get_bind().dialect.name == "postgresql":
        decision_sets.copy_rows(session, "history", list(history[0]), (list(h.values()) for h in history))
    else:
        session.connection().execute(insert(Base.metadata.tables["history"]), history)


def _insert_decisions(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """The rows into ``decisions``; returns their ids, in order. PostgreSQL: ids drawn from the
    sequence, rows copied (``COPY``); SQLite (one writer, whose lock this transaction holds): the
    ids SQLite would give them (the largest so far, plus one: no AUTOINCREMENT), one ``executemany``."""
    if session.get_bind().dialect.name == "postgresql":
        ids = decision_sets.new_ids(session, "decisions", len(rows))
        decision_sets.copy_rows(session, "decisions", ["id", *rows[0]],
                                ([ident, *row.values()] for ident, row in zip(ids, rows, strict=True)))
        return ids
    decisions = Base.metadata.tables["decisions"]  # Core: the ORM's bulk path costs more than the database
    connection = session.connection()
    last = int(connection.execute(select(func.coalesce(func.max(decisions.c.id), 0))).scalar_one())
    ids = list(range(last + 1, last + 1 + len(rows)))
    connection.execute(insert(decisions), [{"id": ident, **row} for ident, row in zip(ids, rows, strict=True)])
    return ids


def _summary(lines: list[Line], author: str, restore: bool) -> schemas.LoadSummary:
    return schemas.LoadSummary(
        added=len(lines), group_decisions=sum(line.target == "group" for line in lines),
        mask_decisions=sum(line.target == "mask" for line in lines),
        masks_labelled=sum(len(line.masks) for line in lines),
        by_class=dict(Counter(class_name(line.class_id) or "?" for line in lines)),
        mode="restore" if restore else "load", recorded_as=None if restore else author, write_s=None)
