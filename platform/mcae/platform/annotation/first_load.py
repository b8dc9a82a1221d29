"""A first import's decisions (the project folder's ``decisions.jsonl``), applied in arrays.

At a project's first import nothing has decided any of its masks yet, and every decision
in force comes from the file, in its order: so the decision in force on each mask can be kept
as it goes, in one array (a small integer a mask), instead of asked of the database batch after
batch (``decision_sets.recompute``, what a later Load does: it must see the decisions already
there, undone or rejected ones among them). Same rules (``mask_classes.in_force``: a mask
correction beats a group decision, the later wins among one kind), same rows:

- ``decisions``: one a line, in order (ids in order: SQLite's next, PostgreSQL's sequence);
- ``decision_masks``: one a (decision, mask), with the mask's state before the decision's batch
  of ``ENGINE_BATCH`` lines (``decision_sets.write_links``'s granularity, kept);
- ``history``: one ``load`` entry a decision;
- the decided masks' classes, decisions, refinement and published class (``decision_sets.finish``,
  with ``mapped``), then their groups' versions and totals (``mask_classes.finish_groups``).

The lines are read as JSON and checked by a fast test for the engine's own shapes (a class id,
masks as ``[patch, mask id]`` pairs); any other line goes through the engine's ``Decision``
model, which refuses it with the same message, or fills in a group's masks from
``groups.parquet``. Rows go in as columns (``fast_rows``). Memory: one batch of decisions,
the masks' keys (``mask_keys``' arrays) and, per mask, the index of its decision in force
(4 bytes), per decision its id, class, fine class and kind (12 bytes).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mcae.inference.classes import MCAE
from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.decisions import GroupMembers, decision_of, iter_decision_items
from mcae.inference.errors import InputError
from mcae.platform.annotation import decision_sets, fast_rows
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.mask_classes import finish_groups
from mcae.platform.annotation.mask_keys import MaskPks
from mcae.platform.annotation.models import Base, Project, utcnow

CLASS_IDS = frozenset({0, *MCAE.ids})
TEXT_FIELDS = ("fine_class", "neighbourhood", "group", "patch", "at", "model_version", "author")
DECISION_COLUMNS = ("id", "project_id", "target", "class_id", "fine_class", "neighbourhood", "group_key", "patch",
                    "mask_id", "model_version", "author_id", "created_at", "source", "pass_no", "state", "review",
                    "restored_by")
HISTORY_COLUMNS = ("project_id", "at", "user_id", "action", "entity", "entity_id", "before", "after")
LINK_COLUMNS = ("decision_id", "mask_pk", "before_class", "before_fine", "before_decision")
# undecided by an Unknown in force: out of refinement only if not in a small group (CHANGES's rule)
REFINE_UNDECIDED = ("UPDATE load_state SET refine = (SELECT m.refine OR COALESCE(g.size < p.min_group_size, false) "
                    "FROM masks m JOIN projects p ON p.id = m.project_id LEFT JOIN groups g ON g.id = m.group_id "
                    "WHERE m.id = load_state.pk) WHERE refine IS NULL")
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


def load_file(session: Session, project_id: str, path: Any, groups: Callable[[], pd.DataFrame], author_id: int,
              source: str, batch: int, progress: Progress | None = None) -> int:
    """Record and apply the decisions of ``path`` at the first import of ``project_id`` (no
    decision of it in the database yet, masks just imported, their groups' locks held); returns
    how many. ``progress(lines read, lines in the file)`` after each batch."""
    project = project_row(session, project_id)
    decisions = Base.metadata.tables["decisions"]
    if session.scalar(select(decisions.c.id).where(decisions.c.project_id == project_id).limit(1)) is not None:
        raise RuntimeError("first_load is a first import's: the project has decisions already")
    total = count_lines(path) if progress is not None else 0
    state = _State()
    keys = _Keys(session, project_id)
    decision_sets.begin(session)  # its load_state table takes the masks' new states at the end
    count = 0
    if progress is not None:
        progress(0, total)
    for part in _batches(path, groups, project, keys, source, batch):
        state.add_batch(session, project_id, author_id, part, keys)
        count += len(part.records)
        if progress is not None:
            progress(count, max(total, count))
    if count:
        state.write_states(session)
        touched = decision_sets.finish(session, mapped=True)[1]
        finish_groups(session, touched)
    else:
        decision_sets.end(session)
    return count


def _batches(path: Any, groups: Callable[[], pd.DataFrame], project: Project, keys: _Keys, source: str,
             size: int) -> Iterator[Batch]:
    from mcae.platform.annotation.service import check_fine  # (service imports what imports this)

    members = GroupMembers(groups)
    part = Batch()
    now = utcnow()
    # number: the decision's place in the file (blank lines aside), as the history records it
    for number, (line, item) in enumerate(iter_decision_items(path), start=1):
        if not _fast(item, number, part, keys.codes, now, source):
            d = item if isinstance(item, EngineDecision) else decision_of(item, f"{path}:{line}")
            _add(part, number, members.resolve(d), keys.codes, now, source)
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

    def __init__(self, session: Session, project_id: str) -> None:
        self.reader = MaskPks(session, project_id)
        self.codes: dict[str, int] = {}  # patch name -> code, as the lines name them
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


class _State:
    """The decision in force on each decided mask (its index among the load's decisions, -1:
    none), by primary key (an array over the span of the keys seen), and per decision its id,
    class, fine class (a code) and whether it is a mask correction."""

    def __init__(self) -> None:
        self.base = 0
        self.force = np.zeros(0, np.int32)
        self.ids = np.zeros(0, np.int64)
        self.classes = np.zeros(0, np.int16)
        self.fines = np.zeros(0, np.int32)
        self.is_mask = np.zeros(0, bool)
        self.fine_names: list[str | None] = [None]
        self.fine_codes: dict[str | None, int] = {None: 0}
        self.count = 0
        self.next_id: int | None = None

    def add_batch(self, session: Session, project_id: str, author_id: int, part: Batch, keys: _Keys) -> None:
        """Record one batch: its decisions, their links (with the masks' state before the batch)
        and history; then the decisions in force after it."""
        n = len(part.records)
        sizes = np.asarray(part.sizes, np.int64)
        pks = keys.pks(np.asarray(part.patch_codes, np.int64), np.asarray(part.mask_ids, np.int64))
        missing = np.flatnonzero(pks == 0)
        if len(missing):
            at = int(missing[0])
            number = part.records[int(np.searchsorted(np.cumsum(sizes), at, side="right"))][0]
            patch = list(keys.codes)[part.patch_codes[at]]
            raise InputError(f"decision {number}: no mask {part.mask_ids[at]} in patch {patch}")
        ids = self._new_ids(session, n)
        self._grow_decisions(part, ids)
        first = self.count - n
        link_decision = np.repeat(np.arange(first, self.count, dtype=np.int64), sizes)
        slots = self._slots(pks)
        before = self.force[slots]
        self._write(session, project_id, author_id, part, ids, pks, link_decision, before)
        self._apply(slots, link_decision)

    def _new_ids(self, session: Session, n: int) -> np.ndarray:
        """Ids for ``n`` decisions, ascending (SQLite: the largest so far plus one, as this one
        writer's transaction holds the lock; PostgreSQL: from the sequence)."""
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            return np.asarray(decision_sets.new_ids(session, "decisions", n), np.int64)
        if self.next_id is None:
            decisions = Base.metadata.tables["decisions"]
            self.next_id = int(connection.execute(select(func.coalesce(func.max(decisions.c.id), 0))).scalar_one()) + 1
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        return ids

    def _grow_decisions(self, part: Batch, ids: np.ndarray) -> None:
        fines = [self.fine_codes.setdefault(r[3], len(self.fine_codes)) for r in part.records]
        if len(self.fine_names) < len(self.fine_codes):
            self.fine_names = list(self.fine_codes)
        self.ids = np.concatenate([self.ids, ids])
        self.classes = np.concatenate([self.classes, np.fromiter((r[2] for r in part.records), np.int16,
                                                                 len(part.records))])
        self.fines = np.concatenate([self.fines, np.asarray(fines, np.int32)])
        self.is_mask = np.concatenate([self.is_mask, np.fromiter((r[1] == "mask" for r in part.records), bool,
                                                                 len(part.records))])
        self.count += len(part.records)

    def _slots(self, pks: np.ndarray) -> np.ndarray:
        """Where these masks' entries are in ``force`` (grown to span them)."""
        lo, hi = int(pks.min()), int(pks.max())
        if not len(self.force):
            self.base = lo
            self.force = np.full(hi - lo + 1, -1, np.int32)
        elif lo < self.base or hi >= self.base + len(self.force):
            base = min(lo, self.base)
            grown = np.full(max(hi + 1, self.base + len(self.force)) - base, -1, np.int32)
            grown[self.base - base:self.base - base + len(self.force)] = self.force
            self.base, self.force = base, grown
        return pks - self.base

    def _write(self, session: Session, project_id: str, author_id: int, part: Batch, ids: np.ndarray,
               pks: np.ndarray, link_decision: np.ndarray, before: np.ndarray) -> None:
        tables = Base.metadata.tables
        records = part.records
        n = len(records)
        id_list = ids.tolist()
        fast_rows.write(session, tables["decisions"], DECISION_COLUMNS, [
            id_list, [project_id] * n, *(list(c) for c in list(zip(*records, strict=True))[1:8]),
            [r[9] for r in records], [author_id] * n, [r[10] for r in records], [r[8] for r in records], [1] * n,
            ["active"] * n, ["pending"] * n, [None] * n])
        known = before >= 0
        index = np.where(known, before, 0)
        classes = np.where(known, self.classes[index], 0)
        decided = known & (classes != 0)
        before_class = _nullable(classes, decided)
        before_fine = np.asarray(self.fine_names, object)[np.where(decided, self.fines[index], 0)].tolist()
        before_decision = _nullable(self.ids[index], known)
        fast_rows.write(session, tables["decision_masks"], LINK_COLUMNS, [
            ids[link_decision - (self.count - n)].tolist(), pks.tolist(), before_class, before_fine,
            before_decision])
        now = utcnow()
        sources = {r[8]: json.dumps(r[8]) for r in records}  # (as json.dumps writes the whole entry)
        after = [fast_rows.JSONText(f'{{"target": "{r[1]}", "class": {r[2]}, "masks": {size}, '
                                    f'"source": {sources[r[8]]}, "line": {r[0]}}}')
                 for r, size in zip(records, part.sizes, strict=True)]
        fast_rows.write(session, tables["history"], HISTORY_COLUMNS, [
            [project_id] * n, [now] * n, [author_id] * n, ["load"] * n, ["decision"] * n, [str(i) for i in id_list],
            [None] * n, after])

    def _apply(self, slots: np.ndarray, link_decision: np.ndarray) -> None:
        """The decision in force on each of the batch's masks after it: the batch's best (a mask
        correction first, then the later), if it beats the one in force (a mask correction beats
        any; a group decision beats a group decision)."""
        kind = self.is_mask[link_decision]
        order = np.lexsort((link_decision, kind, slots))
        ordered = slots[order]
        last = np.ones(len(order), bool)
        last[:-1] = ordered[1:] != ordered[:-1]
        best, where = link_decision[order[last]], ordered[last]
        current = self.force[where]
        wins = self.is_mask[best] | (current < 0) | ~self.is_mask[np.maximum(current, 0)]
        self.force[where[wins]] = best[wins].astype(np.int32)

    def write_states(self, session: Session) -> None:
        """The decided masks' new states into ``load_state`` (``decision_sets.finish`` writes them
        into the masks): class, fine class, deciding decision; refinement off where decided,
        and as ``decision_sets.CHANGES`` sets it where an Unknown is in force."""
        slots = np.flatnonzero(self.force >= 0)
        for start in range(0, len(slots), 100_000):
            part = slots[start:start + 100_000]
            index = self.force[part]
            classes = self.classes[index]
            decided = classes != 0
            fine_names = np.asarray(self.fine_names, object)
            table = _load_state_table(session)
            fast_rows.write(session, table, ("pk", "class_id", "fine_class", "decision_id", "refine"), [
                (part + self.base).tolist(), _nullable(classes, decided),
                fine_names[np.where(decided, self.fines[index], 0)].tolist(), self.ids[index].tolist(),
                [False if d else None for d in decided.tolist()]])
        session.connection().exec_driver_sql(REFINE_UNDECIDED)


def _nullable(values: np.ndarray, keep: np.ndarray) -> list[Any]:
    """``values`` as a list, None where not ``keep``."""
    out = values.astype(object)
    out[~keep] = None
    return list(out.tolist())


def _load_state_table(session: Session) -> Any:
    """``load_state`` (the temporary table ``decision_sets.begin`` made) as a ``Table``."""
    from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table

    return Table("load_state", MetaData(), Column("pk", BigInteger), Column("class_id", Integer),
                 Column("fine_class", String(64)), Column("decision_id", BigInteger), Column("refine", Boolean))
