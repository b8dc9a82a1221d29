"""Load and soak: a mix like real use against ``mcae serve --workers 2``; latency, errors, worker RSS.

``python -m benchmarks.load [--clients 32] [--seconds 60] [--requests N] [--workers 2]
[--warmup 2000] [--size 2048] [--demo DIR] [--baseline-seconds 10] [--think-ms 0]``

The demo (``mcae demo --size 2048``: the synthetic city's four layers and four districts, and
the annotation project ``demo`` in SQLite with its tokens) is built once into ``--demo``
(``/tmp/mcae-load-demo-<size>``) and reused. Each run serves a fresh copy of its database with
``mcae serve --workers N`` (a subprocess; the clients run in this process), reads the world
over the API (``load_mix.discover``), then:

1. **baseline**: the same mix from 1 client for ``--baseline-seconds``: each route's latency
   when nothing competes (it also warms the workers' caches);
2. **load**: ``--clients`` closed-loop clients (no think time unless ``--think-ms``) for
   ``--seconds`` (or ``--requests``, whichever first), the workers' RSS and open file
   descriptors sampled every ``--sample-every`` answers.

Printed: per route count, p50/p99/max, 409s (competing saves, expected), 503s waited out and
retried, errors (5xx, unexpected 4xx, refused/reset connections, timeouts) and the baseline's
p50/p99; totals; per worker RSS fresh/start/after the warm-up (``--warmup`` answers)/end/peak,
the growth after the warm-up and its rate per 1,000 requests. Goals: 0 errors, p99 under
500 ms on every route. ``benchmarks/results/load.json`` keeps everything. Exit status 1 when
there were errors or a worker died, else 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine_info, write_results
from benchmarks.load_mix import WEIGHTS, discover
from benchmarks.load_report import MB, route_figures, rss_figures, rss_table, table, totals
from benchmarks.load_run import RunConfig, Runner
from benchmarks.load_server import RssSampler, build_demo, read_tokens, serve

P99_GOAL_MS = 500.0


def measure(demo: Path, work: Path, *, workers: int, load: RunConfig, warmup: int,
            baseline: RunConfig | None = None, env: dict[str, str] | None = None,
            log: Any = print) -> dict[str, Any]:
    """Serve the demo, run the baseline (if any) and the load; every figure as a dict."""
    token = read_tokens(demo)["annotator"]
    result: dict[str, Any] = {"workers": workers, "warmup": warmup, "load_config": vars(load),
                              "baseline_config": vars(baseline) if baseline else None, "env": env or {}}
    with serve(demo, work, workers, env) as server:
        pids = server.worker_pids()
        sampler = RssSampler(pids)
        fresh = sampler.sample(0).rss
        sampler.samples.clear()
        world = discover(server.base, token)
        result["world"] = {"layers": [la.id for la in world.layers], "tiles": world.tile_count,
                           "districts": len(world.districts), "groups": len(world.groups),
                           "masks": len(world.mask_versions), "patches": len(world.patches)}
        log(f"world: {len(world.layers)} layers, {world.tile_count} tiles, {len(world.districts)} districts, "
            f"{len(world.groups)} groups, {len(world.mask_versions)} masks; workers {pids}")
        if baseline is not None:
            stats = Runner(server.base, world, baseline).run()
            result["baseline"] = {"routes": route_figures(stats), "totals": totals(stats)}
            log(f"baseline (1 client): {stats.answered} requests in {stats.seconds:.1f} s, {stats.errors} errors")
        runner = Runner(server.base, world, load, sampler)
        stats = runner.run()
        result["routes"], result["totals"] = route_figures(stats), totals(stats)
        result["rss"] = rss_figures(sampler.samples, warmup, fresh)
        result["workers_gone"] = sampler.gone + [p for p in pids if p not in server.worker_pids()]
        log(f"load ({load.clients} clients): {stats.answered} requests in {stats.seconds:.1f} s, "
            f"{stats.errors} errors")
        full_log = server.log.read_text(errors="replace")
        result["server_log_tail"], result["server_tracebacks"] = full_log[-2000:], full_log.count("Traceback")
    return result


def report(result: dict[str, Any]) -> str:
    t = result["totals"]
    baseline = result.get("baseline")
    lines = [table(result["routes"], baseline["routes"] if baseline else None), "",
             f"total: {t['requests']} requests in {t['seconds']:.1f} s ({t['requests_per_s']:.0f}/s), "
             f"p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms; {t['errors']} errors, "
             f"{t['conflicts_409']} x 409 (competing saves), {t['busy_503']} x 503 retried", "",
             rss_table(result["rss"])]
    if baseline:
        b = baseline["totals"]
        lines.insert(2, f"baseline, 1 client: {b['requests']} requests, {b['requests_per_s']:.0f}/s, "
                        f"p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms; load p50 / baseline p50 = "
                        f"{t['p50_ms'] / b['p50_ms']:.1f}x")
    for message in t["first_errors"][:10]:
        lines.append(f"  error: {message}")
    if result["workers_gone"]:
        lines.append(f"workers gone during the run: {result['workers_gone']}")
    worst, figures = max(result["routes"].items(), key=lambda kv: kv[1]["p99_ms"])
    lines += ["", f"goal 0 errors: {'PASS' if t['errors'] == 0 and not result['workers_gone'] else 'FAIL'} "
                  f"({t['errors']})",
              f"goal p99 < {P99_GOAL_MS:.0f} ms on every route: "
              f"{'PASS' if figures['p99_ms'] < P99_GOAL_MS else 'FAIL'} (worst: {worst} {figures['p99_ms']:.0f} ms)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients of the load")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    parser.add_argument("--requests", type=int, default=None, help="stop the load after this many requests too")
    parser.add_argument("--workers", type=int, default=2, help="mcae serve --workers")
    parser.add_argument("--warmup", type=int, default=2000, help="answers before RSS growth is measured")
    parser.add_argument("--sample-every", type=int, default=250, help="RSS sample every N answers")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="1-client baseline (0: none)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a client's requests")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as failed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=2048, help="demo city size in px (mcae demo --size)")
    parser.add_argument("--demo", type=Path, default=None, help="demo folder, built when missing "
                        "[/tmp/mcae-load-demo-<size>]")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the demo even when it is there")
    parser.add_argument("--keep-work", action="store_true", help="keep the run's folder (database copy, log)")
    args = parser.parse_args()
    demo = args.demo or Path(tempfile.gettempdir()) / f"mcae-load-demo-{args.size}"
    built = build_demo(demo, args.size, rebuild=args.rebuild)
    print(f"demo: {demo} ({f'built in {built:.0f} s' if built else 'reused'})")
    load = RunConfig(clients=args.clients, seconds=args.seconds, requests=args.requests,
                     sample_every=args.sample_every, seed=args.seed, timeout_s=args.timeout, think_ms=args.think_ms)
    baseline = RunConfig(clients=1, seconds=args.baseline_seconds, seed=args.seed + 100, timeout_s=args.timeout,
                         think_ms=args.think_ms) if args.baseline_seconds > 0 else None
    work = Path(tempfile.mkdtemp(prefix="mcae-load-"))
    began = time.perf_counter()
    result = measure(demo, work, workers=args.workers, load=load, warmup=args.warmup, baseline=baseline)
    print()
    print(report(result))
    result.update({"mix_weights": WEIGHTS, "settings": {k: str(v) for k, v in vars(args).items()},
                   "machine": machine_info(), "wall_s": time.perf_counter() - began, "rss_unit": f"{MB} bytes"})
    print(f"results: {write_results('load.json', result)}")
    if args.keep_work:
        print(f"run folder kept: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    if result["totals"]["errors"] or result["workers_gone"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
