"""Decision files, their resolution to masks, and label precedence."""

from __future__ import annotations

import pandas as pd
import pytest

from mcae.inference.decisions import Decision, mask_labels, parse_decisions, resolve
from mcae.inference.errors import InputError

GROUPS = pd.DataFrame({
    "patch": ["0-0", "0-0", "0-0", "0-1"],
    "mask_id": [1, 2, 3, 1],
    "neighbourhood": ["0-0"] * 4,
    "group": ["1-0", "1-0", "2-0", "2-0"],
})


def test_parse_jsonl_and_list_with_names_or_ids() -> None:
    text = ('{"target": "group", "neighbourhood": "0-0", "group": "1-0", "class": "tree"}\n\n'
            '{"target": "mask", "patch": "0-0", "mask": 2, "class": 8, "fine_class": "Factory"}\n')
    decisions = parse_decisions(text)
    assert [d.class_id for d in decisions] == [5, 8] and decisions[1].fine_class == "Factory"
    as_list = parse_decisions('[{"target": "mask", "patch": "0-1", "mask": 1, "class": "3"}]')
    assert as_list[0].class_id == 3


@pytest.mark.parametrize("line, message", [
    ('{"target": "group", "class": 5}', "needs neighbourhood and group"),
    ('{"target": "mask", "patch": "0-0", "mask": 1, "class": 12}', "not an MCAE class"),
    ('{"target": "mask", "patch": "0-0", "mask": 1, "class": "Forest"}', "not in scheme"),
    ('{"target": "pixel", "class": 5}', "target"),
    ('{"target": ', "not valid JSON"),
])
def test_bad_decisions_name_their_line(line: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_decisions('{"target": "mask", "patch": "0-0", "mask": 1, "class": 1}\n' + line,
                        origin="d.jsonl")
    assert str(err.value).startswith("d.jsonl:2")


def test_group_resolution_and_mask_overrides_group() -> None:
    decisions = resolve(parse_decisions(
        '{"target": "mask", "patch": "0-0", "mask": 2, "class": 8}\n'
        '{"target": "group", "neighbourhood": "0-0", "group": "1-0", "class": 5}\n'
        '{"target": "group", "neighbourhood": "0-0", "group": "2-0", "class": 6}\n'
        '{"target": "group", "neighbourhood": "0-0", "group": "2-0", "class": 7}\n'), GROUPS)
    assert decisions[1].masks == [("0-0", 1), ("0-0", 2)]
    labels = mask_labels(decisions)
    assert labels.loc[("0-0", 1), "class_id"] == 5
    assert labels.loc[("0-0", 2), "class_id"] == 8  # the mask decision wins though earlier
    assert labels.loc[("0-0", 2), "via"] == "mask"
    assert labels.loc[("0-1", 1), "class_id"] == 7  # the later group decision wins
    assert len(labels) == 4


def test_unknown_group_or_mask_is_refused() -> None:
    with pytest.raises(InputError, match="no group 9-9"):
        resolve([Decision(target="group", neighbourhood="0-0", group="9-9", class_id=5)], GROUPS)
    with pytest.raises(InputError, match="no mask 7"):
        resolve([Decision(target="mask", patch="0-0", mask=7, class_id=5)], GROUPS)
