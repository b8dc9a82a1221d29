"""``mcae map`` killed with SIGKILL at 20 seeded points: the output is the old map or a valid new one.

The output path starts with an older map (made before one more decision); each run kills itself
at a point the test names (``rel_kill_points``: on entry, after the n-th window, before or after
the COG translation, after the sidecars, before or after the rename), never at a clock delay,
so what each kill leaves is known in advance whatever the machine's load. After each kill the
path holds the old map byte for byte, or a complete new one (byte-equal to an uninterrupted
run's, valid for rio-cogeo), never a partial file. A later run removes what the killed ones left
beside it (their private scratch folders) and writes the same map as the uninterrupted run.

Four kills hit the real command (a fresh interpreter running ``mcae map`` with the kill point
installed); sixteen hit a forked copy of this process running the same command.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import rel_kill_points
from rel_engine_files import mcae
from rel_engine_project import command, run, trained_project
from rio_cogeo.cogeo import cog_validate

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a liveness bound (a busy 2-core machine)
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
    done = run("map", "--project", project, "--out", new)
    assert done.returncode == 0, done.stdout.decode()
    assert old.read_bytes() != new.read_bytes()
    return {"project": project, "old": old.read_bytes(), "new": new.read_bytes(),
            "base": base}


def _child(argv: list[str], point: str, n: int) -> None:
    """The forked run: the ``mcae`` command in a copy of this process, killing itself at ``point``."""
    from mcae.platform.cli import get_app

    rel_kill_points.install(point, n)
    code = 0
    try:
        get_app()(argv, prog_name="mcae")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)


def _forked(argv: list[str], point: str, n: int) -> Any:
    process = multiprocessing.get_context("fork").Process(target=_child, args=(argv, point, n))
    process.start()
    return process


def _process(argv: list[str], point: str, n: int) -> subprocess.Popen[bytes]:
    """The real command in a fresh interpreter, with the kill point installed first."""
    script = [sys.executable, rel_kill_points.__file__, point, str(n)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(rel_kill_points.__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(script + command(*argv)[3:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)


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
    rng = random.Random(20)
    # every point at least twice in the forked runs (the window counts seeded), two of them
    # again in the real command
    points = [p for p in rel_kill_points.POINTS for _ in range(2)]
    points += rng.sample(rel_kill_points.POINTS, KILLS_FORKED - len(points))
    moments = ([("fork", point, rng.randint(1, 15)) for point in points]
               + [("process", point, rng.randint(1, 15)) for point in ("window", "rename", "renamed", "start")])
    rng.shuffle(moments)
    outcomes = {"old": 0, "new": 0}
    left_behind = 0
    for how, point, n in moments:
        out.write_bytes(maps["old"])
        if how == "fork":
            child = _forked(argv, point, n)
            child.join(60)
            code, pid = child.exitcode, child.pid
        else:
            process = _process(argv, point, n)
            code, pid = process.wait(60), process.pid
        assert code == -signal.SIGKILL, f"{how} run at {point} ({n}) was not killed: exit {code}"
        data = out.read_bytes()
        assert data in (maps["old"], maps["new"]), f"{how} killed at {point} ({n}): a partial map"
        assert cog_validate(str(out), quiet=True)[0]
        got = "old" if data == maps["old"] else "new"
        left = any(f".mcae-{pid}-" in name for name in _leftovers(folder))  # this run's own scratch
        assert (got, left) == rel_kill_points.EXPECTED[point], (how, point, n, got, _leftovers(folder))
        outcomes[got] += 1
        left_behind += left
    # the rerun: cleans what the killed runs left, writes the uninterrupted run's map
    rerun = run(*argv)
    assert rerun.returncode == 0, rerun.stdout.decode()
    assert _leftovers(folder) == [], "the rerun left the killed runs' temporary files"
    assert out.read_bytes() == maps["new"] and cog_validate(str(out), quiet=True)[0]
    np.testing.assert_array_equal(_pixels(out.read_bytes()), _pixels(maps["new"]))
    assert sum(outcomes.values()) == KILLS_FORKED + KILLS_PROCESS
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
