"""A first import's decisions (the project folder's ``decisions.jsonl``), applied as the masks
go in.

At a project's first import nothing has decided any of its masks yet, and every decision in
force comes from the file, in its order: so the decision in force on each mask can be kept as it
goes, in one array (a small integer a mask), instead of asked of the database batch after batch
(``decision_sets``, what a later Load does: it must see the decisions already there, undone or
rejected ones among them), and the masks written once, decided, rather than written and then
rewritten (and their groups' totals counted twice). Same rules (``mask_classes.in_force``: a mask
correction beats a group decision, the later wins among one kind), same rows as the set-based
load (``tests/test_first_load.py``). In two passes over the file:

1. ``record_file``, before the masks: the ``decisions`` (one a line, ids in order: SQLite's next,
   PostgreSQL's sequence) and their ``history`` entries; the decision in force on each mask of
   the masks file (``Plan``), which the masks then go in with (``Plan.mask_columns``: class,
   fine class, decision, published class, version) and their groups' totals count;
2. ``link_file``, after: ``decision_masks``, one a (decision, mask), with the mask's state before
   the decision's batch of ``ENGINE_BATCH`` lines (``decision_sets.write_links``'s granularity,
   kept); a mask the project lacks is refused here, naming the decision.

The lines are read as JSON and checked by a fast test for the engine's own shapes (a class id,
masks as ``[patch, mask id]`` pairs); any other line goes through the engine's ``Decision``
model, which refuses it with the same message, or fills in a group's masks from
``groups.parquet``. Rows go in as columns (``fast_rows``). Memory: one batch of decisions, per
mask of the city the index of its decision in force (4 bytes, twice: by row of the masks file,
then by primary key) and the masks' keys (``mask_keys``' arrays), per decision 15 bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mcae.inference.classes import MCAE
from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.decisions import GroupMembers, decision_of, iter_decision_items
from mcae.inference.errors import InputError
from mcae.platform.annotation import decision_sets, fast_rows
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.mask_keys import MaskPks
from mcae.platform.annotation.mask_stream import BoxIndex
from mcae.platform.annotation.models import Base, Project, utcnow

CLASS_IDS = frozenset({0, *MCAE.ids})
TEXT_FIELDS = ("fine_class", "neighbourhood", "group", "patch", "at", "model_version", "author")
DECISION_COLUMNS = ("id", "project_id", "target", "class_id", "fine_class", "neighbourhood", "group_key", "patch",
                    "mask_id", "model_version", "author_id", "created_at", "source", "pass_no", "state", "review",
                    "restored_by")
HISTORY_COLUMNS = ("project_id", "at", "user_id", "action", "entity", "entity_id", "before", "after")
LINK_COLUMNS = ("decision_id", "mask_pk", "before_class", "before_fine", "before_decision")
Progress = Callable[[int, int], None]


@dataclass
class Batch:
    """Some decisions, as read: one tuple a decision (line number, target, class, fine class,
    neighbourhood, group, patch, mask id, source, model version, time), and their masks' keys
    (a patch code and a mask id a link, ``sizes`` links a decision)."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    patch_codes: list[int] = field(default_factory=list)
    mask_ids: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


def count_lines(path: Any) -> int:
    """Lines of a file (what a progress bar's total is), counted a megabyte at a time."""
    lines = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


