"""The server side of ``benchmarks.load``: the demo folder, ``mcae serve --workers N``, its workers' RSS.

The demo (``mcae demo``: a synthetic city, its maps, districts and an annotation project in
SQLite with the tokens in ``tokens.txt``) is built once into a folder and reused while its
``catalog.json`` and ``tokens.txt`` are there. Every run serves a fresh copy of its
annotation database and an empty jobs folder, so the saves and bundle jobs of one run never
change the next one's starting point.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from benchmarks.harness import mcae_serve

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120.0


def mcae() -> str:
    """The ``mcae`` entry point of this environment."""
    return str(BIN / "mcae")


def demo_ready(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("catalog.json", "tokens.txt", "annotation.db"))


def build_demo(folder: Path, size: int, *, rebuild: bool = False) -> float:
    """``mcae demo --out folder --size size`` unless a finished demo is there; seconds spent."""
    if demo_ready(folder) and not rebuild:
        return 0.0
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    env = {**os.environ, "MCAE_TILES__CATALOG_PATH": str(folder / "catalog.json")}
    env.pop("MCAE_DATABASE__URL", None)  # the demo's own database: annotation.db beside its catalog
    done = subprocess.run([mcae(), "demo", "--out", str(folder), "--size", str(size), "--scheduler",
                           "synchronous", "--quiet"], cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not demo_ready(folder):
        raise RuntimeError(f"mcae demo failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return time.perf_counter() - start


def read_tokens(folder: Path) -> dict[str, str]:
    """The demo's tokens by user name (``tokens.txt``: user, role, token per line)."""
    tokens: dict[str, str] = {}
    for line in (folder / "tokens.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            user, _role, token = line.split("\t")
            tokens[user] = token
    return tokens


def copy_database(source: Path, target: Path) -> str:
    """A consistent copy of a SQLite database (its WAL included); the copy's URL."""
    target.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"




@dataclass
class Server:
    """A running ``mcae serve``: its base URL, the supervisor and the log."""

    base: str
    proc: subprocess.Popen[bytes]
    log: Path
    workers: int
    env: dict[str, str] = field(default_factory=dict)

    def worker_pids(self) -> list[int]:
        """The worker processes (the supervisor's spawned children; itself with one worker)."""
        if self.workers == 1:
            return [self.proc.pid]
        parent = psutil.Process(self.proc.pid)
        found = []
        for child in parent.children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    found.append(child.pid)
        return sorted(found)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


# every simulated client comes from 127.0.0.1: the per-address limits (heavy routes, bundle
# jobs) would refuse what stands for many people's requests, so they are raised here
ONE_ADDRESS_MANY_CLIENTS = {"MCAE_HEAVY__PER_CLIENT": "64", "MCAE_HEAVY__CONCURRENCY": "64",
                            "MCAE_JOBS__BUNDLES_PER_CLIENT": "64", "MCAE_JOBS__BUNDLES_TOTAL": "64"}


@contextlib.contextmanager
def serve(folder: Path, work: Path, workers: int, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``mcae serve --workers N`` of the demo in ``folder`` on a free loopback port, with a
    fresh copy of its annotation database and jobs folder in ``work``; stopped afterwards."""
    work.mkdir(parents=True, exist_ok=True)
    url = copy_database(folder / "annotation.db", work / "annotation.db")
    run_env = {"MCAE_DATABASE__URL": url, "MCAE_JOBS__DIR": str(work / "jobs"),
               "MCAE_TILES__WEB_DIST": str(work / "no-web"), **ONE_ADDRESS_MANY_CLIENTS, **(env or {})}
    log_path = work / "serve.log"
    with mcae_serve(folder / "catalog.json", workers=workers, cwd=work, env=run_env, log=log_path,
                    timeout=START_TIMEOUT_S) as (base, proc):
        server = Server(base, proc, log_path, workers, env or {})
        wait_for_workers(server)
        yield server


def wait_for_workers(server: Server) -> None:
    """Until every worker answers ``/healthz`` (fresh connections land on either worker)."""
    began = time.monotonic()
    while True:
        if server.proc.poll() is not None or time.monotonic() - began > START_TIMEOUT_S:
            raise RuntimeError(f"mcae serve did not start:\n{server.log_tail()}")
        pids = server.worker_pids()
        listening = {pid for pid in pids if _listens(pid)}
        if len(pids) == server.workers and len(listening) == server.workers:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                    return
        time.sleep(0.2)


def _listens(pid: int) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(c.status == psutil.CONN_LISTEN for c in psutil.Process(pid).net_connections("tcp"))
    return False


@dataclass
class RssSample:
    """One sample of every worker: requests answered so far, seconds into the run, RSS and fds."""

    requests: int
    seconds: float
    rss: dict[int, int]
    fds: dict[int, int]


class RssSampler:
    """RSS (and open file descriptors) of fixed worker processes, sampled on demand."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = list(pids)
        self._procs = {pid: psutil.Process(pid) for pid in pids}
        self.samples: list[RssSample] = []
        self.gone: list[int] = []  # workers that died during the run (the supervisor restarts them)
        self._start = time.perf_counter()

    def sample(self, requests: int) -> RssSample:
        rss: dict[int, int] = {}
        fds: dict[int, int] = {}
        for pid, proc in self._procs.items():
            try:
                rss[pid] = proc.memory_info().rss
                fds[pid] = proc.num_fds()
            except psutil.Error:
                if pid not in self.gone:
                    self.gone.append(pid)
        found = RssSample(requests, time.perf_counter() - self._start, rss, fds)
        self.samples.append(found)
        return found
