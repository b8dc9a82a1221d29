"""``mcae segment`` killed mid-run resumes: finished patches are skipped, the result is byte-identical.

The command runs as its own process on a 36-patch scene and is killed (SIGKILL) once a third of
the patches are written; the rerun must leave those patch files untouched, finish the others,
remove the killed run's half-written temporary files, and end with every file byte-identical to
an uninterrupted run's in another folder (``project.json`` aside from its dates and folder).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from rel_engine_files import mcae
from rel_engine_project import SEGMENT, run, scene, start

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
PATCHES = 36  # 384 px at 64 px


def _files(project: Path) -> dict[str, bytes]:
    return {str(p.relative_to(project)): p.read_bytes() for p in sorted(project.rglob("*"))
            if p.is_file() and p.name != "project.json"}


def _manifest(project: Path) -> dict[str, object]:
    manifest = json.loads((project / "project.json").read_text())
    manifest.pop("created")
    for step in manifest["steps"].values():
        step.pop("finished")
    return manifest


def finished_tables(patches: Path) -> list[str]:
    """The patches whose table is in place (a writer's temporary ``.<name>...parquet`` is not)."""
    return [p.stem for p in patches.glob("*.parquet") if not p.name.startswith(".")]


def test_killed_segment_resumes_to_the_same_project(tmp_path: Path) -> None:
    image, _ = scene(tmp_path, size=384, seed=11)
    args = ["--patch-size", "64", *SEGMENT]
    whole = tmp_path / "whole"
    result = mcae("segment", image, "--project", whole, *args)
    assert result.exit_code == 0, result.output
    assert len(list((whole / "patches").glob("*.parquet"))) == PATCHES

    resumed = tmp_path / "resumed"
    process = start("segment", image, "--project", resumed, *args)
    deadline = time.monotonic() + 90
    while len(finished_tables(resumed / "patches")) < PATCHES // 3:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        assert time.monotonic() < deadline, "segment made no progress"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    patches = resumed / "patches"
    done = finished_tables(patches)  # a patch's table is written after its raster
    finished = {name: (patches / name).stat().st_mtime_ns
                for stem in done for name in (f"{stem}.tif", f"{stem}.parquet")}
    half_written = [p.name for p in patches.iterdir() if p.name.startswith(".")]
    assert PATCHES // 3 <= len(done) < PATCHES, "killed too late to test resuming"
    assert not (resumed / "masks.parquet").exists() and not (resumed / "groups.parquet").exists()
    # and a patch killed half-way, whatever the kill caught: a cut raster without its table,
    # and the temporary table of a writer that is gone
    partial = next(f"{r}-{c}" for r in range(6) for c in range(6) if f"{r}-{c}" not in done)
    (patches / f"{partial}.tif").write_bytes((whole / "patches" / f"{partial}.tif").read_bytes()[:300])
    (patches / f".{partial}.parquet.mcae-{2**22 + 7}-cut.parquet").write_bytes(b"PAR1 cut")

    rerun = run("segment", image, "--project", resumed, *args)
    assert rerun.returncode == 0, rerun.stdout.decode()
    for name, mtime in finished.items():  # finished patches skipped, not rewritten
        assert (patches / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert [p.name for p in patches.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in resumed.iterdir() if p.name.startswith(".")] == []
    ours, theirs = _files(resumed), _files(whole)
    assert sorted(ours) == sorted(theirs)
    differing = [name for name in ours if ours[name] != theirs[name]]
    assert differing == [], f"not byte-identical to the uninterrupted run: {differing}"
    assert _manifest(resumed) == _manifest(whole)
    print(f"killed with {len(done)} of {PATCHES} patches done ({len(half_written)} half-written); rerun "
          f"skipped them; {len(ours)} files byte-identical")
