"""``mcae map`` killed with SIGKILL at 20 seeded moments: the output is the old map or a valid new one.

The output path starts with an older map (made before one more decision); each run is killed at
a seeded moment across its duration. After each kill the path holds the old map byte for byte,
or a complete new one (byte-equal to an uninterrupted run's, valid for rio-cogeo), never a
partial file. A later run removes what the killed ones left beside it (their private scratch
folders) and writes the same map as the uninterrupted run.

Four kills hit the real command (``python -m mcae.platform.cli map``, interpreter start-up
included, killed late in its run); sixteen hit a forked copy of this process running the same
command (no 3 s of imports per run, so the kills land in the writing itself).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rel_engine_files import mcae
from rel_engine_project import run, start, trained_project
from rio_cogeo.cogeo import cog_validate

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
KILLS_FORKED, KILLS_PROCESS = 16, 4


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trained project, its older map (``old``) and the uninterrupted run's new map (``new``)."""
    base = tmp_path_factory.mktemp("map_kill")
    project = trained_project(base)
    old = base / "old.tif"
    assert mcae("map", "--project", project, "--out", old).exit_code == 0
    decision = base / "one_more.jsonl"
    decision.write_text('{"target": "mask", "patch": "1-1", "mask": 1, "class": "Water"}\n'
                        '{"target": "mask", "patch": "2-2", "mask": 2, "class": "Road"}\n')
    assert mcae("label", "--project", project, "--decisions", decision).exit_code == 0
    new = base / "new" / "map.tif"
    new.parent.mkdir()
    began = time.monotonic()
    done = run("map", "--project", project, "--out", new)
    seconds = time.monotonic() - began
    assert done.returncode == 0, done.stdout.decode()
    assert old.read_bytes() != new.read_bytes()
    return {"project": project, "old": old.read_bytes(), "new": new.read_bytes(), "seconds": seconds,
            "base": base}


def _child(argv: list[str]) -> None:
    """The forked run: the ``mcae`` command in a copy of this process."""
    from mcae.platform.cli import get_app

    code = 0
    try:
        get_app()(argv, prog_name="mcae")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)


def _forked(argv: list[str]) -> Any:
    process = multiprocessing.get_context("fork").Process(target=_child, args=(argv,))
    process.start()
    return process


def _leftovers(folder: Path) -> list[str]:
    """Whatever lies beside the map but the map and its two class sidecars."""
    return sorted(p.name for p in folder.iterdir() if p.name not in ("map.tif", "map.tif.aux.xml", "map.qml"))


def _pixels(data: bytes) -> np.ndarray:
    with rasterio.MemoryFile(data) as memfile, memfile.open() as src:
        return np.asarray(src.read(1))


def test_map_survives_sigkill_at_twenty_moments(maps: dict[str, Any]) -> None:
    folder = maps["base"] / "out"
    folder.mkdir()
    out = folder / "map.tif"
    argv = ["map", "--project", str(maps["project"]), "--out", str(out)]
    # how long the forked run takes, start to finish
    out.write_bytes(maps["old"])
    began = time.monotonic()
    probe = _forked(argv)
    probe.join(60)
    forked_seconds = time.monotonic() - began
    assert probe.exitcode == 0 and out.read_bytes() == maps["new"]
    rng = random.Random(20)
    # forked: half early (before or while reading), half late (writing, overviews, validation, rename);
    # the real command: late in its run, when it writes
    moments = ([("fork", rng.uniform(0.0, 0.5) * forked_seconds) for _ in range(KILLS_FORKED // 2)]
               + [("fork", rng.uniform(0.5, 1.05) * forked_seconds) for _ in range(KILLS_FORKED // 2)]
               + [("process", rng.uniform(0.6, 1.0) * maps["seconds"]) for _ in range(KILLS_PROCESS)])
    rng.shuffle(moments)
    outcomes = {"old": 0, "new": 0}
    left_behind = 0
    for how, delay in moments:
        out.write_bytes(maps["old"])
        if how == "fork":
            child = _forked(argv)
            time.sleep(delay)
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signal.SIGKILL)
            child.join(30)
        else:
            process: subprocess.Popen[bytes] = start(*argv)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        data = out.read_bytes()
        assert data in (maps["old"], maps["new"]), f"{how} killed after {delay:.2f} s: a partial map"
        assert cog_validate(str(out), quiet=True)[0]
        outcomes["old" if data == maps["old"] else "new"] += 1
        left_behind += bool(_leftovers(folder))
    # the rerun: cleans what the killed runs left, writes the uninterrupted run's map
    rerun = run(*argv)
    assert rerun.returncode == 0, rerun.stdout.decode()
    assert _leftovers(folder) == [], "the rerun left the killed runs' temporary files"
    assert out.read_bytes() == maps["new"] and cog_validate(str(out), quiet=True)[0]
    np.testing.assert_array_equal(_pixels(out.read_bytes()), _pixels(maps["new"]))
    assert sum(outcomes.values()) == KILLS_FORKED + KILLS_PROCESS
    assert outcomes["old"] >= 5 and left_behind >= 3, (outcomes, left_behind)  # the kills hit the write
    print(f"kills survived: {sum(outcomes.values())}; output old {outcomes['old']}, new {outcomes['new']}; "
          f"{left_behind} left scratch files the next run removed")


def test_stale_scratch_of_a_live_writer_is_kept(maps: dict[str, Any], tmp_path: Path) -> None:
    """Only a dead writer's leftovers go: a scratch folder of a running process stays."""
    from mcae.inference.atomic import remove_stale_temps

    live = tmp_path / f".map.tif.mcae-{os.getppid()}-abc.d"
    dead_pid = 2**22 + 12345  # beyond the default pid_max: never running
    dead = tmp_path / f".map.tif.mcae-{dead_pid}-abc.d"
    for folder in (live, dead):
        folder.mkdir()
        (folder / "raw.tif").write_bytes(b"x")
    other = tmp_path / ".map.tif.unrelated"
    other.write_bytes(b"y")
    assert remove_stale_temps(tmp_path, "map") == [dead]
    assert live.is_dir() and other.is_file() and not dead.exists()
    shutil.rmtree(live)
