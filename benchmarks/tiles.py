"""Tile-serving benchmark: our tile server against stock TiTiler, static files and in-process reads.

Run from the repository root (loopback only; every server is started and stopped here)::

    .venv/bin/python -m benchmarks.tiles            # ~3-4 min on 2 cores once the map exists
    .venv/bin/python -m benchmarks.tiles --long     # 4x the requests (more stable tails)

One synthetic city map (``benchmarks/tiles_data.py``: 40,000 x 40,000 px at 0.6 m in UTM,
MCAE palette, written by ``write_class_cog``; generated once into ``/tmp/mcae-tiles-bench``),
added to a catalog as ``mcae catalog add`` adds it: with its serving copy (the same map
laid out on the web-mercator grid by rio-cogeo, ``mcae.tiles.serving``), which our tile
route reads. Every HTTP row uses the same client (``wrk``, 1 thread,
``--connections`` 8 keep-alive connections, a fixed seeded list of tiles; see
``tiles_client.py``) against servers with ``--workers`` 2 processes:

1. ours cold: ``mcae serve --workers 2`` started afresh for each row, each tile requested
   once (no tile-cache hit): 1500 random whole tiles at the native zoom, and the whole tiles
   at the low zooms (``--low-zooms``, overviews) less the hot set; paletted PNG and lossless
   WebP; every cold row (ours and stock) gets the same lists, ours and stock alternating;
2. ours hot: a fixed set of tiles requested over and over after a warm-up (tile cache),
   and the same with ``If-None-Match`` (304s; every answer must be a 304). The ETag / 304
   behaviour is checked first (see ``etag_checks``) and the checks are counted;
3. the anchor: a stock titiler.core app (``TilerFactory()`` defaults, file by ``?url=``,
   MCAE colormap by ``colormap=``), 2 uvicorn processes on SO_REUSEPORT sockets like
   ours; 256 px PNG, cold (fresh servers, the same lists) and hot (our hot set); unless
   ``--no-variants``, two more cold rows split the gain: ours on the same layer without a
   serving copy (warping the UTM file, as stock does) and stock on the serving copy;
4. the floor: the hot tiles pre-rendered to files and served by nginx (2 workers);
   and the deployment's nginx (``docker/nginx.conf``, ``tiles_proxy.py``) in front of ours: the
   hot set on versioned URLs through its cache, beside ours directly on the same URLs;
5. in process, no HTTP, one thread: ``render_tile`` in a loop (ours) and a new
   ``Reader`` + ``Reader.tile`` + ``ImageData.render`` per tile (stock), on the cold lists.

Then a z12-z18 bundle of a district-sized polygon (``--bundle-km``) by
``mcae.tiles.bundles.build_bundle``, against the tile endpoint's cold native rate.
Each measured row first waits (``--quiet-wait`` in all) for other programs to leave the
CPU alone, and records the server's CPU per request and the cores others used meanwhile.
Ratios and the issue's goals (PASS/FAIL; the exit status is 0 either way) are printed;
everything goes to ``benchmarks/results/tiles.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks import tiles_data as data
from benchmarks import tiles_proxy as proxy
from benchmarks import tiles_servers as servers
from benchmarks._common import REPO, machine_info, write_results
from benchmarks.tiles_checks import etag_checks, mcae_colormap_query, ours_path, static_path, stock_path, version_checks
from benchmarks.tiles_client import WRK, Request, run_load
from benchmarks.tiles_report import print_table, row, summarize


# -- helpers ---------------------------------------------------------------------------------
def client_cpu() -> float:
    """CPU seconds of this process and its finished children (wrk, once it has been waited for)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_quiet(budget_s: float, max_other_cores: float) -> float:
    """Wait (at most ``budget_s``) for a second in which the machine is nearly idle; the seconds waited.

    Called between rows, when our servers are idle: what is busy then is other programs.
    """
    t0 = time.monotonic()
    while True:
        b0 = machine_busy()
        time.sleep(1.0)
        b1 = machine_busy()
        if (b1[0] - b0[0]) / max(1e-6, b1[1] - b0[1]) <= max_other_cores or time.monotonic() - t0 >= budget_s:
            return time.monotonic() - t0


