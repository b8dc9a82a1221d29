"""Tables of a whole city written part by part (``atomic.write_parquet_stream``): the mask
index and ``groups.parquet`` never sit in memory whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mcae.inference.atomic import write_parquet_stream


def test_parts_become_one_table_in_the_first_parts_types(tmp_path: Path) -> None:
    first = pd.DataFrame({"patch": ["0-0", "0-0"], "score": np.array([0.5, 0.25], np.float32)})
    second = pd.DataFrame({"patch": ["0-1"], "score": np.array([0.75], np.float64)})  # float64: cast
    rows = write_parquet_stream(tmp_path / "t.parquet", iter([first, pd.DataFrame(), second]), ["patch", "score"])
    table = pd.read_parquet(tmp_path / "t.parquet")
    assert rows == 3 and table["patch"].tolist() == ["0-0", "0-0", "0-1"]
    assert table["score"].dtype == np.float32 and table["score"].tolist() == [0.5, 0.25, 0.75]


def test_no_parts_give_an_empty_table_with_its_columns(tmp_path: Path) -> None:
    assert write_parquet_stream(tmp_path / "t.parquet", iter([]), ["patch", "mask_id"]) == 0
    assert list(pd.read_parquet(tmp_path / "t.parquet").columns) == ["patch", "mask_id"]


def test_a_failing_part_leaves_the_old_table(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet_stream(path, iter([pd.DataFrame({"a": [1]})]), ["a"])

    def parts():  # type: ignore[no-untyped-def]
        yield pd.DataFrame({"a": [2]})
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        write_parquet_stream(path, parts(), ["a"])
    assert pd.read_parquet(path)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temporary file left
