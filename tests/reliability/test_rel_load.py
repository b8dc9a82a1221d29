"""A small ``benchmarks.load``: 8 clients of the real-use mix against ``mcae serve --workers 2``.

The same code as the benchmark (``benchmarks.load.measure``) on a 512 px demo, with small
caches (``ENV``) so that the leak bound derived from them is tight: 0 errors (no 5xx, no
unexpected 4xx, no refused/reset connection or timeout, no failed bundle job), no worker
died, every route of the mix was asked, and after the warm-up no worker grew by more than
its bounded caches can hold plus slack, nor gained more file descriptors than its reader
pool and connections can hold (``rel_load_bound``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rel_load_bound import capacities_mb, fd_bound, growth_bound_mb, settings_of

# benchmarks/ is a package at the repository root, on sys.path under pytest (pyproject.toml)
from benchmarks.load import measure, report
from benchmarks.load_mix import WEIGHTS
from benchmarks.load_run import RunConfig
from benchmarks.load_server import build_demo

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

CLIENTS = 8
REQUESTS = 2000
WARMUP = 600
# small caches: the bound is their sum, so the smaller they are the smaller a leak it catches
ENV = {"MCAE_TILES__TILE_CACHE_MB": "4", "MCAE_TILES__GDAL_CACHEMAX_MB": "16",
       "MCAE_TILES__DATASET_CACHE_SIZE": "8"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    demo = tmp_path_factory.mktemp("load-demo")
    build_demo(demo, 512)
    # the run ends at REQUESTS, however long a busy machine takes: seconds is only a liveness bound
    load = RunConfig(clients=CLIENTS, seconds=900.0, requests=REQUESTS, sample_every=100, seed=3, timeout_s=20.0)
    result = measure(demo, tmp_path_factory.mktemp("load-work"), workers=2, load=load, warmup=WARMUP, env=ENV,
                     log=lambda *_: None)
    result["settings"] = settings_of(ENV, demo / "catalog.json")
    print("\n" + report(result))
    return result


def test_no_errors_and_every_route_asked(run: dict[str, Any]) -> None:
    totals = run["totals"]
    assert totals["errors"] == 0, totals["first_errors"]
    assert not run["workers_gone"], f"workers died: {run['workers_gone']}\n{run['server_log_tail']}"
    assert run["server_tracebacks"] == 0, run["server_log_tail"]
    assert totals["requests"] >= REQUESTS * 0.9, f"only {totals['requests']} of {REQUESTS} requests answered"
    asked = {name.split(" z")[0].removesuffix(" retry") for name, r in run["routes"].items() if r["count"]}
    assert set(WEIGHTS) <= asked, f"never asked: {set(WEIGHTS) - asked}"
    assert run["routes"]["job status"]["count"] > 0
    statuses = {s for r in run["routes"].values() for s in r["statuses"]}
    assert not {s for s in statuses if not s.isdigit() or s.startswith("5")}, statuses


def test_two_workers_shared_the_load(run: dict[str, Any]) -> None:
    """Both workers served (their RSS moved past the fresh process), so both are measured."""
    assert len(run["rss"]) == 2
    for pid, r in run["rss"].items():
        assert r["end_mb"] > r["fresh_mb"] + 1, f"worker {pid} served nothing: {r}"
        assert r["samples"] >= 10 and r["end_at_requests"] - r["warm_at_requests"] >= 500


def test_rss_growth_after_warmup_is_bounded(run: dict[str, Any]) -> None:
    settings = run["settings"]
    bound = growth_bound_mb(settings, run["world"]["patches"])
    for pid, r in run["rss"].items():
        assert r["growth_mb"] <= bound, (
            f"worker {pid} grew {r['growth_mb']:.1f} MB after {r['warm_at_requests']} requests (bound {bound:.0f} MB: "
            f"{capacities_mb(settings, run['world']['patches'])} + slack): {r}")


def test_open_files_after_warmup_are_bounded(run: dict[str, Any]) -> None:
    bound = fd_bound(run["settings"], CLIENTS)
    for pid, r in run["rss"].items():
        gained = r["fds_end"] - r["fds_start"]
        assert gained <= bound, f"worker {pid} kept {gained} more file descriptors (bound {bound}): {r}"


def test_reader_pool_evicts_past_a_key_in_use(tmp_path: Path) -> None:
    """Found by this load (a 500 on identify and bundle estimates once the pool was full): a key
    whose every reader was checked out stayed in the pool as an empty list, and the next
    eviction popped from it (IndexError), leaving the readers it had taken out unclosed."""
    import numpy as np

    from benchmarks.scenes import write_tif
    from mcae.tiles.readers import ReaderPool

    paths = [str(write_tif(tmp_path / f"{i}.tif", np.full((1, 32, 32), i, np.uint8))) for i in range(3)]
    pool = ReaderPool(1)
    with pool.reader(paths[0]):
        pass
    with pool.reader(paths[0]) as held:  # the pool's only reader of paths[0], checked out
        readers = []
        for path in paths[1:]:
            with pool.reader(path) as src:
                readers.append(src)
        assert len(pool) == 1 and readers[0].dataset.closed and not readers[1].dataset.closed
    assert len(pool) == 1 and not held.dataset.closed and readers[1].dataset.closed
    assert pool.opened == 3
    pool.clear()
