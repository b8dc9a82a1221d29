"""The map's classes painted from the decisions as they stream (one byte a mask) follow the
same rules as the decisions' table of decided masks (``mask_labels``)."""

from __future__ import annotations

import numpy as np
import pytest
from test_dataset import PER_PATCH, city_project

from mcae.inference.class_lookups import class_lookups
from mcae.inference.decisions import Decision, iter_decisions, mask_labels, parse_decisions, record_decisions
from mcae.inference.errors import InputError
from mcae.inference.mapping import mask_classes
from mcae.inference.project import Project

TRICKY = [  # group, mask override, group "Unknown", mask "Unknown", later group, repeated mask, unknown keys
    {"target": "group", "neighbourhood": "n", "group": "a", "class": 3, "masks": [["0-0", 1], ["0-0", 2], ["0-0", 3],
                                                                                   ["0-1", 1]]},
    {"target": "mask", "patch": "0-0", "mask": 2, "class": 5},
    {"target": "group", "neighbourhood": "n", "group": "b", "class": 0, "masks": [["0-0", 3]]},
    {"target": "mask", "patch": "0-0", "mask": 1, "class": 0},
    {"target": "group", "neighbourhood": "n", "group": "c", "class": 7, "masks": [["0-0", 2], ["0-0", 10 ** 9],
                                                                                   ["9-9", 1]]},
    {"target": "mask", "patch": "0-0", "mask": 4, "class": 6},
    {"target": "mask", "patch": "0-0", "mask": 4, "class": 8},
    {"target": "mask", "patch": "9-9", "mask": 4, "class": 8},
    {"target": "group", "neighbourhood": "n", "group": "d", "class": "Tree", "masks": [["0-1", 7], ["0-1", 1]]},
]


@pytest.fixture
def project(tmp_path: object) -> Project:
    from pathlib import Path

    project = city_project(Path(str(tmp_path)) / "p", 2 * PER_PATCH)
    record_decisions(project, [Decision.model_validate(d) for d in TRICKY])
    return project


def test_streamed_lookups_follow_the_decision_rules(project: Project) -> None:
    decisions = list(iter_decisions(project))
    assert [d.to_json() for d in decisions] == [d.to_json() for d in parse_decisions(
        project.decisions_path.read_text())]
    expected = mask_labels(decisions)["class_id"]
    known = expected[[k in {("0-0", 2), ("0-0", 4), ("0-1", 1), ("0-1", 7)} for k in expected.index]]
    assert dict(known) == {("0-0", 2): 5, ("0-0", 4): 8, ("0-1", 1): 5, ("0-1", 7): 5}  # Tree is 5
    for source in (None, decisions):  # the project's file, line by line; or the database's list
        lookups = class_lookups(project, source)
        painted = {(p, m): int(lut[m]) for p, lut in lookups.sparse.items() for m in np.flatnonzero(lut)}
        assert painted == dict(known) and lookups.decided == 4
    table = mask_classes(project)
    assert int(table["decided"].sum()) == 4 and len(table) == 2 * PER_PATCH
    assert table.loc[("0-0", 2), "class_id"] == 5 and not table.loc[("0-0", 1), "decided"]
    assert (table.loc[~table["decided"], "class_id"] == table.loc[~table["decided"], "pred_class"]).all()


def test_a_bad_line_is_named_when_streamed(project: Project) -> None:
    with project.decisions_path.open("a") as f:
        f.write('{"target": "mask", "patch": "0-0", "mask": 1, "class": 42}\n')
    with pytest.raises(InputError, match=rf"decisions.jsonl:{len(TRICKY) + 1}: .*class 42"):
        class_lookups(project)
