"""Load's first pass: a decisions file read line by line, each line checked, masks resolved in
batches; nothing written. Every malformed input is an ``InputError`` naming its line (400).

What a line says of who and when is the server's to decide (``Stamp``): an ordinary Load
records the caller, the server's time and the project's model version; only an admin's
restore keeps the file's ``author``, ``at``, ``source`` and ``model_version``.
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.errors import InputError
from mcae.platform.annotation.mask_keys import MaskPks
from mcae.platform.annotation.models import Group, Mask, Project, User
from mcae.platform.annotation.service import check_fine
from mcae.tiles.errors import CapExceeded

KEYS_PER_QUERY = 400  # (patch, mask) pairs per IN list: 800 parameters, under every backend's limit
LENGTHS = {"neighbourhood": 32, "group": 32, "patch": 32, "source": 16, "model_version": 32, "author": 64}


@dataclass(frozen=True)
class Stamp:
    """Who and when, for every line of an ordinary Load (the caller, now, "load")."""

    author_id: int
    at: dt.datetime
    model_version: str | None
    restore: bool = False  # an admin's restore: the file's author, time, source and model version


@dataclass
class Line:
    """One checked decision, masks resolved to primary keys (compact: many are kept)."""

    number: int
    target: str
    class_id: int
    fine_class: str | None
    neighbourhood: str | None
    group: str | None
    patch: str | None
    mask: int | None
    author_id: int
    at: dt.datetime
    source: str
    model_version: str | None
    masks: array[int] = field(default_factory=lambda: array("q"))


def read_lines(file: IO[bytes], max_lines: int, max_line_bytes: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, JSON object) of each non-blank line; 400 naming the line for anything else."""
    for number, raw in enumerate(file, start=1):
        if number > max_lines:  # blank lines count: they cost reading too
            raise CapExceeded(number, max_lines, what="decisions file", unit="lines or more",
                              setting="load.max_lines", advice="split it into several loads")
        if len(raw) > max_line_bytes:
            raise InputError(f"decisions:{number}: the line is over {max_line_bytes:,} bytes (load.max_line_bytes)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"decisions:{number}: not UTF-8 text") from None
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except RecursionError:
            raise InputError(f"decisions:{number}: nested too deeply to be a decision") from None
        except ValueError as exc:
            raise InputError(f"decisions:{number}: not valid JSON ({getattr(exc, 'msg', 'bad value')})") from None
        if not isinstance(item, dict):
            raise InputError(f"decisions:{number}: a decision is a JSON object, one per line")
        yield number, item


def checked_lines(session: Session, project: Project, items: Iterable[tuple[int, dict[str, Any]]],
                  stamp: Stamp, batch: int) -> Iterator[Line]:
    """Each line validated and stamped, masks resolved ``batch`` lines at a time."""
    authors: dict[str, int] = {}
    pks = MaskPks(session, project.id)
    pending: list[tuple[Line, EngineDecision]] = []
    for number, item in items:
        try:
            d = EngineDecision.model_validate(item)
        except (ValidationError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise InputError(f"decisions:{number}: {_reason(exc)}") from None
        for name, cap in LENGTHS.items():
            value = getattr(d, name)
            if isinstance(value, str) and len(value) > cap:
                raise InputError(f"decisions:{number}: {name} is over {cap} characters")
        try:
            fine = check_fine(project, d.class_id, d.fine_class)
        except InputError as exc:
            raise InputError(f"decisions:{number}: {exc}") from None
        author_id, at, source, model_version = stamp.author_id, stamp.at, "load", stamp.model_version
        if stamp.restore:
            author_id = _author(session, authors, d.author, number) if d.author else stamp.author_id
            at = _time(d.at, number) if d.at else stamp.at
            source, model_version = d.source or "load", d.model_version
        pending.append((Line(number, d.target, d.class_id, fine, d.neighbourhood, d.group, d.patch, d.mask,
                             author_id, at, source, model_version), d))
        if len(pending) >= batch:
            yield from _resolved(session, project.id, pending, pks)
            pending = []
    yield from _resolved(session, project.id, pending, pks)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"{where}: {msg}"[:300] if where else msg[:300]
    if isinstance(exc, RecursionError):
        return "nested too deeply to be a decision"
    return str(exc).strip("'\"")[:300]


def _author(session: Session, seen: dict[str, int], name: str, number: int) -> int:
    if name not in seen:
        found = session.scalar(select(User.id).where(User.name == name))
        if found is None:
            raise InputError(f"decisions:{number}: no user {name[:64]!r} to restore as the author")
        seen[name] = found
    return seen[name]


def _time(text: str, number: int) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except (ValueError, TypeError):
        raise InputError(f"decisions:{number}: `at` is not an ISO 8601 time") from None
    at = at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)
    if at > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5):
        raise InputError(f"decisions:{number}: `at` lies in the future")
    return at


def _resolved(session: Session, project_id: str, pending: list[tuple[Line, EngineDecision]],
              pks: MaskPks) -> Iterator[Line]:
    """Resolve a batch's masks in a few queries: group members, then listed and single masks
    by ``pks`` (each patch read once per Load)."""
    groups = {(d.neighbourhood or "", d.group or "") for _, d in pending if d.target == "group" and d.masks is None}
    members = _group_members(session, project_id, groups)
    for line, d in pending:
        if d.target == "group" and d.masks is None:
            found = members.get((d.neighbourhood or "", d.group or ""))
            if found is None:
                raise InputError(f"decisions:{line.number}: no group {d.group} in neighbourhood {d.neighbourhood}")
            line.masks.extend(found)
        elif d.target == "group":
            for p, m in d.masks or []:
                pk = pks.get(str(p), int(m))
                if pk is None:
                    raise InputError(f"decisions:{line.number}: no mask {m} in patch {p}")
                line.masks.append(pk)
        else:
            pk = pks.get(d.patch or "", int(d.mask or 0), live_only=True)
            if pk is None:
                raise InputError(f"decisions:{line.number}: no mask {d.mask} in patch {d.patch} "
                                 "(or it lies in a neighbour's core)")
            line.masks.append(pk)
        if len(set(line.masks)) != len(line.masks):
            raise InputError(f"decisions:{line.number}: a mask appears twice")
        yield line


def _group_members(session: Session, project_id: str, keys: set[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), KEYS_PER_QUERY):
        part = ordered[start:start + KEYS_PER_QUERY]
        ids = {gid: (hood, key) for gid, hood, key in session.execute(
            select(Group.id, Group.neighbourhood, Group.key).where(
                Group.project_id == project_id, tuple_(Group.neighbourhood, Group.key).in_(part)))}
        for key in ids.values():
            out.setdefault(key, [])
        gids = sorted(ids)
        for g_start in range(0, len(gids), KEYS_PER_QUERY):
            for gid, pk in session.execute(
                    select(Mask.group_id, Mask.id).where(Mask.group_id.in_(gids[g_start:g_start + KEYS_PER_QUERY]),
                                                         Mask.present.is_(True)).order_by(Mask.id)):
                if gid is not None:
                    out[ids[gid]].append(pk)
    return {k: v for k, v in out.items() if v}
