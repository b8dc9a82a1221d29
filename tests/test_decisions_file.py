"""A decisions file made elsewhere, checked against groups.parquet and streamed
(``mcae label --decisions``): the same decisions as resolving it in memory, a batch of the
groups table at a time, and unknown keys refused before anything is read on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mcae.inference.decisions import iter_decisions_file, resolve
from mcae.inference.decisions_file import CheckedDecisions
from mcae.inference.errors import InputError


def _groups(path: Path, seed: int = 3) -> pd.DataFrame:
    """Forty masks in four patches, their groups spread over the table's batches."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"patch": [f"0-{i % 4}" for i in range(40)], "mask_id": np.arange(40, dtype="int32") // 4,
                          "neighbourhood": [f"n{i % 2}" for i in range(40)],
                          "group": [f"g{k}" for k in rng.integers(0, 5, 40)], "area": np.full(40, 9)})
    frame.to_parquet(path)
    return frame


def _write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


DECISIONS = [
    {"target": "group", "neighbourhood": "n0", "group": "g1", "class": 5},
    {"target": "mask", "patch": "0-3", "mask": 7, "class": "Building"},
    {"target": "group", "neighbourhood": "n1", "group": "g4", "class": 6, "masks": [["0-1", 2]]},
    {"target": "group", "neighbourhood": "n1", "group": "g1", "class": 0},
    {"target": "group", "neighbourhood": "n0", "group": "g1", "class": 7},
]


@pytest.mark.parametrize("batch_rows", [1, 7, 65_536])
def test_same_decisions_as_resolving_in_memory(tmp_path: Path, batch_rows: int) -> None:
    groups = _groups(tmp_path / "groups.parquet")
    path = _write(tmp_path / "d.jsonl", DECISIONS)
    checked = CheckedDecisions(path, tmp_path / "groups.parquet", batch_rows=batch_rows)
    expected = resolve(list(iter_decisions_file(path)), groups)
    assert list(checked) == expected
    assert list(checked) == expected  # read from the file again: iterable twice
    members = expected[0].masks
    assert members and len(members) == ((groups["neighbourhood"] == "n0") & (groups["group"] == "g1")).sum()
    assert expected[2].masks == [("0-1", 2)]  # a group decision that lists its masks keeps them


def test_only_the_named_groups_members_are_kept(tmp_path: Path) -> None:
    _groups(tmp_path / "groups.parquet")
    path = _write(tmp_path / "d.jsonl", DECISIONS)
    checked = CheckedDecisions(path, tmp_path / "groups.parquet", batch_rows=7)
    assert set(checked.members_) == {("n0", "g1"), ("n1", "g1")}  # not n1/g4: its decision names its masks


@pytest.mark.parametrize("bad, message", [
    ({"target": "group", "neighbourhood": "n0", "group": "g9", "class": 5}, "no group g9 in neighbourhood n0"),
    ({"target": "mask", "patch": "0-1", "mask": 10, "class": 5}, "no mask 10 in patch 0-1"),
    ({"target": "mask", "patch": "7-7", "mask": 1, "class": 5}, "no mask 1 in patch 7-7"),
])
def test_unknown_keys_are_refused_when_checked(tmp_path: Path, bad: dict[str, object], message: str) -> None:
    _groups(tmp_path / "groups.parquet")  # every patch holds masks 0-9
    path = _write(tmp_path / "d.jsonl", [*DECISIONS, bad])
    with pytest.raises(InputError, match=message):
        CheckedDecisions(path, tmp_path / "groups.parquet", batch_rows=7)


def test_a_missing_file_or_a_bad_line_is_refused(tmp_path: Path) -> None:
    _groups(tmp_path / "groups.parquet")
    with pytest.raises(InputError, match="no such decisions file"):
        CheckedDecisions(tmp_path / "none.jsonl", tmp_path / "groups.parquet")
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(DECISIONS[0]) + '\n{"target": "mask", "patch": "0-0"\n')
    with pytest.raises(InputError, match=r"d\.jsonl:2: not valid JSON"):
        CheckedDecisions(path, tmp_path / "groups.parquet")