class Decided:
    """The file's decisions, in order, as numbers: id, class, fine class (a code into
    ``fine_names``) and whether it is a mask correction."""

    def __init__(self) -> None:
        self.count = 0
        self._columns: dict[str, np.ndarray] = {"ids": np.zeros(0, np.int64), "classes": np.zeros(0, np.int16),
                         "fines": np.zeros(0, np.int32), "is_mask": np.zeros(0, bool)}
        self.fine_names: list[str | None] = [None]
        self.fine_codes: dict[str | None, int] = {None: 0}

    def __len__(self) -> int:
        return self.count

    @property
    def ids(self) -> np.ndarray:
        return self._columns["ids"][:self.count]

    @property
    def classes(self) -> np.ndarray:
        return self._columns["classes"][:self.count]

    @property
    def fines(self) -> np.ndarray:
        return self._columns["fines"][:self.count]

    @property
    def is_mask(self) -> np.ndarray:
        return self._columns["is_mask"][:self.count]

    def add(self, part: Batch, ids: np.ndarray) -> None:
        """A batch's decisions, with their ids (the columns grow by doubling: no copy a batch)."""
        fines = [self.fine_codes.setdefault(r[3], len(self.fine_codes)) for r in part.records]
        if len(self.fine_names) < len(self.fine_codes):
            self.fine_names = list(self.fine_codes)
        n, start = len(part.records), self.count
        values = {"ids": ids, "classes": np.fromiter((r[2] for r in part.records), np.int16, n),
                  "fines": np.asarray(fines, np.int32),
                  "is_mask": np.fromiter((r[1] == "mask" for r in part.records), bool, n)}
        for name, column in self._columns.items():
            if start + n > len(column):
                column = self._columns[name] = np.resize(column, max(2 * len(column), start + n, 1024))
            column[start:start + n] = values[name]
        self.count += n

    def states(self, index: np.ndarray) -> tuple[list[Any], list[Any], list[Any]]:
        """(class, fine class, decision id) a mask has with these decisions in force on it
        (-1: none), as the database takes them: None for none; an Unknown leaves the class
        (and fine class) None but is the mask's decision."""
        known = index >= 0
        at = np.where(known, index, 0)
        classes = np.where(known, self.classes[at], 0)
        decided = known & (classes != 0)
        fines = np.asarray(self.fine_names, object)[np.where(decided, self.fines[at], 0)].tolist()
        return _nullable(classes, decided), fines, _nullable(self.ids[at], known)


class InForce:
    """The decision in force on each mask (its index in ``Decided``, -1: none), by a number of
    the mask's (a primary key, a row of the masks file): an array over the span of those seen."""

    def __init__(self, size: int = 0) -> None:
        self.base = 0
        self.force = np.full(size, -1, np.int32)

    def slots(self, keys: np.ndarray) -> np.ndarray:
        """Where these masks' entries are in ``force`` (grown to span them)."""
        lo, hi = int(keys.min()), int(keys.max())
        if not len(self.force):
            self.base = lo
            self.force = np.full(hi - lo + 1, -1, np.int32)
        elif lo < self.base or hi >= self.base + len(self.force):
            base = min(lo, self.base)
            grown = np.full(max(hi + 1, self.base + len(self.force)) - base, -1, np.int32)
            grown[self.base - base:self.base - base + len(self.force)] = self.force
            self.base, self.force = base, grown
        return keys - self.base

    def apply(self, decided: Decided, slots: np.ndarray, link_decision: np.ndarray) -> None:
        """The decision in force on each of a batch's masks after it: the batch's best (a mask
        correction first, then the later), if it beats the one in force (a mask correction beats
        any; a group decision beats a group decision: the batch's come later)."""
        if not len(slots):
            return
        is_mask = decided.is_mask
        order = np.lexsort((link_decision, is_mask[link_decision], slots))
        ordered = slots[order]
        last = np.ones(len(order), bool)
        last[:-1] = ordered[1:] != ordered[:-1]
        best, where = link_decision[order[last]], ordered[last]
        current = self.force[where]
        wins = is_mask[best] | (current < 0) | ~is_mask[np.maximum(current, 0)]
        self.force[where[wins]] = best[wins].astype(np.int32)


@dataclass
class Plan:
    """What pass 1 (``record_file``) leaves for the masks and for pass 2: the decisions, and the
    one in force on each mask of the masks file (by its row in ``BoxIndex``)."""

    decided: Decided
    force: np.ndarray
    lines: int
    codes: dict[str, int]  # patch name -> the code ``links`` names it by
    links: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per batch: masks' patch codes, mask ids; sizes

    def mask_columns(self, rows: np.ndarray, small: np.ndarray, pred_class: Any) -> dict[str, pa.Array]:
        """The masks table's columns for these masks (their rows in the masks file; ``small``:
        whether each one's group is smaller than ``min_group_size``) with the decisions applied,
        as the set-based load left them: class, fine class and decision of the one in force,
        the class as published (the predicted one where undecided), and the version (one more
        for the decision, one more for a decided mask of a small group, which went to
        refinement before its decision: an undecided one goes there after, ``send_small_groups``)."""
        index = self.force[rows]
        classes, fines, ids = self.decided.states(index)
        cls = pa.array(classes, pa.int64())
        decided = np.asarray(pc.is_valid(cls))
        version = 1 + (index >= 0) + (decided & small)
        return {"class_id": cls, "fine_class": pa.array(fines, pa.string()), "decision_id": pa.array(ids, pa.int64()),
                "mapped_class": pc.coalesce(cls, pc.cast(pred_class, pa.int64())),
                "version": pa.array(version.astype(np.int64))}

    def forced(self, rows: np.ndarray) -> np.ndarray:
        """Whether a decision is in force on each of these masks (an Unknown too)."""
        return np.asarray(self.force[rows] >= 0)

    def class_ids(self, rows: np.ndarray) -> np.ndarray:
        """Each mask's class, 0 where undecided (``GroupTotals.add``'s)."""
        index = self.force[rows]
        return np.where(index >= 0, self.decided.classes[np.maximum(index, 0)], 0).astype(np.int64)


