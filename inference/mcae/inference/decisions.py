"""The expert's decisions and the mask labels they imply.

A decisions file is JSON Lines (one object per line) or a JSON list. Each decision
labels a whole group or one mask::

    {"target": "group", "neighbourhood": "1-1", "group": "3-5", "class": "Tree"}
    {"target": "mask", "patch": "0-2", "mask": 17, "class": 8, "fine_class": "Factory"}

``class`` is an MCAE id (1-9) or name, or 0 / "Unknown", which takes a label back (the
masks are undecided again). A group decision is resolved to its member
masks when it is recorded (groups change after retraining; decisions must not).
Mask decisions override group decisions; among decisions of one kind the later wins.
"""

from __future__ import annotations

import itertools
import json
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mcae.inference.atomic import atomic_path
from mcae.inference.classes import MCAE
from mcae.inference.errors import InputError, ProjectStateError
from mcae.inference.project import Project

UNKNOWN = 0  # "Unknown": a decision that leaves its masks undecided


class Decision(BaseModel):
    """One expert action."""

    model_config = ConfigDict(populate_by_name=True)

    target: Literal["group", "mask"]
    class_id: int = Field(alias="class")
    fine_class: str | None = None
    neighbourhood: str | None = None
    group: str | None = None
    patch: str | None = None
    mask: int | None = None
    masks: list[tuple[str, int]] | None = None
    source: str = "file"
    # provenance kept by the annotation service (ignored by the engine's rules)
    id: int | None = None
    author: str | None = None
    at: str | None = None
    model_version: str | None = None

    @field_validator("class_id", mode="before")
    @classmethod
    def _class(cls, value: Any) -> int:
        if isinstance(value, str) and not value.strip().isdigit():
            if value.strip().lower() == "unknown":
                return UNKNOWN
            try:
                return MCAE.id_of(value)
            except LookupError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
                isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"class must be an MCAE class id (1-9, or 0 for Unknown) or name, not {value!r}")
        number = int(value)
        if number != UNKNOWN and number not in MCAE.ids:
            raise ValueError(f"class {number} is not an MCAE class id (1-9, or 0 for Unknown)")
        return number

    @field_validator("mask", mode="before")
    @classmethod
    def _mask(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"a mask id is a whole number, not {value!r}")
        return value

    @model_validator(mode="after")
    def _target_fields(self) -> Decision:
        if self.target == "group" and not ((self.neighbourhood and self.group) or self.masks):
            raise ValueError("a group decision needs neighbourhood and group")
        if self.target == "mask" and (self.patch is None or self.mask is None):
            raise ValueError("a mask decision needs patch and mask")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


