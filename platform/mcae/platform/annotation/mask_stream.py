"""The masks of an import, streamed from the engine's parquet files in batches.

``groups.parquet`` (one row per mask: group, predicted class, probabilities) is read with
``pyarrow`` ``iter_batches``; each batch is joined to its masks' boxes (from
``masks.parquet``, kept as a compact sorted index of 16 bytes a mask) and turned into
database rows with vectorised Arrow compute, never a Python object per mask. New masks go in
with ``COPY ... FROM STDIN (FORMAT csv)`` on PostgreSQL and one prepared ``executemany`` on
SQLite; known masks are updated by primary key in one ``executemany`` per batch.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from mcae.inference.classes import MCAE

PROBA_COLUMNS = [f"proba_{c.id}" for c in MCAE]  # as mcae.inference.groups writes them
BATCH_ROWS = 50_000
GROUP_COLUMNS = ["patch", "mask_id", "neighbourhood", "area", "group", "pred_class", "pred_score", *PROBA_COLUMNS]
INSERT_COLUMNS = ["project_id", "patch", "mask_id", "neighbourhood", "area", "bbox", "group_id", "pred_class",
                  "pred_score", "proba", "refine", "mapped_class", "present", "version"]
UPDATE_COLUMNS = ["neighbourhood", "area", "bbox", "group_id", "pred_class", "pred_score", "proba"]
Progress = Callable[[int, int], None]


def streamed(path: Path) -> pq.ParquetFile:
    """A parquet file read as a stream: without ``pre_buffer`` (pyarrow's default), whose cached
    column chunks stay allocated while the file is open, so a pass over a city's masks grew by
    about 100 bytes a mask (1 M masks: +100 MB); a 1 MiB read buffer instead."""
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)


def group_batches(groups_path: Path, columns: list[str], rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    yield from streamed(groups_path).iter_batches(batch_size=rows, columns=columns)


def row_count(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


class BoxIndex:
    """``(patch, mask_id) -> [x0, y0, x1, y1]`` for every mask of ``masks.parquet``, compactly."""

    def __init__(self, masks_path: Path) -> None:
        file = streamed(masks_path)
        n = int(file.metadata.num_rows)
        # filled in place, batch by batch (a list of batches concatenated at the end held the
        # index twice at its peak: 32 bytes a mask); patch pixels: int16 holds any patch up to
        # 32,767 px (16 bytes a mask with the key), int32 past that
        key = np.zeros(n, np.int64)
        box = np.zeros((n, 4), np.int16)
        names: dict[str, int] = {}
        done = 0
        for batch in file.iter_batches(batch_size=BATCH_ROWS,
                                       columns=["patch", "mask_id", "row0", "col0", "row1", "col1"]):
            for name in pc.unique(batch.column(0)).to_pylist():  # hashed in Arrow (np.unique sorted str objects)
                names.setdefault(str(name), len(names))
            rows = slice(done, done + batch.num_rows)
            key[rows] = self._key(batch.column(0), batch.column(1), names)
            part = np.stack([np.asarray(batch.column(c)) for c in ("col0", "row0", "col1", "row1")], axis=1)
            if part.size and part.max() >= 2**15 and box.dtype == np.int16:
                box = box.astype(np.int32)
            box[rows] = part
            done += batch.num_rows
        key, box = key[:done], box[:done]
        self.names = names
        self._patches = pa.array(list(names), pa.string())
        if key.size and not bool(np.all(key[1:] > key[:-1])):  # segment writes them in order: no sort needed
            order = np.argsort(key, kind="stable")
            key, box = key[order], box[order]
        self.boxes = box
        self.keys: np.ndarray | None = key
        self._dense(key)

    def _dense(self, key: np.ndarray) -> None:
        """Where each patch's mask ids run without gaps (as ``mcae segment`` numbers them), the
        sorted keys are dropped: a mask's row is its patch's first row plus its id's offset
        (8 bytes a mask less: 32 MB at 4 M masks, the part of the import's memory that grew
        with the city). Otherwise the keys stay and are searched."""
        if not key.size or int(key.min()) < 0:
            return
        starts = np.searchsorted(key, np.arange(len(self.names) + 1, dtype=np.int64) << 32)
        first = key[np.minimum(starts[:-1], len(key) - 1)] & 0xFFFFFFFF
        for at in range(0, len(key), BATCH_ROWS):  # a batch at a time: no temporary the size of the city
            part = key[at:at + BATCH_ROWS]
            codes = part >> 32
            if not np.array_equal((part & 0xFFFFFFFF) - first[codes], np.arange(at, at + len(part)) - starts[codes]):
                return
        self.keys = None
        self._starts, self._first, self._counts = starts[:-1], first, np.diff(starts)

    @staticmethod
    def _key(patch: pa.Array, mask_id: pa.Array, names: dict[str, int]) -> np.ndarray:
        codes = pc.index_in(patch, value_set=pa.array(list(names), pa.string())).to_numpy(zero_copy_only=False)
        return (codes.astype(np.int64) << 32) | np.asarray(mask_id, dtype=np.int64)

    def lookup(self, patch: pa.Array, mask_id: pa.Array) -> np.ndarray:
        """The boxes of these masks, in order (a mask missing from ``masks.parquet`` is an error)."""
        return self.boxes[self.rows(patch, mask_id)]

    def rows(self, patch: pa.Array, mask_id: pa.Array) -> np.ndarray:
        """Where these masks are in the index (``boxes``' rows; a mask missing from
        ``masks.parquet`` is an error)."""
        codes = pc.index_in(patch, value_set=self._patches)
        if codes.null_count:
            raise LookupError("groups.parquet names a patch that masks.parquet lacks: run `mcae segment` again")
        where = self.rows_of(codes.to_numpy(zero_copy_only=False).astype(np.int64), np.asarray(mask_id, np.int64))
        if where.size and int(where.min()) < 0:
            raise LookupError("groups.parquet names masks that masks.parquet lacks: run `mcae segment` again")
        return where

    def rows_of(self, code: np.ndarray, mask_id: np.ndarray) -> np.ndarray:
        """``rows`` by patch code (``names``' values; -1: none) and mask id; -1 where missing."""
        out = np.full(len(code), -1, np.int64)
        known = code >= 0
        code, ids = code[known], mask_id[known]
        if self.keys is None:
            offset = ids - self._first[code]
            inside = (offset >= 0) & (offset < self._counts[code])
            found = np.where(inside, self._starts[code] + offset, -1)
        elif len(self.keys):
            key = (code << 32) | ids
            where = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            found = np.where(self.keys[where] == key, where, -1)
        else:
            found = np.full(len(code), -1, np.int64)
        out[known] = found
        return out


def group_keys(batch: pa.RecordBatch) -> pa.Array:
    """``neighbourhood \\x1f group`` of each row: the key of its group."""
    return pc.binary_join_element_wise(pc.cast(batch.column("neighbourhood"), pa.string()),
                                       pc.cast(batch.column("group"), pa.string()), "\x1f")


def _json_list(columns: list[pa.Array]) -> pa.Array:
    parts = [pc.cast(c, pa.string()) for c in columns]
    return pc.binary_join_element_wise("[", pc.binary_join_element_wise(*parts, ","), "]", "")


PLACES = 5  # the probabilities' decimal places in the database
_STEPS = 10**PLACES
# the text of every probability k / 10^5 in [0, 1] (as Arrow casts the rounded number to text):
# a probability is then a lookup of its rounded step, not a float formatted per mask
_PROBA_TEXT = pc.cast(pa.array(np.arange(_STEPS + 1) / _STEPS), pa.string())


def _proba_text(col: pa.Array) -> pa.Array:
    """``col`` (float64, no NaN) rounded to 5 places, as text: looked up in ``_PROBA_TEXT``
    when all of it lies in [0, 1] (a probability always does), else cast."""
    values = np.asarray(col.fill_null(0.0), np.float64)
    steps = np.rint(values * _STEPS)  # as pc.round(col, 5): half to even of the scaled value
    if values.size and (steps.min() < 0 or steps.max() > _STEPS):
        return pc.cast(pc.round(col, PLACES), pa.string())
    return pc.take(_PROBA_TEXT, pa.array(steps.astype(np.int64)))


def _proba(batch: pa.RecordBatch) -> pa.Array:
    """The probabilities as JSON text, rounded to 5 places; null where all are missing."""
    values, missing = [], None
    for name in PROBA_COLUMNS:
        col = pc.cast(batch.column(name), pa.float64())
        nan = pc.or_kleene(pc.is_nan(col), pc.is_null(col)).fill_null(True)
        missing = nan if missing is None else pc.and_(missing, nan)
        text = _proba_text(pc.if_else(nan, pa.scalar(0.0), col))
        values.append(pc.if_else(nan, pa.scalar("null"), text))
    return pc.if_else(missing, pa.scalar(None, pa.string()), _json_list(values))


def scores(batch: pa.RecordBatch) -> np.ndarray:
    """The predicted scores as float64, NaN where missing."""
    return np.asarray(pc.cast(batch.column("pred_score"), pa.float64()).fill_null(np.nan))


def probas(batch: pa.RecordBatch) -> np.ndarray:
    """The probabilities as a (masks x classes) float64 array, NaN where missing."""
    return np.stack([np.asarray(pc.cast(batch.column(c), pa.float64()).fill_null(np.nan)) for c in PROBA_COLUMNS],
                    axis=1)


@dataclass
class Rows:
    """One batch as database values (Arrow arrays, one per column)."""

    columns: dict[str, pa.Array] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def batch_rows(batch: pa.RecordBatch, boxes: BoxIndex, group_ids: np.ndarray) -> Rows:
    """The masks of ``batch`` as values of the masks table (``group_ids`` given per row)."""
    box = boxes.lookup(batch.column("patch"), batch.column("mask_id"))
    score = pc.cast(batch.column("pred_score"), pa.float64())
    score = pc.if_else(pc.is_nan(score).fill_null(True), pa.scalar(None, pa.float64()), score)
    return Rows({
        "patch": pc.cast(batch.column("patch"), pa.string()), "mask_id": pc.cast(batch.column("mask_id"), pa.int64()),
        "neighbourhood": pc.cast(batch.column("neighbourhood"), pa.string()),
        "area": pc.cast(batch.column("area"), pa.int64()),
        "bbox": _json_list([pa.array(box[:, i]) for i in range(4)]), "group_id": pa.array(group_ids, pa.int64()),
        "pred_class": pc.cast(batch.column("pred_class"), pa.int64()), "pred_score": score,
        "proba": _proba(batch)})


def insert_rows(session: Session, project_id: str, rows: Rows, mapped: bool, freeze: bool = False,
                decided: dict[str, pa.Array] | None = None) -> None:
    """Add new masks (``mapped``: their predicted class is taken as the published map's).

    ``freeze`` (PostgreSQL; only when the masks table was created or truncated in this
    transaction, as ``bulk_load.masks_loading`` does to an empty table): ``COPY ... FREEZE``
    writes the rows already frozen and their pages all-visible, so the index builds, ``ANALYZE``
    and the recount that read them next do not set every row's hint bits (dirtying and writing
    every page of the table a second time). Durability is unchanged: the rows are WAL-logged
    and land with the import's commit or not at all.

    ``decided``: columns that differ from a new mask's (``class_id``, ``fine_class``,
    ``decision_id``, ``mapped_class``, ``version``: a first import's decisions, applied as the
    masks go in)."""
    if not len(rows):
        return
    n = len(rows)
    cols = dict(rows.columns)
    cols["project_id"] = pa.array(np.full(n, project_id, dtype=object), pa.string())
    cols["refine"] = pa.array(np.zeros(n, dtype=bool))
    cols["mapped_class"] = cols["pred_class"] if mapped else pa.nulls(n, pa.int64())
    cols["present"] = pa.array(np.ones(n, dtype=bool))
    cols["version"] = pa.array(np.ones(n, dtype=np.int64))
    cols.update(decided or {})
    columns = [*INSERT_COLUMNS, *(c for c in (decided or {}) if c not in INSERT_COLUMNS)]
    table = pa.table({c: cols[c] for c in columns})
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        options = "FORMAT csv, FREEZE" if freeze else "FORMAT csv"
        with raw.cursor() as cursor, cursor.copy(
                f"COPY masks ({', '.join(columns)}) FROM STDIN ({options})") as copy:
            copy.write(buffer.getvalue())
        return
    # SQLite: the columns that are the same on every row are written once, in the statement
    # (fewer values to bind per row), and numbers go to Python through numpy (much faster than Arrow's)
    constants = {"refine": "0", "present": "1", "version": "1", **({} if mapped else {"mapped_class": "NULL"})}
    constants = {c: v for c, v in constants.items() if c not in (decided or {})}
    varying = [c for c in columns if c not in constants and c != "project_id"]
    names = ["project_id", *varying, *constants]
    marks = ["?"] * (1 + len(varying)) + list(constants.values())
    values = zip([project_id] * n, *(_pylist(table.column(c)) for c in varying), strict=True)
    raw.executemany(f"INSERT INTO masks ({', '.join(names)}) VALUES ({', '.join(marks)})", values)


def _pylist(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """A column as Python values: integers through numpy when they have no nulls, names (a few
    patches and neighbourhoods) as one ``str`` each, shared."""
    if pa.types.is_integer(column.type) and column.null_count == 0:
        return column.to_numpy().tolist()
    if pa.types.is_string(column.type) and column.null_count == 0:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        codes = pc.dictionary_encode(column)
        if len(codes.dictionary) * 8 < len(column):
            names = np.array(codes.dictionary.to_pylist(), dtype=object)
            return list(names[codes.indices.to_numpy()].tolist())
    return column.to_pylist()


UPDATES_DDL = ("CREATE TEMP TABLE IF NOT EXISTS import_mask_updates (id bigint, neighbourhood text, area bigint, "
               "bbox text, group_id bigint, pred_class bigint, pred_score double precision, proba text, "
               "bump integer) ON COMMIT DROP")


def update_rows(session: Session, pks: np.ndarray, rows: Rows, changed: np.ndarray) -> None:
    """Refresh known masks by primary key; ``changed`` ones (group or class moved) get a new version.
    PostgreSQL: the batch is copied into a temporary table (dropped at commit) and applied with
    one ``UPDATE ... FROM`` (a statement per mask was most of a re-import's time); SQLite: one
    prepared ``executemany``."""
    if not len(pks):
        return
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        table = pa.table({"id": pa.array(pks, pa.int64()), **{c: rows.columns[c] for c in UPDATE_COLUMNS},
                          "bump": pa.array(changed.astype(np.int64))})
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        sets = ", ".join(f"{c} = u.{c}{'::json' if c in ('bbox', 'proba') else ''}" for c in UPDATE_COLUMNS)
        with raw.cursor() as cursor:
            cursor.execute(UPDATES_DDL)
            with cursor.copy(f"COPY import_mask_updates ({', '.join(table.column_names)}) "
                             "FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            cursor.execute("ANALYZE import_mask_updates")  # planned as the batch it is: by primary key
            cursor.execute(f"UPDATE masks AS m SET {sets}, present = true, version = m.version + u.bump "
                           "FROM import_mask_updates AS u WHERE m.id = u.id")
            cursor.execute("TRUNCATE import_mask_updates")
        return
    sets = ", ".join(f"{c} = ?" for c in UPDATE_COLUMNS)
    values = zip(*(_pylist(rows.columns[c]) for c in UPDATE_COLUMNS), changed.astype(np.int64).tolist(),
                 pks.astype(np.int64).tolist(), strict=True)
    raw.executemany(f"UPDATE masks SET {sets}, present = true, version = version + ? WHERE id = ?", values)
