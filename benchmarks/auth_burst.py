"""A burst of bad tokens against tile serving: how much slower do tiles get? (issue 14, section 4)

``python -m benchmarks.auth_burst [--size 1024] [--workers 1] [--tiles 300] [--clients 4]
[--attackers 32] [--demo DIR] [--unguarded]``

Serves the demo (``benchmarks.load_server``: ``mcae serve`` over a fresh copy of its SQLite
database; the demo's tokens use the default scrypt cost) and fetches ``--tiles`` distinct
tiles with ``--clients`` concurrent clients, three times, each time other tiles drawn from
every layer and zoom (none comes from the app's cache):

1. **baseline**: tiles alone;
2. **burst, one address**: meanwhile ``--attackers`` threads send bad tokens to ``/api/me``
   as fast as they can: real token ids with fresh wrong secrets (each one a scrypt, were it
   not refused) and random token ids;
3. **burst, many addresses**: the same with a different ``X-Forwarded-For`` address on every
   request (uvicorn trusts it from 127.0.0.1), so only the per-token-id backoff, the failure
   memory and the scrypt slots stand between the burst and the CPU.

Printed: tile p50/p95 per phase, and each burst's ratio to the baseline (p50 and p95); the
answers the attackers got (401/429/503). ``--unguarded`` runs the same with the guards
loosened (a huge failure allowance, 64 scrypt slots) to show what they buy. The goal: a
burst slows tiles by at most ``GOAL``x at p50. ``benchmarks/results/auth_burst.json`` keeps it all.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks._common import machine_info, write_results
from benchmarks.load_mix import discover
from benchmarks.load_server import build_demo, read_tokens, serve
from benchmarks.tiles_data import split_disjoint

GOAL = 3.0  # a burst may slow tiles by at most this factor (p50), attackers on the same cores
UNGUARDED = {"MCAE_AUTH__FAILURES_ALLOWED": "100000000", "MCAE_AUTH__MAX_CONCURRENT_VERIFICATIONS": "64",
             "MCAE_AUTH__FAILURE_MEMORY_S": "0"}


def fetch_tiles(base: str, paths: list[str], clients: int) -> list[float]:
    """Latencies (ms) of ``paths`` fetched by ``clients`` concurrent clients."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(paths)

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    path = queue.pop()
                began = time.perf_counter()
                answer = client.get(path)
                spent = (time.perf_counter() - began) * 1000
                if answer.status_code not in (200, 204, 404):
                    raise RuntimeError(f"tile {path}: {answer.status_code}")
                with lock:
                    latencies.append(spent)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    return latencies


class Burst:
    """``attackers`` threads sending bad tokens until stopped; the statuses they got."""

    def __init__(self, base: str, token_ids: list[str], attackers: int, spoof: bool) -> None:
        self.base, self.token_ids, self.attackers, self.spoof = base, token_ids, attackers, spoof
        self.stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(attackers)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self.stop.is_set():
                token_id = rng.choice(self.token_ids) if rng.random() < 0.8 else secrets.token_hex(6)
                headers = {"Authorization": f"Bearer mcae_{token_id}_{secrets.token_urlsafe(32)}"}
                if self.spoof:
                    headers["X-Forwarded-For"] = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
                try:
                    status = client.get("/api/me", headers=headers).status_code
                except httpx.TransportError:
                    status = 0
                with self.lock:
                    self.statuses[status] += 1

    def __enter__(self) -> Burst:
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # the burst is on before the tiles start
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def figures(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2)}


def measure(demo: Path, work: Path, args: argparse.Namespace, env: dict[str, str] | None) -> dict[str, Any]:
    tokens = read_tokens(demo)
    token_ids = [token.split("_", 2)[1] for token in tokens.values()]
    out: dict[str, Any] = {}
    with serve(demo, work, args.workers, env) as server:
        world = discover(server.base, next(iter(tokens.values())))
        # every tile of every layer at every zoom: three disjoint sets, none served from a cache
        pool = [(layer.template, z, x, y) for layer in world.layers for z, tiles in layer.tiles.items()
                for x, y in tiles]
        parts = split_disjoint(pool, 3, args.tiles, random.Random(14))  # type: ignore[arg-type]
        paths = [[template.format(z=z, x=x, y=y) for template, z, x, y in part] for part in parts]
        fetch_tiles(server.base, paths[0][-10:], args.clients)  # warm the workers (imports, pools)
        out["baseline"] = figures(fetch_tiles(server.base, paths[0], args.clients))
        for name, spoof, part in (("burst_one_address", False, paths[1]), ("burst_many_addresses", True, paths[2])):
            with Burst(server.base, token_ids, args.attackers, spoof) as burst:
                found = figures(fetch_tiles(server.base, part, args.clients))
            found["attacker_statuses"] = dict(burst.statuses)
            found["ratio_p50"] = round(found["p50_ms"] / out["baseline"]["p50_ms"], 2)
            found["ratio_p95"] = round(found["p95_ms"] / out["baseline"]["p95_ms"], 2)
            out[name] = found
        out["tile_pool"] = len(pool)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tiles", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--attackers", type=int, default=32)
    parser.add_argument("--demo", type=Path, default=None)
    parser.add_argument("--unguarded", action="store_true", help="also run with the guards loosened")
    args = parser.parse_args(argv)
    demo = args.demo or Path(tempfile.gettempdir()) / f"mcae-load-demo-{args.size}"
    build_demo(demo, args.size)
    result: dict[str, Any] = {"machine": machine_info(), "config": vars(args), "goal_ratio_p50": GOAL}
    with tempfile.TemporaryDirectory(prefix="mcae-auth-burst-") as work:
        result["guarded"] = measure(demo, Path(work) / "guarded", args, None)
        if args.unguarded:
            result["unguarded"] = measure(demo, Path(work) / "unguarded", args, UNGUARDED)
    for setup in ("guarded", "unguarded"):
        if setup not in result:
            continue
        found = result[setup]
        print(f"{setup}: baseline tiles p50 {found['baseline']['p50_ms']} ms, p95 {found['baseline']['p95_ms']} ms")
        for name in ("burst_one_address", "burst_many_addresses"):
            b = found[name]
            print(f"  {name}: p50 {b['p50_ms']} ms (x{b['ratio_p50']}), p95 {b['p95_ms']} ms (x{b['ratio_p95']}); "
                  f"attackers got {b['attacker_statuses']}")
    path = write_results("auth_burst.json", result)
    print(f"written {path}")
    worst = max(result["guarded"][n]["ratio_p50"] for n in ("burst_one_address", "burst_many_addresses"))
    print(f"worst p50 slow-down under a burst: x{worst} (goal: at most x{GOAL})")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