def record_file(session: Session, project_id: str, path: Any, groups: Callable[[], pd.DataFrame], author_id: int,
                source: str, batch: int, boxes: BoxIndex, progress: Progress | None = None) -> Plan | None:
    """Pass 1, before the masks go in: the file's decisions and their history recorded (ids in
    order), and the decision in force on each mask found; None for an empty file.
    ``progress(done, total)``: the first half of the file's lines (pass 2 the second)."""
    if not path.is_file() or path.stat().st_size == 0:  # nothing to read (nor the groups to resolve it by)
        return None
    project = project_row(session, project_id)
    decisions = Base.metadata.tables["decisions"]
    if session.scalar(select(decisions.c.id).where(decisions.c.project_id == project_id).limit(1)) is not None:
        raise RuntimeError("first_load is a first import's: the project has decisions already")
    total = count_lines(path)
    decided = Decided()
    force = InForce(len(boxes.boxes))
    codes: dict[str, int] = {}
    box_codes = np.zeros(0, np.int64)  # per patch code: BoxIndex's (-1: a patch the masks file lacks)
    ids = _Ids(session, total + 1)  # (at most a decision a line, and one after the last newline)
    links: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if progress is not None:
        progress(0, total)
    for part in _batches(path, groups, project, codes, source, batch):
        first = len(decided)
        decided.add(part, ids.take(len(part.records)))
        _record(session, project_id, author_id, part, decided.ids[first:])
        if len(box_codes) < len(codes):
            box_codes = np.concatenate([box_codes, np.fromiter(
                (boxes.names.get(name, -1) for name in list(codes)[len(box_codes):]), np.int64)])
        patch_codes, mask_ids = np.asarray(part.patch_codes, np.int32), np.asarray(part.mask_ids, np.int64)
        rows = boxes.rows_of(box_codes[patch_codes], mask_ids)
        link_decision = np.repeat(np.arange(first, len(decided), dtype=np.int64), part.sizes)
        known = rows >= 0  # (one the masks lack is refused by pass 2, naming it)
        force.apply(decided, rows[known], link_decision[known])
        # kept for pass 2 (8 bytes a link; a mask id past int32 is one no project has: refused there)
        links.append((patch_codes, np.clip(mask_ids, -1, 2**31 - 1).astype(np.int32), np.asarray(part.sizes, np.int32)))
        if progress is not None:
            progress(len(decided) // 2, max(total, len(decided)))
    if not len(decided):
        return None
    return Plan(decided, force.force, max(total, len(decided)), codes, links)


def link_file(session: Session, project_id: str, plan: Plan, progress: Progress | None = None) -> int:
    """Pass 2, the masks in: each decision's masks (``decision_masks``, from the links pass 1
    kept) with the state each had before the decision's batch; returns how many decisions. A
    mask the project lacks is refused, naming the decision."""
    keys = _Keys(session, project_id, plan.codes)
    names = list(plan.codes)
    force = InForce()
    done = 0
    while plan.links:
        patch_codes, mask_ids, sizes = plan.links.pop(0)  # (each batch's freed as it goes)
        n = len(sizes)
        pks = keys.pks(patch_codes.astype(np.int64), mask_ids.astype(np.int64))
        missing = np.flatnonzero(pks == 0)
        if len(missing):
            at = int(missing[0])
            number = done + 1 + int(np.searchsorted(np.cumsum(sizes), at, side="right"))
            raise InputError(f"decision {number}: no mask {mask_ids[at]} in patch {names[patch_codes[at]]}")
        link_decision = np.repeat(np.arange(done, done + n, dtype=np.int64), sizes)
        slots = force.slots(pks) if len(pks) else pks
        before = force.force[slots] if len(pks) else np.zeros(0, np.int32)
        before_class, before_fine, before_decision = plan.decided.states(before)
        fast_rows.write(session, Base.metadata.tables["decision_masks"], LINK_COLUMNS, [
            plan.decided.ids[link_decision].tolist(), pks.tolist(), before_class, before_fine, before_decision])
        force.apply(plan.decided, slots, link_decision)
        done += n
        if progress is not None:
            progress((plan.lines + done) // 2, plan.lines)
    if progress is not None:
        progress(plan.lines, plan.lines)
    return done


class _Ids:
    """Ids for the decisions, ascending (SQLite: the largest so far plus one, as this one
    writer's transaction holds the lock; PostgreSQL: from the sequence, ``most`` drawn at
    once, those a blank line left unused skipped)."""

    def __init__(self, session: Session, most: int) -> None:
        self.session, self.most = session, most
        self.next: int | None = None
        self.drawn = np.zeros(0, np.int64)

    def take(self, n: int) -> np.ndarray:
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            if len(self.drawn) < n:
                self.drawn = np.concatenate([self.drawn, np.asarray(decision_sets.new_ids(
                    self.session, "decisions", max(n - len(self.drawn), self.most)), np.int64)])
                self.most = 0
            ids, self.drawn = self.drawn[:n], self.drawn[n:]
            return ids
        if self.next is None:
            decisions = Base.metadata.tables["decisions"]
            self.next = int(connection.execute(select(func.coalesce(func.max(decisions.c.id), 0))).scalar_one()) + 1
        ids = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return ids


def _record(session: Session, project_id: str, author_id: int, part: Batch, ids: np.ndarray) -> None:
    """One batch's decisions and their history entries."""
    tables = Base.metadata.tables
    records = part.records
    n = len(records)
    id_list = ids.tolist()
    fast_rows.write(session, tables["decisions"], DECISION_COLUMNS, [
        id_list, [project_id] * n, *(list(c) for c in list(zip(*records, strict=True))[1:8]),
        [r[9] for r in records], [author_id] * n, [r[10] for r in records], [r[8] for r in records], [1] * n,
        ["active"] * n, ["pending"] * n, [None] * n])
    now = utcnow()
    sources = {r[8]: json.dumps(r[8]) for r in records}  # (as json.dumps writes the whole entry)
    after = [fast_rows.JSONText(f'{{"target": "{r[1]}", "class": {r[2]}, "masks": {size}, '
                                f'"source": {sources[r[8]]}, "line": {r[0]}}}')
             for r, size in zip(records, part.sizes, strict=True)]
    fast_rows.write(session, tables["history"], HISTORY_COLUMNS, [
        [project_id] * n, [now] * n, [author_id] * n, ["load"] * n, ["decision"] * n, [str(i) for i in id_list],
        [None] * n, after])


def _batches(path: Any, groups: Callable[[], pd.DataFrame], project: Project, codes: dict[str, int], source: str,
             size: int) -> Iterator[Batch]:
    from mcae.platform.annotation.service import check_fine  # (service imports what imports this)

    members = GroupMembers(groups)
    part = Batch()
    now = utcnow()
    # number: the decision's place in the file (blank lines aside), as the history records it
    for number, (line, item) in enumerate(iter_decision_items(path), start=1):
        if not _fast(item, number, part, codes, now, source):
            d = item if isinstance(item, EngineDecision) else decision_of(item, f"{path}:{line}")
            _add(part, number, members.resolve(d), codes, now, source)
        record = part.records[-1]
        if record[3] is not None:
            part.records[-1] = (*record[:3], check_fine(project, record[2], record[3]), *record[4:])
        if len(part.records) >= size:
            yield part
            part, now = Batch(), utcnow()
    if part.records:
        yield part


def _fast(item: Any, number: int, part: Batch, codes: dict[str, int], now: dt.datetime, source: str) -> bool:
    """Add ``item`` to ``part`` if it has one of the engine's own shapes, exactly as the
    ``Decision`` model would read it; False (nothing added) for anything else."""
    if type(item) is not dict:
        return False
    get = item.get
    target, cls = get("target"), get("class")
    if type(cls) is not int or cls not in CLASS_IDS or target not in ("group", "mask"):
        return False
    for name in TEXT_FIELDS:
        value = get(name)
        if value is not None and type(value) is not str:
            return False
    src, ident, mask, masks = get("source", "file"), get("id"), get("mask"), get("masks")
    if type(src) is not str or (ident is not None and type(ident) is not int) or (
            mask is not None and type(mask) is not int):
        return False
    if target == "mask":
        patch = get("patch")
        if patch is None or mask is None or (masks is not None and not _pairs(masks)):
            return False
        part.patch_codes.append(codes.setdefault(patch, len(codes)))
        part.mask_ids.append(mask)
        part.sizes.append(1)
    else:
        if type(masks) is not list or not (masks or (get("neighbourhood") and get("group"))):
            return False  # no masks (to fill in from the groups), or not what the model takes
        start = len(part.mask_ids)
        for pair in masks:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not int:
                del part.patch_codes[start:], part.mask_ids[start:]
                return False
            part.patch_codes.append(codes.setdefault(pair[0], len(codes)))
            part.mask_ids.append(pair[1])
        part.sizes.append(len(masks))
    part.records.append((number, target, cls, get("fine_class"), get("neighbourhood"), get("group"), get("patch"),
                         mask, src or source, get("model_version"), _time(get("at"), now, number)))
    return True


def _pairs(masks: Any) -> bool:
    return type(masks) is list and all(type(p) is list and len(p) == 2 and type(p[0]) is str and type(p[1]) is int
                                       for p in masks)


def _add(part: Batch, number: int, d: EngineDecision, codes: dict[str, int], now: dt.datetime, source: str) -> None:
    """A decision the model read (and resolved), as ``_fast`` adds one."""
    pairs = [(str(p), int(i)) for p, i in (d.masks or [])] if d.target == "group" else [(d.patch or "",
                                                                                         int(d.mask or 0))]
    part.patch_codes.extend(codes.setdefault(p, len(codes)) for p, _ in pairs)
    part.mask_ids.extend(i for _, i in pairs)
    part.sizes.append(len(pairs))
    part.records.append((number, d.target, d.class_id, d.fine_class, d.neighbourhood, d.group, d.patch, d.mask,
                         d.source or source, d.model_version, _time(d.at, now, number)))


def _time(text: str | None, now: dt.datetime, number: int) -> dt.datetime:
    """A decision's time (``dump_load._time``'s rule): the line's, or now if it has none."""
    if not text:
        return now
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"decision {number}: `at` is not an ISO 8601 time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


class _Keys:
    """``(patch code, mask id) -> primary key``, vectorised: each patch's keys (``MaskPks``, read
    once) laid end to end in one array, found at the patch's offset plus the mask id."""

    def __init__(self, session: Session, project_id: str, codes: dict[str, int]) -> None:
        self.reader = MaskPks(session, project_id)
        self.codes = codes  # patch name -> code, as the lines name them
        self.offsets = np.zeros(0, np.int64)
        self.sizes = np.zeros(0, np.int64)
        self.flat = np.zeros(0, np.int64)
        self.used = 0

    def pks(self, patch_codes: np.ndarray, mask_ids: np.ndarray) -> np.ndarray:
        """The masks' primary keys; 0 where the project has no such mask."""
        self._read_new()
        inside = (mask_ids >= 0) & (mask_ids < self.sizes[patch_codes])
        out = np.zeros(len(mask_ids), np.int64)
        out[inside] = self.flat[self.offsets[patch_codes[inside]] + mask_ids[inside]]
        return out

    def _read_new(self) -> None:
        names = list(self.codes)[len(self.offsets):]
        if not names:
            return
        offsets, sizes = [], []
        for name in names:
            pks = self.reader._read(name)[0]
            if self.used + len(pks) > len(self.flat):
                grown = np.zeros(max(2 * len(self.flat), self.used + len(pks), 1 << 16), np.int64)
                grown[:self.used] = self.flat[:self.used]
                self.flat = grown
            self.flat[self.used:self.used + len(pks)] = pks
            offsets.append(self.used)
            sizes.append(len(pks))
            self.used += len(pks)
        self.offsets = np.concatenate([self.offsets, np.asarray(offsets, np.int64)])
        self.sizes = np.concatenate([self.sizes, np.asarray(sizes, np.int64)])


def _nullable(values: np.ndarray, keep: np.ndarray) -> list[Any]:
    """``values`` as a list, None where not ``keep``."""
    out = values.astype(object)
    out[~keep] = None
    return list(out.tolist())