def machine_busy() -> tuple[float, float]:
    """(CPU seconds busy on the whole machine, wall seconds), from /proc/stat and the clock."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, time.monotonic()
    tick = os.sysconf("SC_CLK_TCK")
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0.0)  # less idle and iowait
    return busy / tick, time.monotonic()


def inproc(spec: dict[str, Any], work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one ``benchmarks.tiles_inproc`` mode in a fresh process."""
    spec_path = work / f"spec-{spec['mode']}.json"
    out_path = work / f"out-{spec['mode']}.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.tiles_inproc", str(spec_path), str(out_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"tiles_inproc {spec['mode']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(out_path.read_text())


def district(bounds: tuple[float, float, float, float], km: float) -> dict[str, Any]:
    """A hexagon-like district polygon of about ``km`` across, at the map's centre."""
    lon = (bounds[0] + bounds[2]) / 2
    lat = (bounds[1] + bounds[3]) / 2
    r_lat = km / 2 / 111.32
    r_lon = r_lat / math.cos(math.radians(lat))
    ring = [(lon + r_lon * math.cos(a) * (1 + 0.15 * math.sin(3 * a)), lat + r_lat * math.sin(a))
            for a in (2 * math.pi * k / 7 for k in range(7))]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def inset(bounds: tuple[float, float, float, float], frac: float) -> tuple[float, float, float, float]:
    w, s, e, n = bounds
    dx, dy = (e - w) * frac, (n - s) * frac
    return (w + dx, s + dy, e - dx, n - dy)


# -- the benchmark ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=40_000, help="map width and height in px (>= 40000 for the issue)")
    p.add_argument("--data-dir", type=Path, default=data.DATA_DIR)
    p.add_argument("--workers", type=int, default=2, help="server processes of ours, stock and nginx")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--cold-native", type=int, default=1500, help="tiles per cold row at the native zoom")
    p.add_argument("--cold-low", type=int, default=500, help="tiles per cold row at the low zooms (at most "
                   "the whole tiles there less the hot set)")
    p.add_argument("--low-zooms", default="13,14,15")
    p.add_argument("--hot-native", type=int, default=200, help="tiles in the hot set at the native zoom")
    p.add_argument("--hot-low", type=int, default=100, help="tiles in the hot set at the low zooms")
    p.add_argument("--hot-requests", type=int, default=10_000, help="requests per hot / 304 row of ours")
    p.add_argument("--stock-hot-requests", type=int, default=600, help="requests per hot row of stock")
    p.add_argument("--static-requests", type=int, default=20_000)
    p.add_argument("--bundle-km", type=float, default=4.0, help="district size for the bundle export")
    p.add_argument("--bundle-format", default="mbtiles", choices=["mbtiles", "pmtiles", "zip"])
    p.add_argument("--no-variants", action="store_true",
                   help="skip the variant rows (ours without the serving copy, stock reading the serving copy)")
    p.add_argument("--extra-cities", type=int, default=0,
                   help="other cities in the catalog (4 layers, 10 districts each): a catalog of realistic size")
    p.add_argument("--no-webp", action="store_true")
    p.add_argument("--skip-static", action="store_true")
    p.add_argument("--skip-inproc", action="store_true")
    p.add_argument("--skip-bundle", action="store_true")
    p.add_argument("--skip-proxy", action="store_true", help="no rows through nginx in front (docker/nginx.conf)")
    p.add_argument("--proxy-only", action="store_true",
                   help="only ours hot and nginx in front (no cold, stock, static, in-process or bundle rows)")
    p.add_argument("--inproc-tiles", type=int, default=600, help="tiles per in-process row (first of the cold lists)")
    p.add_argument("--row-time-limit", type=float, default=120.0,
                   help="seconds after which an HTTP row stops, complete or not (flagged)")
    p.add_argument("--client", choices=["wrk", "asyncio"], default=None, help="default: wrk when installed")
    p.add_argument("--quiet-wait", type=float, default=120.0,
                   help="seconds in all the run may wait, before rows, for other programs to leave the CPU alone")
    p.add_argument("--quiet-cores", type=float, default=0.25,
                   help="'quiet': other programs use at most this many cores")
    p.add_argument("--long", action="store_true", help="4x every request count")
    p.add_argument("--keep-work", action="store_true", help="keep the run's folder (logs, static tiles)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    if args.proxy_only:
        args.skip_static = args.skip_inproc = args.skip_bundle = True
    if args.long:
        for name in ("cold_native", "cold_low", "hot_requests", "stock_hot_requests", "static_requests"):
            setattr(args, name, 4 * getattr(args, name))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    if args.client == "wrk" and not WRK:
        print("wrk is not installed (apt-get install -y wrk); using the asyncio client")
        args.client = None
    client = args.client or ("wrk" if WRK else "asyncio")
    print(f"client: {client}, {args.connections} connections; servers: {args.workers} processes each; 127.0.0.1 only")
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.data_dir if args.data_dir.exists() else None))
    fmts = ["png"] if args.no_webp else ["png", "webp"]

    # -- data ------------------------------------------------------------------------------
    t0 = time.perf_counter()
    city = data.city_cog(args.size, args.data_dir)
    layers = {"utm": city} if args.no_variants else {"utm": city, "native": city}
    catalog = data.make_catalog(layers, args.data_dir / "catalog", args.extra_cities, serving={"utm"})
    data_seconds = time.perf_counter() - t0

    from mcae.tiles.catalog import CatalogStore, LayerKind
    from mcae.tiles.gdal import gdal_options
    from mcae.tiles.layers import layer_from_file
    from mcae.tiles.settings import TileSettings

    store = CatalogStore(catalog)
    utm = store.layer("bench", "utm")
    copy = store.serving_copy(utm)
    if copy is None:
        raise RuntimeError("the catalog layer has no fresh serving copy")
    files = {"utm": city, "native": city, "serving": copy}  # what stock reads for each layer id
    if not args.no_variants:  # the serving copy as a layer of its own, for the stock row on it
        store.put_layer("bench", layer_from_file(store, copy, kind=LayerKind.mcae, layer_id="serving",
                                                 provenance="synthetic", serving=False))
    print(f"serving copy: {copy} ({copy.stat().st_size / 1e6:.0f} MB; the map {city.stat().st_size / 1e6:.0f} MB)")
    native_z = utm.maxzoom
    low_zooms = [int(z) for z in args.low_zooms.split(",")]
    bounds = inset(utm.bounds, 0.03)  # whole tiles well inside the (slightly rotated) UTM square
    rng = random.Random(args.seed)
    spare = args.connections  # never repeat a tile at the end of a cold run

    # One list of cold tiles per zoom class, shared by every cold row (each row runs on freshly
    # started servers, so no row sees another's tiles in a cache); hot sets are disjoint from them.
    cold_native_tiles = data.random_tiles(bounds, native_z, args.cold_native + spare, rng)
    hot_native = data.random_tiles(bounds, native_z, args.hot_native, rng, set(cold_native_tiles))
    pool = {z: data.tiles_inside(bounds, z) for z in low_zooms}
    total_pool = sum(len(v) for v in pool.values())
    hot_low: list[tuple[int, int, int]] = []
    rest: list[tuple[int, int, int]] = []
    for _z, tiles in pool.items():  # the hot set takes the same share of every low zoom
        rng.shuffle(tiles)
        k = max(1, round(len(tiles) * args.hot_low / total_pool))
        hot_low += tiles[:k]
        rest += tiles[k:]
    rng.shuffle(hot_low)
    rng.shuffle(rest)
    cold_low_tiles = rest[:args.cold_low + spare]
    warm_tiles = data.random_tiles(bounds, native_z, 8, rng, set(cold_native_tiles) | set(hot_native)) + \
        data.random_tiles(bounds, low_zooms[-1] + 1, 8, rng)  # imports, readers, first calls
    low_label = f"z{low_zooms[0]}-{low_zooms[-1]}" if len(low_zooms) > 1 else f"z{low_zooms[0]}"
    nat_label = f"z{native_z}"
    cold_sets = {nat_label: cold_native_tiles, low_label: cold_low_tiles}
    print(f"map: {city} ({args.size:,} px square, native zoom {native_z}); cold rows: {len(cold_native_tiles) - spare} "
          f"tiles at {nat_label}, {len(cold_low_tiles) - spare} at {low_label} (of {total_pool} whole tiles there); "
          f"hot sets: {len(hot_native)} + {len(hot_low)} tiles")

    rows: list[dict[str, Any]] = []
    env = {**os.environ, "MCAE_TILES_JOBS_DIR": str(work / "jobs"), "PYTHONPATH": str(REPO)}
    stock_env = {**env, **gdal_options(TileSettings())}  # the same GDAL settings as ours
    checks: list[dict[str, Any]] = []
    load = {"connections": args.connections, "client": args.client, "time_limit_s": args.row_time_limit}

    quiet_budget = [args.quiet_wait]

    def quiet() -> None:
        if quiet_budget[0] > 0:
            quiet_budget[0] -= wait_quiet(quiet_budget[0], args.quiet_cores)

    def measure(srv: servers.Server, reqs: list[Request], count: int,
                expect: tuple[int, ...] = (200, 204), warmup: bool = False) -> dict[str, Any]:
        if not warmup:
            quiet()
        cpu0, usage0, busy0 = srv.cpu_seconds(), client_cpu(), machine_busy()
        result = run_load(srv.url, reqs, count, expect=expect, **load)
        cpu1, usage1, busy1 = srv.cpu_seconds(), client_cpu(), machine_busy()
        wall = max(1e-6, busy1[1] - busy0[1])
        busy_cores = (busy1[0] - busy0[0]) / wall
        server_cores = (cpu1 - cpu0) / wall if cpu0 is not None and cpu1 is not None else None
        client_cores = (usage1 - usage0) / wall
        result["server_cpu_ms_per_req"] = round(1e3 * (cpu1 - cpu0) / max(1, result["requests"]), 3) \
            if cpu0 is not None and cpu1 is not None else None
        result["server_cores"] = round(server_cores, 2) if server_cores is not None else None
        result["client_cores"] = round(client_cores, 2)
        result["other_cores"] = round(max(0.0, busy_cores - (server_cores or 0.0) - client_cores), 2)
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
        if not result["complete"]:
            print(f"  WARNING: stopped after {args.row_time_limit:g} s with {result['requests']} of {count} answers")
        return result

    cq = mcae_colormap_query()

    def cold_row(side: str, layer: str, zoom: str, fmt: str) -> dict[str, Any]:
        """One cold row on freshly started servers: a short warm-up on other tiles, then each tile once."""
        file = files[layer]

        def path_of(t: tuple[int, int, int], f: str) -> str:
            if side == "ours":
                return ours_path(layer, t[0], t[1], t[2], f)
            return stock_path(file, cq, t[0], t[1], t[2])

        ctx = servers.ours(catalog, args.workers, work, env) if side == "ours" else \
            servers.stock(args.workers, work, stock_env)
        tiles = cold_sets[zoom]
        with ctx as srv:
            measure(srv, [Request(path_of(t, fmt)) for t in warm_tiles], len(warm_tiles), warmup=True)
            return measure(srv, [Request(path_of(t, fmt)) for t in tiles], len(tiles) - spare)

    # -- cold rows, each on fresh servers ---------------------------------------------------------
    print(f"\n[cold] each row on freshly started servers ({args.workers} processes), every tile once")
    # ours and stock alternate, so that load from elsewhere on the machine hits both alike
    plan = [("ours", "utm", "png"), ("stock", "utm", "png"), *[("ours", "utm", f) for f in fmts[1:]]]
    if not args.no_variants:
        plan += [("ours", "native", "png"), ("stock", "serving", "png")]
    names = {("ours", "utm"): ("ours cold", "ours-cold"), ("stock", "utm"): ("stock titiler cold", "stock-cold"),
             ("ours", "native"): ("ours cold, no serving copy", "ours-native-cold"),
             ("stock", "serving"): ("stock titiler cold, on our serving copy", "stock-serving-cold")}
    for zoom in (nat_label, low_label) if not args.proxy_only else ():
        for side, layer, fmt in plan:
            res = cold_row(side, layer, zoom, fmt)
            label, group = names[(side, layer)]
            rows.append(row(label, group, zoom, fmt, res))
            print(f"  {label} {zoom} {fmt}: {res['tiles_per_s']:,.1f} tiles/s, p99 {res['p99_ms']:.1f} ms, "
                  f"errors {res['errors']}")

    # -- ours, hot --------------------------------------------------------------------------------
    print(f"\n[ours hot] mcae serve --workers {args.workers}")
    with servers.ours(catalog, args.workers, work, env) as srv:
        base = srv.url
        checks += etag_checks(base, "utm", hot_native[0], hot_native[1], native_z)
        etags: dict[str, list[Request]] = {}
        for zoom, tiles in ((nat_label, hot_native), (low_label, hot_low)):
            for fmt in fmts:
                reqs = [Request(ours_path("utm", *t, fmt)) for t in tiles]
                measure(srv, reqs, 10 * len(reqs), warmup=True)  # both processes' tile caches
                res = measure(srv, reqs, args.hot_requests)
                rows.append(row("ours hot (tile cache)", "ours-hot", zoom, fmt, res))
                print(f"  hot {zoom} {fmt}: {res['tiles_per_s']:,.1f} tiles/s, p99 {res['p99_ms']:.2f} ms")
            with httpx.Client(base_url=base, timeout=30) as c:
                etags[zoom] = [Request(ours_path("utm", *t, "png"), c.get(ours_path("utm", *t, "png")).headers["etag"])
                               for t in tiles]
        for zoom in (nat_label, low_label):
            res = measure(srv, etags[zoom], args.hot_requests, expect=(304,))
            rows.append(row("ours hot, If-None-Match -> 304", "ours-304", zoom, "png", res))
            print(f"  304 {zoom}: {res['tiles_per_s']:,.1f} tiles/s, {res['status']}")
            checks.append({"check": f"If-None-Match run at {zoom}: every answer a 304",
                           "ok": res["status"] == {304: res["requests"]} and res["errors"] == 0,
                           "detail": str(res["status"])})
        if not args.skip_proxy and servers.NGINX:
            print(f"\n[nginx in front] docker/nginx.conf, {args.workers} nginx workers, versioned URLs")
            found, proxy_checks = proxy.proxy_rows(srv, {nat_label: hot_native, low_label: hot_low}, args.workers,
                                                   work, args.hot_requests, measure)
            rows += found
            checks += proxy_checks
        checks += version_checks(base, "utm", hot_native[0], city)

    # -- stock titiler, hot -------------------------------------------------------------------------
    if not args.proxy_only:
        print(f"\n[stock hot] titiler.core TilerFactory(), {args.workers} uvicorn processes (SO_REUSEPORT)")
        with servers.stock(args.workers, work, stock_env) as srv:
            base = srv.url
            probe = httpx.get(base + stock_path(city, cq, *hot_native[0]), timeout=60)
            if probe.status_code != 200 or probe.headers.get("content-type") != "image/png":
                raise RuntimeError(f"stock titiler answered {probe.status_code}: {probe.text[:300]}")
            for zoom, tiles in ((nat_label, hot_native), (low_label, hot_low)):
                reqs = [Request(stock_path(city, cq, *t)) for t in tiles]
                measure(srv, reqs, len(reqs), warmup=True)  # one pass (GDAL caches, page cache)
                res = measure(srv, reqs, args.stock_hot_requests)
                rows.append(row("stock titiler hot (same set)", "stock-hot", zoom, "png", res))
                print(f"  hot {zoom}: {res['tiles_per_s']:,.1f} tiles/s, p99 {res['p99_ms']:.1f} ms")

    # -- static floor ------------------------------------------------------------------------------
    if not args.skip_static:
        root = work / "static"
        inproc({"mode": "prerender", "catalog": str(catalog), "layer": "utm", "root": str(root / "utm"),
                "tiles": hot_native + hot_low, "formats": fmts}, work, env)
        probe_path = static_path("utm", *hot_native[0], "png")
        with servers.static(root, args.workers, work, probe_path) as srv:
            name = srv.name
            print(f"\n[static] {name}")
            for zoom, tiles in ((nat_label, hot_native), (low_label, hot_low)):
                for fmt in fmts:
                    reqs = [Request(static_path("utm", *t, fmt)) for t in tiles]
                    measure(srv, reqs, len(reqs), warmup=True)
                    res = measure(srv, reqs, args.static_requests, expect=(200,))
                    rows.append(row(f"static files ({name.split(' ')[0]})", "static", zoom, fmt, res))
                    print(f"  {zoom} {fmt}: {res['tiles_per_s']:,.1f} tiles/s, p99 {res['p99_ms']:.2f} ms")

    # -- in process ----------------------------------------------------------------------------------
    inproc_results: dict[str, Any] = {}
    if not args.skip_inproc:
        print("\n[in process] one thread, no HTTP")
        ip_sets = {zoom: tiles[:-spare][:args.inproc_tiles] for zoom, tiles in cold_sets.items()}
        stock_gdal = {"env": gdal_options(TileSettings())}

        def inproc_rows(key: str, mode: str, layer: str, label: str, formats: list[str],
                        **extra: Any) -> None:
            """One in-process run (a fresh process) over the cold lists, its rows and results."""
            jobs = {f"{zoom}|{fmt}": {"tiles": tiles, "fmt": fmt} for zoom, tiles in ip_sets.items() for fmt in formats}
            quiet()
            found = inproc({"mode": mode, "catalog": str(catalog), "layer": layer, "jobs": jobs, **extra}, work, env)
            for name, res in found.items():
                zoom, fmt = name.split("|")
                rows.append(row(label, f"inproc-{key}", zoom, fmt, res))
            inproc_results[key] = found

        inproc_rows("ours", "ours", "utm", "ours in-process render_tile", fmts)
        if not args.no_variants:
            inproc_rows("native", "ours", "native", "ours in-process, no serving copy", ["png"])
        inproc_rows("stock", "stock", "utm", "stock in-process Reader.tile+render", ["png"], **stock_gdal)
        if not args.no_variants:
            inproc_rows("stock-serving", "stock", "serving", "stock in-process, on our serving copy", ["png"],
                        **stock_gdal)
        for r in rows:
            if r["group"].startswith("inproc"):
                parts = ", ".join(f"{k} {v:.2f}" for k, v in r["parts_ms_per_tile"].items())
                print(f"  {r['row']} {r['zoom']} {r['fmt']}: {r['tiles_per_s']:,.1f} tiles/s "
                      f"(ms per tile: {parts})")

    # -- bundle ---------------------------------------------------------------------------------------
    bundle: dict[str, Any] | None = None
    if not args.skip_bundle:
        geometry = district(utm.bounds, args.bundle_km)
        quiet()
        bundle = inproc({"mode": "bundle", "catalog": str(catalog), "layer": "utm", "geometry": geometry,
                         "minzoom": 12, "maxzoom": native_z if native_z >= 12 else 18, "fmt": args.bundle_format,
                         "out": str(work / f"bundle.{args.bundle_format}")}, work, env)
        print(f"\n[bundle] {args.bundle_km:g} km district, z12-z{native_z}, {bundle['format']}: "
              f"{bundle['tiles']:,} tiles in {bundle['seconds']:.1f} s = {bundle['tiles_per_s']:,.1f} tiles/s "
              f"({bundle['threads']} render threads, one process)")

    ratios, goals, lines = ({}, [], []) if args.proxy_only else \
        summarize(rows, checks, bundle, fmts, nat_label, low_label)
    ratios["nginx_in_front"], proxy_lines = proxy.proxy_summary(rows)
    lines += proxy_lines

    seconds = time.perf_counter() - t_start
    print("\n" + "=" * 40 + " results " + "=" * 40)
    table = print_table(rows)
    print("\nratios:")
    for line in lines:
        print("  " + line)
    print("\nETag / 304 checks:")
    for chk in checks:
        print(f"  {'ok  ' if chk['ok'] else 'FAIL'} {chk['check']}  [{chk['detail']}]")
    print("\ngoals:")
    for g in goals:
        print(f"  {'PASS' if g['pass'] else 'FAIL'}: {g['goal']}  ({g['detail']})")
    waited = args.quiet_wait - quiet_budget[0]
    print(f"\nrun time {seconds:.0f} s (data {data_seconds:.0f} s, waiting for a quiet machine {waited:.0f} s)")
    path = write_results("tiles.json", {
        "machine": machine_info(), "args": vars(args), "client": client, "map": {
            "file": str(city), "size_px": args.size, "gsd_m": data.GSD, "crs": data.CRS,
            "bytes": city.stat().st_size, "native_zoom": native_z, "low_zooms": low_zooms,
            "serving_copy": str(copy), "serving_copy_bytes": copy.stat().st_size},
        "rows": rows, "ratios": ratios, "checks": checks, "goals": goals, "bundle": bundle,
        "inproc": inproc_results, "table": table, "seconds": round(seconds, 1),
        "quiet_wait_seconds": round(waited, 1)})
    print(f"results: {path}")
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
