"""The engine on a real Dask cluster: a ``dask scheduler`` and three ``dask worker`` processes
on loopback. ``segment``, ``label`` and ``train`` run with ``--scheduler tcp://...``, ``map``
after them (it writes one COG from the client and takes no scheduler); every output is
checksummed against a synchronous run of the same commands: identical. Then one worker
is SIGKILLed in the middle of ``segment`` and the job still finishes on the other two,
identically. The commands run in this process (the CLI, as typed); the scheduler and the
workers are their own processes."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rel_dask import Cluster, dask_cluster
from typer.testing import CliRunner

from benchmarks.scenes import blocky_scene, write_tif
from mcae.platform.cli import get_app

GRID = ["--patch-size", "64", "--neighbourhood", "2"]
pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A seeded 448 x 320 px scene (35 patches of 64 px, 12 neighbourhoods) and its labels."""
    root = tmp_path_factory.mktemp("dask-scene")
    image, labels = blocky_scene(320, 448, seed=3, objects=200)
    return write_tif(root / "scene.tif", image), write_tif(root / "labels.tif", labels)


def mcae(*args: str | Path) -> str:
    result = CliRunner().invoke(get_app(), [str(a) for a in args])
    assert result.exit_code == 0, f"mcae {' '.join(map(str, args))} exited {result.exit_code}:\n{result.output}"
    return result.output


def pipeline(scene: tuple[Path, Path], project: Path, scheduler: str,
             during_segment: threading.Thread | None = None) -> str:
    """segment, label (simulated expert), train and map: the map's path. ``during_segment``
    runs beside ``segment``."""
    image, labels = scene
    if during_segment is not None:
        during_segment.start()
    mcae("segment", image, "--project", project, *GRID, "--scheduler", scheduler, "-q")
    if during_segment is not None:
        during_segment.join(60)
    mcae("label", "--project", project, "--reference", labels, "--budget", "30", "--scheduler", scheduler, "-q")
    mcae("train", "--project", project, "--scheduler", scheduler, "-q")
    out_map = project.parent / f"{project.name}-map.tif"
    mcae("map", "--project", project, "--out", out_map)
    return str(out_map)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _raster(path: Path) -> str:
    with rasterio.open(path) as src:
        return _sha(src.read().tobytes() + repr((src.transform, src.crs, src.dtypes)).encode())


def _table(path: Path) -> str:
    frame = pd.read_parquet(path)
    return _sha(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
                + ",".join(frame.columns).encode())


def _model(path: Path) -> str:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    return _sha(repr(_flatten(state)).encode())


def _flatten(value: object) -> object:
    if hasattr(value, "numpy"):
        return _sha(np.ascontiguousarray(value.numpy()).tobytes())  # type: ignore[union-attr]
    if isinstance(value, dict):
        return sorted((str(k), _flatten(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_flatten(v) for v in value]
    return repr(value)


def checksums(project: Path, out_map: str) -> dict[str, str]:
    """Every output of the pipeline by name: patch rasters (mask ids), patch tables, the mask
    index, the groups with their predictions, the decisions, the classifier, the map's pixels."""
    sums: dict[str, str] = {}
    for path in sorted((project / "patches").glob("[0-9]*-[0-9]*.*")):
        sums[f"patches/{path.name}"] = _raster(path) if path.suffix == ".tif" else _table(path)
    sums["masks.parquet"] = _table(project / "masks.parquet")
    sums["groups.parquet"] = _table(project / "groups.parquet")
    sums["decisions.jsonl"] = _sha((project / "decisions.jsonl").read_bytes())
    sums["models/classifier.pt"] = _model(project / "models" / "classifier.pt")
    sums["map"] = _raster(Path(out_map))
    return sums


@pytest.fixture(scope="module")
def synchronous(scene: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    project = tmp_path_factory.mktemp("sync") / "project"
    return checksums(project, pipeline(scene, project, "synchronous"))


def _assert_same(got: dict[str, str], want: dict[str, str]) -> None:
    assert len(want) == 35 * 2 + 5  # a raster and a table per patch, 5 project-wide outputs
    assert got.keys() == want.keys()
    differ = [name for name in want if got[name] != want[name]]
    assert not differ, f"outputs differ from the synchronous run: {differ}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_cluster(3, tmp_path_factory.mktemp("dask-logs")) as found:
        yield found


@pytest.mark.timeout(150)
def test_cluster_run_is_identical_to_a_synchronous_run(
        scene: tuple[Path, Path], synchronous: dict[str, str], cluster: Cluster, tmp_path: Path) -> None:
    project = tmp_path / "project"
    out_map = pipeline(scene, project, cluster.address)
    assert _workers_that_ran(cluster) == {"w0", "w1", "w2"}  # every worker process did part of the work
    _assert_same(checksums(project, out_map), synchronous)


def _workers_that_ran(cluster: Cluster) -> set[str]:
    from distributed import Client

    with Client(cluster.address, timeout=10) as client:
        executed = client.run(lambda dask_worker: len(dask_worker.state.log) > 0)
        names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
    return {names[addr] for addr, ran in executed.items() if ran}


class WorkerKiller(threading.Thread):
    """Waits until ``segment`` has finished a few patches while worker ``victim`` is running
    one, then SIGKILLs it; records what the scheduler lost with it."""

    def __init__(self, cluster: Cluster, project: Path, victim: str, after: int = 4) -> None:
        super().__init__(daemon=True)
        self.cluster, self.project, self.victim, self.after = cluster, project, victim, after
        self.lost: dict[str, int] = {}
        self.done_before = -1
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _run(self) -> None:
        from distributed import Client

        deadline = time.monotonic() + 60
        with Client(self.cluster.address, timeout=10) as client:
            victim = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == self.victim)
            while time.monotonic() < deadline:
                done = len(list((self.project / "patches").glob("[0-9]*-[0-9]*.parquet")))
                running = client.processing().get(victim, ())
                if done >= self.after and running:
                    held = client.has_what().get(victim, ())
                    self.cluster.kill(self.victim)
                    self.done_before = done
                    self.lost = {"running": len(running), "held_results": len(held)}
                    return
                time.sleep(0.01)
        raise TimeoutError(f"segment never had finished patches while {self.victim} was busy")


@pytest.mark.timeout(150)
def test_a_worker_killed_mid_run_the_job_completes_identically(
        scene: tuple[Path, Path], synchronous: dict[str, str], cluster: Cluster, tmp_path: Path) -> None:
    project = tmp_path / "project"
    killer = WorkerKiller(cluster, project, victim="w2")
    out_map = pipeline(scene, project, cluster.address, during_segment=killer)
    assert killer.error is None, killer.error
    assert cluster.worker_process("w2").returncode == -9  # really killed, and stayed dead
    assert cluster.worker_process("w0").poll() is None and cluster.worker_process("w1").poll() is None
    assert 0 < killer.done_before < 35 and killer.lost["running"] >= 1
    print(f"w2 SIGKILLed after {killer.done_before} of 35 patches; lost with it: {killer.lost}", file=sys.stderr)
    _assert_same(checksums(project, out_map), synchronous)
