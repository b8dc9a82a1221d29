"""The import's fast paths give the values of the slow ones: the probabilities' text looked up
(not formatted per mask) and SQLite's groups written by the driver (not by Core)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from annotation_fixtures import seed_users
from sqlalchemy import insert, select

from mcae.platform.annotation import bulk_load, mask_stream
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Base, Group, Project


def test_probabilities_text_is_the_rounded_numbers_cast() -> None:
    rng = np.random.default_rng(7)
    steps = np.arange(mask_stream._STEPS + 1) / mask_stream._STEPS
    values = np.concatenate([rng.random(5000), steps, steps[:-1] + 0.5 / mask_stream._STEPS,  # halves: to even
                             [0.0, 1.0, 0.5, 1e-9, 1 - 1e-9]])
    column = pa.array(values)
    assert mask_stream._proba_text(column).equals(pc.cast(pc.round(column, 5), pa.string()))
    outside = pa.array([1.5, -0.25, 0.3])  # not probabilities: cast, not looked up
    assert mask_stream._proba_text(outside).to_pylist() == ["1.5", "-0.25", "0.3"]


def test_probabilities_json_keeps_missing_values() -> None:
    columns = {name: [0.123456, float("nan"), None] for name in mask_stream.PROBA_COLUMNS}
    columns[mask_stream.PROBA_COLUMNS[0]] = [0.987654, 0.25, None]
    batch = pa.RecordBatch.from_pydict(columns)
    first, second, third = mask_stream._proba(batch).to_pylist()
    assert json.loads(first) == [0.98765] + [0.12346] * (len(mask_stream.PROBA_COLUMNS) - 1)
    assert json.loads(second) == [0.25] + [None] * (len(mask_stream.PROBA_COLUMNS) - 1)
    assert third is None  # all missing


def test_sqlite_groups_by_the_driver_equal_cores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    seed_users(url)
    db = Database(url)
    table = Base.metadata.tables["groups"]
    rows = [{"project_id": "p", "neighbourhood": "1-1", "key": f"{k}-1", "version": 1, "double": k % 2 == 0,
             "cluster": k, "pred_class": 3, "size": 4 + k, "score_min": 0.25 if k else None, "score_max": 0.75}
            for k in range(3)]
    try:
        with db.session() as session:
            session.add(Project(id="p", name="p", root=str(tmp_path), layer="mcae", grid={}, fine_classes={},
                                double_share=0.05, version=1))
            session.flush()
            bulk_load.insert_rows(session, table, rows)
            session.execute(insert(table), [{**r, "key": f"core-{r['key']}"} for r in rows])
        with db.reader() as session:
            found = {g.key: g for g in session.scalars(select(Group))}
        columns = [c.name for c in table.columns if c.name not in ("id", "key")]
        for row in rows:
            mine, core = found[row["key"]], found[f"core-{row['key']}"]
            assert {c: getattr(mine, c) for c in columns} == {c: getattr(core, c) for c in columns}
    finally:
        db.dispose()


def _masks_file(path: Path, patches: list[str], ids: list[int]) -> Path:
    n = len(ids)
    pq.write_table(pa.table({"patch": patches, "mask_id": ids, "row0": list(range(n)),
                             "col0": [10 + i for i in range(n)], "row1": [20 + i for i in range(n)],
                             "col1": [30 + i for i in range(n)]}), path)
    return path


def test_box_index_dense_and_with_gaps(tmp_path: Path) -> None:
    patches = ["0-1", "0-1", "0-1", "0-0", "0-0"]
    for ids, dense in (([1, 2, 3, 1, 2], True), ([1, 2, 4, 1, 2], False)):
        boxes = mask_stream.BoxIndex(_masks_file(tmp_path / f"{dense}.parquet", patches, ids))
        assert (boxes.keys is None) == dense  # the keys dropped only where the ids run without gaps
        got = boxes.lookup(pa.array(["0-0", "0-1", "0-1"]), pa.array([2, ids[2], 1]))
        assert got.tolist() == [[14, 4, 34, 24], [12, 2, 32, 22], [10, 0, 30, 20]]  # [x0, y0, x1, y1]
        for patch, mask in (("0-1", 5), ("0-0", 0), ("0-1", 3 if not dense else 9)):
            with pytest.raises(LookupError):
                boxes.lookup(pa.array([patch]), pa.array([mask]))
        with pytest.raises(LookupError):
            boxes.lookup(pa.array(["9-9"]), pa.array([1]))