def parse_decisions(text: str, origin: str = "decisions") -> list[Decision]:
    """Decisions from JSON Lines or a JSON list; errors name the line at fault."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            items = [(i + 1, item) for i, item in enumerate(json.loads(stripped))]
        except json.JSONDecodeError as exc:
            raise InputError(f"{origin}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{origin}:{number}: not valid JSON ({exc.msg})") from None
    return [decision_of(item, f"{origin}:{number}") for number, item in items]


def decision_of(item: Any, where: str) -> Decision:
    """One decision, validated; InputError naming ``where`` (file:line) otherwise."""
    try:
        return Decision.model_validate(item)
    except (ValidationError, LookupError, ValueError) as exc:
        raise InputError(f"{where}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else str(err["msg"])
    return str(exc)


def resolve(decisions: list[Decision], groups: pd.DataFrame) -> list[Decision]:
    """Fill in each group decision's member masks; refuse unknown groups and masks.

    Vectorised over the city's masks (no Python object per mask): a group's members are
    positions of ``groups``, and the masks the decisions name are joined against it."""
    missing = _unknown_masks(decisions, groups)
    for d in decisions:
        if d.target == "mask" and (d.patch, d.mask) in missing:
            raise InputError(f"no mask {d.mask} in patch {d.patch} (or it lies in a neighbour's core)")
    return list(iter_resolved(decisions, groups))


def iter_resolved(decisions: Iterable[Decision],
                  groups: pd.DataFrame | Callable[[], pd.DataFrame]) -> Iterator[Decision]:
    """Each group decision with its member masks filled in, one decision at a time (an unknown
    group is refused; the masks a mask decision names are checked by whoever records it).

    ``groups`` may be a function that reads them: it is called only if a group decision lacks
    its masks (a decisions file the engine wrote names them: a city's groups table, a few
    hundred MB as a frame, is then never read)."""
    members = GroupMembers(groups)
    for d in decisions:
        yield members.resolve(d)


class GroupMembers:
    """The member masks of groups, read (``groups``, a frame or a function that reads one) only
    when a group decision lacks its masks (``iter_resolved``, one decision at a time)."""

    def __init__(self, groups: pd.DataFrame | Callable[[], pd.DataFrame]) -> None:
        self.groups = groups
        self.members: dict[Any, np.ndarray] | None = None
        self.patches = self.mask_ids = np.empty(0)

    def resolve(self, d: Decision) -> Decision:
        """``d``, a group decision's masks filled in if it lacks them."""
        if d.target != "group" or d.masks is not None:
            return d
        if self.members is None:
            table = self.groups() if callable(self.groups) else self.groups
            self.members = table.groupby(["neighbourhood", "group"], sort=False).indices
            self.patches, self.mask_ids = table["patch"].to_numpy(), table["mask_id"].to_numpy()
            del table
        rows = self.members.get((d.neighbourhood, d.group))
        if rows is None:
            raise InputError(f"no group {d.group} in neighbourhood {d.neighbourhood}")
        return d.model_copy(update={"masks": [(str(p), int(m)) for p, m in
                                              zip(self.patches[rows], self.mask_ids[rows], strict=True)]})


def _unknown_masks(decisions: list[Decision], groups: pd.DataFrame) -> set[tuple[str, int]]:
    """The (patch, mask) keys of mask decisions that name no mask of ``groups``."""
    named = pd.DataFrame([(d.patch, d.mask) for d in decisions if d.target == "mask"], columns=["patch", "mask_id"])
    if named.empty:
        return set()
    have = groups[["patch", "mask_id"]].astype({"mask_id": "int64"}).drop_duplicates()
    found = named.astype({"mask_id": "int64"}).merge(have, how="left", indicator=True)
    return {(str(p), int(m)) for p, m in found.loc[found["_merge"] == "left_only", ["patch", "mask_id"]]
            .itertuples(index=False)}


DATABASE_STORE = "database"


def decisions_in_database(project: Project) -> bool:
    """Whether the project's decisions live in the annotation database (not the JSONL file)."""
    return project.manifest.get("decisions_store") == DATABASE_STORE


def read_decisions(project: Project) -> list[Decision]:
    """The project's decisions from ``decisions.jsonl`` (refused once a database owns them)."""
    return list(iter_decisions(project))


def iter_decisions(project: Project) -> Iterator[Decision]:
    """The project's decisions one at a time, read line by line (refused once a database owns
    them): what a city's map and export read, so only one decision's masks are in memory at once
    (a JSON list, which only hand-written files use, is read whole)."""
    if decisions_in_database(project):
        raise ProjectStateError(
            f"{project.root}: this project's decisions live in the annotation database; "
            "the platform's commands (`mcae train`, `mcae map`, `mcae label`) read and write them there")
    path = project.decisions_path
    if path.is_file():
        yield from iter_decisions_file(path)


def iter_decisions_file(path: str | Path) -> Iterator[Decision]:
    """The decisions of a JSON Lines file one at a time (a JSON list is read whole); errors name
    the line at fault."""
    for number, item in iter_decision_items(path):
        yield item if isinstance(item, Decision) else decision_of(item, f"{path}:{number}")


