"""The tile benchmark's proxy rows: nginx with ``docker/nginx.conf`` in front of ``mcae serve``.

The deployment's own file (``docker/compose.yaml`` mounts it into the nginx image) with its
three placeholders substituted (upstream, listen address, cache folder) and a small main file
around it in a temporary folder (``daemon off``, ``worker_processes N``, temp paths, no access
log). Two rows on the hot set, both on versioned URLs (``?v=<layer version>``, what TileJSON
and WMTS templates carry and what nginx caches): ours directly (the app's tile cache), and the
same requests through nginx after one pass has filled its cache (every answer a HIT).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks import tiles_servers as servers
from benchmarks.nginx_config import write_config
from benchmarks.tiles_checks import ours_path
from benchmarks.tiles_client import Request
from benchmarks.tiles_report import row


@contextlib.contextmanager
def proxied(app_url: str, workers: int, work: Path, probe: str = "/healthz") -> Iterator[servers.Server]:
    """nginx (``workers`` processes) with ``docker/nginx.conf`` in front of ``app_url``."""
    if not servers.NGINX:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    port = servers.free_port()
    folder = Path(tempfile.mkdtemp(prefix="nginx-proxy-", dir=work))
    conf = write_config(folder, app_url.removeprefix("http://"), f"{servers.HOST}:{port}", workers=workers)
    log = folder / "nginx.out"
    proc = servers._popen([servers.NGINX, "-p", str(folder), "-c", str(conf)], dict(os.environ), log)
    try:
        servers._wait_up(proc, port, 1, probe, 30, log)
        yield servers.Server(f"http://{servers.HOST}:{port}", [proc], f"nginx ({workers} workers) in front")
    finally:
        servers._stop([proc])


def nginx_work(server: servers.Server) -> Path:
    """The temporary folder of a ``proxied`` nginx (its configuration, cache and error log)."""
    return Path(server.procs[0].args[2])  # [nginx, "-p", folder, ...]


def layer_version(base: str, city: str, layer: str) -> str:
    doc = httpx.get(f"{base}/api/cities/{city}", timeout=30).json()
    return str(next(entry["version"] for entry in doc["layers"] if entry["id"] == layer))


Measure = Callable[..., dict[str, Any]]


def proxy_rows(app: servers.Server, hot: dict[str, list[tuple[int, int, int]]], workers: int, work: Path,
               requests: int, measure: Measure) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows (ours direct, through nginx) per zoom on versioned hot URLs, and the cache checks."""
    version = layer_version(app.url, "bench", "utm")
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    paths = {zoom: [f"{ours_path('utm', *t, 'png')}?v={version}" for t in tiles] for zoom, tiles in hot.items()}
    first = next(iter(paths.values()))[0]
    with proxied(app.url, workers, work, "/healthz") as nginx:  # not a tile: the first one is a MISS
        with httpx.Client(timeout=30) as client:
            direct = client.get(app.url + first)
            one, two = client.get(nginx.url + first), client.get(nginx.url + first)
        checks.append({"check": "through nginx: a versioned tile is a HIT the second time, the app's bytes and ETag",
                       "ok": two.headers.get("x-cache-status") == "HIT" and two.content == direct.content
                       and two.headers.get("etag") == direct.headers.get("etag") and one.status_code == 200,
                       "detail": f"{one.headers.get('x-cache-status')} then {two.headers.get('x-cache-status')}"})
        for zoom, zoom_paths in paths.items():
            reqs = [Request(p) for p in zoom_paths]
            measure(app, reqs, 10 * len(reqs), warmup=True)  # both processes' tile caches
            res = measure(app, reqs, requests)
            rows.append(row("ours hot, versioned URLs (tile cache)", "ours-hot-versioned", zoom, "png", res))
            print(f"  ours hot {zoom} versioned: {res['tiles_per_s']:,.1f} tiles/s, p99 {res['p99_ms']:.2f} ms")
            measure(nginx, reqs, 2 * len(reqs), warmup=True)  # fills nginx's cache
            with httpx.Client(timeout=30) as client:
                statuses = {p: client.get(nginx.url + p).headers.get("x-cache-status") for p in zoom_paths}
            missed = [f"{p} {s}" for p, s in statuses.items() if s != "HIT"]
            errors = (nginx_work(nginx) / "error.log").read_text().strip().splitlines()
            checks.append({"check": f"through nginx at {zoom}: every hot tile a HIT after one pass",
                           "ok": not missed, "detail": f"{len(zoom_paths) - len(missed)}/{len(zoom_paths)} HIT"
                           + (f"; not: {missed[:3]}; nginx error log: {errors[-3:]}" if missed else "")})
            res = measure(nginx, reqs, requests)
            rows.append(row("nginx cache in front (docker/nginx.conf)", "nginx-hot", zoom, "png", res))
            print(f"  nginx {zoom}: {res['tiles_per_s']:,.1f} tiles/s, p99 {res['p99_ms']:.2f} ms")
    return rows, checks


def proxy_summary(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """nginx / ours on the same versioned hot URLs, per zoom."""
    ratios: dict[str, Any] = {}
    lines = []
    for r in rows:
        if r["group"] != "nginx-hot":
            continue
        ours = next(o for o in rows if o["group"] == "ours-hot-versioned" and o["zoom"] == r["zoom"])
        ratio = r["tiles_per_s"] / ours["tiles_per_s"]
        ratios[r["zoom"]] = {"nginx_tiles_per_s": r["tiles_per_s"], "ours_tiles_per_s": ours["tiles_per_s"],
                             "nginx_over_ours": round(ratio, 2), "p99_nginx_ms": r["p99_ms"],
                             "p99_ours_ms": ours["p99_ms"]}
        lines.append(f"hot {r['zoom']}: nginx in front {r['tiles_per_s']:,.0f} tiles/s vs ours "
                     f"{ours['tiles_per_s']:,.0f} tiles/s = {ratio:.1f}x (p99 {r['p99_ms']:.2f} vs "
                     f"{ours['p99_ms']:.2f} ms)")
    return ratios, lines
