"""``mcae label --reference`` at city size keeps a byte per mask of the reference and reads the
groups in batches: the same decisions, byte for byte, as the frames of every mask gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mcae.inference.expert as expert_module
from mcae.inference.compute import Executor
from mcae.inference.decisions import iter_resolved, mask_labels
from mcae.inference.expert import COLUMNS, SimulatedExpert
from mcae.inference.project import Project
from mcae.inference.reference import _patch_classes, reference_classes, reference_per_mask, reference_scene
from mcae.platform.cli import get_app

SMALL = ["--patch-size", "64", "--neighbourhood", "2", "--scheduler", "synchronous", "-q"]


@pytest.fixture
def segmented(scene_files: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    image, labels = scene_files
    project = tmp_path / "project"
    result = CliRunner().invoke(get_app(), ["segment", str(image), "--project", str(project), *SMALL])
    assert result.exit_code == 0, result.output
    return labels, project


def test_the_compact_reference_is_the_majority_per_mask(segmented: tuple[Path, Path]) -> None:
    labels, root = segmented
    project = Project.open(root)
    run = Executor(None, quiet=True)
    frame = reference_per_mask(project, labels, run)
    compact = reference_classes(project, labels, run)
    assert len(compact) == len(frame) and frame["ref_class"].gt(0).any()
    np.testing.assert_array_equal(compact.lookup(frame["patch"].to_numpy(), frame["mask_id"].to_numpy()),
                                  frame["ref_class"].to_numpy())
    scene = reference_scene(project.scene_info, labels)
    _patch_classes(project.grid.patches()[0], root=str(root), scene=scene)
    assert scene._src is None  # closed after each task: a worker keeps no open copy per task


@pytest.mark.parametrize("budget", ["25", None])
def test_label_writes_what_the_whole_frame_expert_wrote(segmented: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch, budget: str | None) -> None:
    labels, root = segmented
    project = Project.open(root)
    groups = project.groups(columns=list(COLUMNS))
    reference = reference_per_mask(project, labels, Executor(None, quiet=True))
    expert = SimulatedExpert(budget=int(budget) if budget else None)
    listed = list(iter_resolved(expert.iter_decide(groups, reference), groups))
    expected = "".join(d.to_json() + "\n" for d in listed)
    monkeypatch.setattr(expert_module, "BATCH_ROWS", 50)  # groups.parquet in many batches
    args = ["label", "--project", str(root), "--reference", str(labels), "--scheduler", "synchronous", "-q"]
    result = CliRunner().invoke(get_app(), [*args, *(["--budget", budget] if budget else [])])
    assert result.exit_code == 0, result.output
    assert (root / "decisions.jsonl").read_text() == expected
    step = Project.open(root).manifest["steps"]["label"]
    assert step["new_decisions"] == expert.actions_ == len(listed) and step["decisions"] == len(listed)
    assert step["decided_masks"] == len(mask_labels(listed)) > 0
    assert f"{len(mask_labels(listed))} of {len(groups)} masks decided" in result.output