def iter_decision_items(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, the line's JSON value) of each non-blank line of a JSON Lines decisions
    file, not yet validated (``decision_of`` does: a reader with a faster way for the common
    case may take it); a JSON list is read whole and given as validated ``Decision`` records.
    Errors (not UTF-8, not JSON) name the line at fault."""
    path = Path(path)
    with path.open("rb") as lines:
        head = lines.read(4096).lstrip()
        lines.seek(0)
        if head.startswith(b"["):
            yield from enumerate(parse_decisions(_utf8(lines.read(), path, 0), str(path)), start=1)
            return
        offset = 0
        for number, raw in enumerate(lines, start=1):
            line = _utf8(raw, path, offset)
            offset += len(raw)
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            yield number, item


class DecisionsFile:
    """A decisions file (JSON Lines) as a stream that can be read again: each ``iter`` reads it
    from the start, line by line. What the engine's readers (``train``, ``write_map``,
    ``mask_classes``) take in place of a list, so a city's decisions are never all in memory;
    ``count`` is how many it holds, when the writer knows (``write_decisions`` returns it)."""

    def __init__(self, path: str | Path, count: int | None = None) -> None:
        self.path, self.count = Path(path), count

    def __iter__(self) -> Iterator[Decision]:
        return iter_decisions_file(self.path)

    def __len__(self) -> int:
        if self.count is None:
            self.count = sum(1 for _ in self)
        return self.count


def write_decisions(path: str | Path, decisions: Iterable[Decision]) -> int:
    """Write ``decisions`` to ``path`` as JSON Lines, one line as each comes, atomically (an
    interrupted write leaves the old file, or none); returns how many."""
    count = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as out:
        for d in decisions:
            out.write(d.to_json() + "\n")
            count += 1
    return count


def _utf8(raw: bytes, path: Path, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {offset + exc.start})") from None


def record_decisions(project: Project, new: Iterable[Decision],
                     seen: Callable[[Decision], None] | None = None) -> int:
    """Append decisions to the project's log in one atomic rewrite; returns how many it holds now.

    Streamed: the decisions already recorded, then ``new``, are written a line as each comes
    (``new`` may be a generator, e.g. the simulated expert's), never gathered in a list; an
    interruption leaves the old file as it was. ``seen`` is called with each decision written
    (e.g. ``MaskLabels.add``: the labels of the whole log without reading it back)."""
    everything: Iterable[Decision] = itertools.chain(iter_decisions(project), new)
    if seen is not None:
        everything = _tapped(everything, seen)
    return write_decisions(project.decisions_path, everything)


def _tapped(decisions: Iterable[Decision], seen: Callable[[Decision], None]) -> Iterator[Decision]:
    for d in decisions:
        seen(d)
        yield d


def mask_labels(decisions: Iterable[Decision]) -> pd.DataFrame:
    """Per decided mask: ``class_id``, ``fine_class`` and ``via`` (group or mask).

    Indexed by (patch, mask_id). ``decisions`` may be a stream (``iter_decisions``): they are
    gathered as columns of numbers (a patch code, a mask id, a class and a fine-class code a
    label, about 16 bytes), never as a Python object per mask (``MaskLabels``).
    """
    tally = MaskLabels()
    for d in decisions:
        tally.add(d)
    return tally.frame()


class MaskLabels:
    """The mask labels of decisions added one at a time (``add``), as ``mask_labels`` makes them
    (``frame``): a writer can tally the decisions it writes without reading them back."""

    def __init__(self) -> None:
        self.patches: dict[str, int] = {}
        self.fines: dict[str | None, int] = {None: 0}
        self.kinds = {"group": _Columns(), "mask": _Columns()}

    def add(self, d: Decision) -> None:
        patches = self.patches
        fine = self.fines.setdefault(d.fine_class, len(self.fines))
        if d.target == "group":
            pairs = d.masks or []
            self.kinds["group"].add([patches.setdefault(str(p), len(patches)) for p, _ in pairs],
                                    [int(m) for _, m in pairs], d.class_id, fine)
        else:
            self.kinds["mask"].add([patches.setdefault(d.patch or "", len(patches))], [int(d.mask or 0)],
                                   d.class_id, fine)

    def frame(self) -> pd.DataFrame:
        """Per decided mask: ``class_id``, ``fine_class`` and ``via``, indexed by (patch, mask_id)."""
        group, mask = (self.kinds[k].frame(k) for k in ("group", "mask"))
        group = group[~group.index.isin(mask.index)]  # a mask decision overrides any group decision
        frame = pd.concat([group, mask])
        frame = frame[frame["class_id"] != UNKNOWN]
        names = np.array(list(self.patches), dtype=object)
        fine_names = np.array(list(self.fines), dtype=object)
        index = pd.MultiIndex.from_arrays([names[frame.index.get_level_values(0).to_numpy(np.int64)],
                                           frame.index.get_level_values(1).to_numpy(np.int64)],
                                          names=["patch", "mask_id"])
        out = pd.DataFrame({"class_id": frame["class_id"].to_numpy(np.int64),
                            "fine_class": fine_names[frame["fine"].to_numpy(np.int64)],
                            "via": frame["via"].to_numpy(object)}, index=index)
        return out.sort_index()


    def compact(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``frame``'s decided masks and classes as numbers, in its order (patch id, mask id):
        (the patch ids, sorted; per mask a code into them, its mask id, its class id). About 13
        bytes a mask, no Python object per mask (what ``train`` reads a city's labels into)."""
        names = np.array(list(self.patches), dtype=object)
        rank = np.empty(len(names), np.int64)
        rank[np.argsort(names, kind="stable")] = np.arange(len(names))
        group, mask = (self.kinds[k].last(rank) for k in ("group", "mask"))
        kept = ~np.isin(group[0], mask[0])  # a mask decision overrides any group decision
        key, cls = np.concatenate([group[0][kept], mask[0]]), np.concatenate([group[1][kept], mask[1]])
        del group, mask, kept
        order = np.argsort(key, kind="stable")
        key, cls = key[order], cls[order]
        del order
        keep = cls != UNKNOWN
        key, cls = key[keep], cls[keep]
        return (names[np.argsort(names, kind="stable")], (key >> 32).astype(np.int32),
                (key & 0xFFFFFFFF) - 2**31, cls)


class _Columns:
    """Labels of one kind of decision, in order, as arrays of numbers."""

    def __init__(self) -> None:
        self.patch, self.mask = array("i"), array("q")
        self.cls, self.fine = array("b"), array("i")

    def add(self, patches: list[int], masks: list[int], class_id: int, fine: int) -> None:
        self.patch.extend(patches)
        self.mask.extend(masks)
        self.cls.extend([class_id] * len(masks))
        self.fine.extend([fine] * len(masks))

    def last(self, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, class) of the last decision of each (patch, mask): key = patch ``rank`` << 32 |
        mask id + 2**31, so keys sort as (patch id, mask id) do."""
        key = (rank[np.frombuffer(self.patch, np.int32)] << 32) + (np.frombuffer(self.mask, np.int64) + 2**31)
        cls = np.frombuffer(self.cls, np.int8)
        backwards = key[::-1]
        order = np.argsort(backwards, kind="stable")  # the last decision of a key comes first
        ordered = backwards[order]
        first = np.ones(len(order), bool)
        first[1:] = ordered[1:] != ordered[:-1]
        pick = len(key) - 1 - order[first]
        return key[pick], cls[pick]

    def frame(self, via: str) -> pd.DataFrame:
        """One row per (patch, mask), the last decision's (the later wins)."""
        index = pd.MultiIndex.from_arrays([np.frombuffer(self.patch, np.int32).astype(np.int64),
                                           np.frombuffer(self.mask, np.int64)])
        frame = pd.DataFrame({"class_id": np.frombuffer(self.cls, np.int8).astype(np.int64),
                              "fine": np.frombuffer(self.fine, np.int32)}, index=index)
        frame = frame[~frame.index.duplicated(keep="last")]
        return frame.assign(via=via)
