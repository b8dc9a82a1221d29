"""The dataset export at city size: streamed in bounded memory, and resumed after an interruption.

The projects are written straight as engine tables (``benchmarks.city_service``) with many
small masks on small patches (40,000 one-pixel masks on each 256 px patch), so the masks
table is large and the pixels few: memory that grew with the masks (the whole groups table
in a frame, as the export held it before) shows at once, and the export stays quick.
Memory is measured, never time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from benchmarks.city import MCAE, measure
from benchmarks.city_service import write_service_project
from mcae.inference.dataset import NOTES, export_dataset
from mcae.inference.decisions import Decision, record_decisions
from mcae.inference.project import Project
from mcae.platform.cli.engine import _progress_of

RATIO = 1.25
PER_PATCH = 40_000
PATCH = 256


def city_project(root: Path, masks: int) -> Project:
    """A project of ``masks`` masks, a mask raster for every patch and a (stand-in) model."""
    summary = write_service_project(root, masks, patch_size=PATCH, per_patch=PER_PATCH)
    project = Project.open(root)
    first = project.patch_raster(summary["raster_patches"][0])
    for patch in project.grid.patches():
        if not project.patch_raster(patch.id).is_file():
            shutil.copy(first, project.patch_raster(patch.id))
    project.classifier_path.parent.mkdir(parents=True, exist_ok=True)
    project.classifier_path.write_bytes(b"stand-in: the export reads the predictions, never the model")
    return project


def test_the_export_runs_in_bounded_memory(tmp_path: Path) -> None:
    """2x the scene (and masks), at most 1.25x the peak memory of the whole export process."""
    peaks = {}
    for masks in (1_000_000, 2_000_000):
        project = city_project(tmp_path / str(masks), masks)
        result = measure([MCAE, "export-dataset", "-p", str(project.root), "-o", str(tmp_path / f"ds{masks}"),
                          "-q"], poll_s=0.02)
        assert result["rc"] == 0, result["output"]
        peaks[masks] = result["peak_rss_mb"]
    manifest = json.loads((tmp_path / "ds2000000" / "manifest.json").read_text())
    assert len(manifest["items"]) == len(Project.open(tmp_path / "2000000").grid)
    assert peaks[2_000_000] <= RATIO * peaks[1_000_000], peaks


@pytest.fixture
def small(tmp_path: Path) -> Project:
    project = city_project(tmp_path / "p", 4 * PER_PATCH)
    record_decisions(project, [Decision(target="mask", patch="0-0", mask=5, class_id=8)])
    return project


def test_an_interrupted_export_resumes_where_it_stopped(small: Project, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import mcae.inference.dataset as dataset

    out = tmp_path / "ds"
    real, written = dataset._export_pair, []

    def dies_on_the_third(*args: object, **kw: object) -> dict[str, object]:
        if len(written) == 2:
            raise KeyboardInterrupt
        entry = real(*args, **kw)  # type: ignore[arg-type]
        written.append(entry["id"])
        return entry

    monkeypatch.setattr(dataset, "_export_pair", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(small, out, quiet=True)
    assert not (out / "manifest.json").exists() and len(list((out / NOTES).glob("*.json"))) == 2
    _, remaining = _progress_of(Project.open(small.root))  # what `mcae info` shows
    assert any(f"interrupted after 2 of {len(small.grid)} pairs" in line and "resumes" in line for line in remaining)
    monkeypatch.setattr(dataset, "_export_pair", real)
    manifest = export_dataset(small, out, quiet=True)
    assert manifest["resumed"] == 2 and len(manifest["items"]) == len(small.grid)
    assert not (out / NOTES).exists()
    done, remaining = _progress_of(Project.open(small.root))
    assert not any("interrupted" in line for line in remaining)
    assert any(f"export-dataset ({len(small.grid)} pairs" in line for line in done)
    with rasterio.open(out / "labels_sparse" / "0-0.tif") as src:
        sparse = src.read(1)
    assert set(np.unique(sparse)) == {0, 8}  # the one decided mask

    # a pair whose inputs changed since (a new decision) is made again, not kept
    written.clear()
    monkeypatch.setattr(dataset, "_export_pair", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(small, out, quiet=True)
    monkeypatch.setattr(dataset, "_export_pair", real)
    record_decisions(small, [Decision(target="mask", patch=written[0], mask=7, class_id=5)])
    manifest = export_dataset(small, out, quiet=True)
    assert manifest["resumed"] == 1
    with rasterio.open(out / "labels_sparse" / f"{written[0]}.tif") as src:
        assert 5 in set(np.unique(src.read(1)))
