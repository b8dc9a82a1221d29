"""A real Dask cluster on loopback for tests: one ``dask scheduler`` and N ``dask worker``
processes, each its own subprocess, torn down (and reaped) however the test ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import free_port

BIN = Path(sys.executable).parent
# what a nanny would set for its worker (one thread per library): results match a local run
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "PYTHONHASHSEED": "0"}




@dataclass
class Cluster:
    """Addresses and processes of a running cluster."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: Path | None = None

    def worker_process(self, name: str) -> subprocess.Popen[bytes]:
        """The process of the worker the scheduler knows as ``name`` (``w0``, ``w1`` ...)."""
        return self.workers[int(name.lstrip("w"))]

    def kill(self, name: str) -> None:
        """SIGKILL one worker process and reap it."""
        proc = self.worker_process(name)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _wait_for_workers(address: str, n: int, timeout: float) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout=timeout) as client:
        while len(client.scheduler_info()["workers"]) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(client.scheduler_info()['workers'])} of {n} workers came up")
            time.sleep(0.1)


def _stop_all(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGTERM every process at once, SIGKILL what still runs after ``grace``; all reaped."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def dask_cluster(n_workers: int, logs: Path, timeout: float = 60.0) -> Iterator[Cluster]:
    """Start a scheduler and ``n_workers`` single-threaded workers without nannies (a
    SIGKILLed worker stays dead, as a lost machine would); stop them all afterwards."""
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, **WORKER_ENV}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(logs / "scheduler.log", "wb") as log:
            scheduler = subprocess.Popen(
                [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=logs)
        procs.append(scheduler)
        cluster = Cluster(address, scheduler, logs=logs)
        for i in range(n_workers):
            with open(logs / f"worker-{i}.log", "wb") as log:
                worker = subprocess.Popen(
                    [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                     "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}"],
                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=logs)
            procs.append(worker)
            cluster.workers.append(worker)
        _wait_for_workers(address, n_workers, timeout)
        yield cluster
    finally:
        _stop_all(list(reversed(procs)))
