"""The city benchmark (issue 17): every stage of the pipeline and every expert-tools route at city size.

``python -m benchmarks.city [--size 20480] [--ratio-size 10240] [--masks 4000000]
[--ratio-masks 1000000] [--reps 20] [--reuse DIR] [--skip-engine] [--skip-service] [--no-postgres]``

**Engine leg** (per size: ``--size`` and the quarter-area ``--ratio-size``): a synthetic city
written window by window (``mcae.inference.demo.tiled``), then each stage as the CLI runs it,
one process tree each: ``segment`` (local Dask cluster, all cores; groups included),
``label --reference`` (the simulated expert), ``train``, ``map --districts``, ``evaluate``,
``export-dataset``, ``projects add`` into SQLite and into PostgreSQL.

**Service leg** (per mask count: ``--masks`` and ``--ratio-masks``): a project written straight
as engine tables (``benchmarks.city_service``), imported with ``mcae projects add`` into SQLite
and PostgreSQL; then every route the pages call (``benchmarks.city_routes``) is timed in the
server's process (a TestClient: no network, the ASGI app's own time), p50 and p95 over
``--reps`` calls, 48 thumbnails cold and warm, and the query-plan rule
(``benchmarks.query_plans``) checked on the statements the routes ran.

Per stage: wall time, peak RSS of the whole process tree (psutil, polled every 0.1 s, Dask
workers included) and bytes written (``/proc/<pid>/io``, summed over the tree). Each stage is
compared with the smaller run: memory ratio (goal <= 1.25) and time ratio against the
ratio of the sizes (linear or better). Results: a printed table and
``benchmarks/results/city.json``.

After the map: the SinoLC-1-format stand-in (``stand-in``, written tile by tile from the
reference: a fixture, like the scene), the ``serving copy`` (``mcae catalog add``: the
web-optimized copy and the whole files of the map and its districts) and ``compare`` (the
stand-in registered, then ``mcae compare``). After the SQLite import, ``rebuild (job)``: the
work of the API's rebuild job (``benchmarks.city_rebuild``: retrain, re-predict, map, publish
the next version with its serving copy, re-import), in its own process tree.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import REPO, machine_info, write_results

if str(REPO) not in sys.path:  # Service, seed users and the PostgreSQL helpers live in tests/
    sys.path.insert(0, str(REPO))

MCAE = str(Path(sys.executable).with_name("mcae"))
MEMORY_RATIO_GOAL = 1.25
TREE_GOAL_BYTES = 6 * 1024**3
SHARE_GOAL = 0.25  # of mask generation's time, for everything else
ROUTE_P95_GOAL_MS = 150.0
THUMBS_GOAL_S = 1.0
IMPORT_GOAL = 100_000  # masks/s
NOT_RUN: list[str] = []
REBUILD = "rebuild (job)"  # train, map, serving copy and import again: its own goal, not in the share
REBUILD_GOAL_S = 15 * 60
CITY_PX = 40_960  # the rebuild goal is set for a whole city
NOT_GOALS = ("scene", "stand-in")  # the benchmark's own fixtures
STANDIN = ("from pathlib import Path; from mcae.inference.demo.tiled import write_standin; "
           "from mcae.inference.demo.city_cogs import write_sinolc1_cog; work = Path({work!r}); "
           "write_sinolc1_cog(work / 'sinolc1.tif', write_standin(work), {{'MCAE_SYNTHETIC': 'benchmark'}})")


# -- measuring a process tree -----------------------------------------------------------------

def measure(cmd: list[str], *, env: dict[str, str] | None = None, poll_s: float = 0.1) -> dict[str, Any]:
    """Run ``cmd``; wall time, peak RSS of its whole tree, bytes it wrote, exit status, last output."""
    start = time.perf_counter()
    peak, written = 0, {}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            rss = 0
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                        written[p.pid] = max(written.get(p.pid, 0), p.io_counters().write_bytes)
            peak = max(peak, rss)
            time.sleep(poll_s)
        log.seek(0)
        tail = log.read().decode(errors="replace")[-2000:]
    return {"seconds": round(time.perf_counter() - start, 2), "peak_rss_mb": round(peak / 2**20, 1),
            "written_mb": round(sum(written.values()) / 2**20, 1), "rc": proc.returncode,
            "output": tail if proc.returncode else tail[-300:]}


# -- the engine leg ---------------------------------------------------------------------------

def engine_stages(work: Path, size: int, workers: int, pg_url: str | None,
                  only: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every engine stage on a ``size`` px city in ``work`` (kept: a rerun resumes segment).

    Each stage's figures are also kept in ``work/stages.json``. A rerun (``--reuse``) whose
    scene is written and whose segmentation finished reports those two stages' figures from
    the run that did the work, marked ``"reused": true``, rather than timing a resume with
    nothing left to do; every later stage runs again, or with ``only`` just the stages named
    there (the others, where a run in this folder did them, are reported from that run); an
    empty ``only`` (``--resume``) runs just the stages the folder has no figures of."""
    work.mkdir(parents=True, exist_ok=True)
    py, project = sys.executable, work / "project"
    stages: dict[str, dict[str, Any]] = {}
    kept = StageRecords(work / "stages.json")

    def runs(name: str) -> bool:
        return only is None or name in only or kept.get(name) is None

    def stage(name: str, cmd: list[str], *, done: bool = False) -> bool:
        earlier = kept.get(name) if done or not runs(name) else None
        stages[name] = {**earlier, "reused": True} if earlier else measure(cmd)
        if not earlier:
            kept.put(name, stages[name])
        print(f"  {size} px {name}: {_row(stages[name])}", flush=True)
        return stages[name]["rc"] == 0

    scene_cmd = [py, "-c", f"from mcae.inference.demo.tiled import write_city; write_city({str(work)!r}, {size})"]
    if not (work / "imagery.tif").is_file() or kept.get("scene"):
        stage("scene", scene_cmd, done=(work / "imagery.tif").is_file())
    pristine = work / "project.json.before-import"  # a rerun (--reuse) starts from the folder's own decisions
    if pristine.is_file():
        shutil.copy(pristine, project / "project.json")
    ok = stage("segment", [MCAE, "segment", str(work / "imagery.tif"), "-p", str(project), "--workers",
                           str(workers), "-q"], done=_segmented(project))
    if ok and runs("label"):  # the expert labels from scratch: on a folder it labelled, nothing would be left
        (project / "decisions.jsonl").unlink(missing_ok=True)
    ok = ok and stage("label", [MCAE, "label", "-p", str(project), "--reference", str(work / "reference.tif"),
                                "--workers", str(workers), "-q"])
    ok = ok and stage("train", [MCAE, "train", "-p", str(project), "-q"])  # in-process: as `mcae train` runs
    ok = ok and stage("map", [MCAE, "map", "-p", str(project), "-o", str(work / "mcae.tif"), "--districts",
                              str(work / "districts.geojson")])
    catalog = str(work / "catalog.json")
    if ok and (not (work / "sinolc1.tif").is_file() or kept.get("stand-in")):  # the layer to compare with
        ok = stage("stand-in", [py, "-c", STANDIN.format(work=str(work))], done=(work / "sinolc1.tif").is_file())
    ok = ok and stage("serving copy", [MCAE, "catalog", "add", "city", str(work / "mcae.tif"), "--districts",
                                       str(work / "districts.geojson"), "--synthetic", "--catalog", catalog])
    add_sinolc1 = [MCAE, "catalog", "add", "city", str(work / "sinolc1.tif"), "--kind", "sinolc1", "--synthetic",
                   "--no-serving-copy", "--catalog", catalog]
    ok = ok and stage("compare", ["bash", "-c", f"{shlex.join(add_sinolc1)} && "
                                  f"{shlex.join([MCAE, 'compare', '--city', 'city', '--catalog', catalog])}"])
    ok = ok and stage("evaluate", [MCAE, "evaluate", str(work / "mcae.tif"), str(work / "reference.tif"), "--out",
                                   str(work / "evaluation")])
    ok = ok and stage("export-dataset", [MCAE, "export-dataset", "-p", str(project), "-o", str(work / "dataset"),
                                         "-q"])
    if ok:
        # the import takes the decisions over (and a rebuild retrains): a rerun starts from here
        manifest = (project / "project.json").read_text()
        pristine.write_text(manifest)
        if runs("projects add (SQLite)"):
            (work / "annotation.db").unlink(missing_ok=True)
        sqlite = f"sqlite:///{work / 'annotation.db'}"
        stage("projects add (SQLite)", [MCAE, "projects", "add", str(project), "-q", "--id", "city", "--database",
                                        sqlite, "--city", "city", "--catalog", catalog])
        stage(REBUILD, [py, "-m", "benchmarks.city_rebuild", catalog, sqlite])
        if pg_url is not None:
            (project / "project.json").write_text(manifest)
            _migrate_and_users(pg_url)  # PostgreSQL is migrated by `mcae db upgrade`, not by the import
            stage("projects add (PostgreSQL)", [MCAE, "projects", "add", str(project), "-q", "--id", f"city{size}",
                                                "--database", pg_url])
    return stages


class StageRecords:
    """The figures of each stage of one work folder, kept in a JSON file between runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, name: str) -> dict[str, Any] | None:
        record = self.records.get(name)
        return record if record and record.get("rc") == 0 else None

    def put(self, name: str, record: dict[str, Any]) -> None:
        self.records[name] = record
        self.path.write_text(json.dumps(self.records, indent=1))


def _segmented(project: Path) -> bool:
    """Whether ``mcae segment`` finished on this project folder (and is not running again)."""
    try:
        manifest = json.loads((project / "project.json").read_text())
    except (OSError, ValueError):
        return False
    return "segment" in manifest.get("steps", {}) and "segment" not in manifest.get("running", {})


# -- the service leg --------------------------------------------------------------------------

def service_stages(work: Path, masks: int, pg_url: str | None, reps: int) -> dict[str, Any]:
    """Write a project of ``masks`` masks, import it, time the routes on each database."""
    work.mkdir(parents=True, exist_ok=True)
    project = work / "project"
    out: dict[str, Any] = {"stages": {}, "routes": {}, "query_plans": {}}
    if not (project / "groups.parquet").is_file():
        out["stages"]["write tables"] = measure([sys.executable, "-m", "benchmarks.city_service", str(project),
                                                 str(masks)])
    manifest = (project / "project.json").read_text()
    urls = {"SQLite": f"sqlite:///{work / 'annotation.db'}"}
    if pg_url is not None:
        urls["PostgreSQL"] = pg_url
    (work / "annotation.db").unlink(missing_ok=True)
    for name, url in urls.items():
        (project / "project.json").write_text(manifest)
        tokens = _migrate_and_users(url)
        result = import_rates(measure([MCAE, "projects", "add", str(project), "-q", "--id", "city", "--database",
                                       url]), masks)
        out["stages"][f"projects add ({name})"] = result
        print(f"  {masks} masks projects add ({name}): {_row(result)}, {result['masks_per_s']} masks/s", flush=True)
        if result["rc"] == 0 and reps:
            out["routes"][name], out["query_plans"][name] = time_routes(work, project, url, tokens, reps)
    return out


def import_rates(result: dict[str, Any], masks: int | None = None) -> dict[str, Any]:
    """``result`` of ``mcae projects add`` with its rates, as the command prints them: the whole
    import's (``masks_per_s``: the goal's), the masks' stage alone and the decisions' load; and the
    whole command's, process start included, where ``masks`` is given."""
    whole = re.search(r"imported in [\d.]+ s \(([\d,]+) masks/s\)", result["output"])
    stages = re.search(r"masks [\d.]+ s \(([\d,]+) masks/s\), decisions [\d.]+ s \(([\d,]+) decisions/s\)",
                       result["output"])

    def number(found: re.Match[str] | None, group: int) -> int | None:
        return int(found.group(group).replace(",", "")) if found else None

    result["masks_per_s"] = number(whole, 1)
    result["masks_stage_per_s"], result["decisions_per_s"] = number(stages, 1), number(stages, 2)
    if masks is not None:
        result["masks_per_s_command"] = round(masks / result["seconds"]) if result["rc"] == 0 else None
    return result


def _migrate_and_users(url: str) -> dict[str, str]:
    """A fresh database migrated, with one user per role; returns their tokens."""
    from tests.annotation_fixtures import seed_users

    return seed_users(url)


def time_routes(work: Path, project: Path, url: str, tokens: dict[str, str],
                reps: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """p50/p95 of each route over ``reps`` rounds (fresh groups for the writes), thumbnails, plans."""
    from fastapi.testclient import TestClient

    from benchmarks.city_routes import route_calls
    from benchmarks.query_plans import capture, masks_scans
    from mcae.platform.app import create_app
    from tests.annotation_fixtures import Service, make_settings

    times: dict[str, list[float]] = {}
    scans: dict[str, list[str]] = {}
    with TestClient(create_app(make_settings(work, url))) as client:
        svc = Service(client, tokens, "city", project, url)
        gc.collect()  # as `mcae serve` does: what the process holds at start out of the collector's full passes
        gc.freeze()
        hood = svc.get(svc.p("/neighbourhoods")).json()["items"][0]["name"]
        thumbs = _thumbnails(svc, hood)
        fresh = (g for g in svc.get(svc.p(f"/neighbourhoods/{hood}/groups")).json()
                 if g["size"] >= 4 and g["decided"] == 0)
        engine = client.app.state.database.engine  # type: ignore[attr-defined]
        with capture(engine) as captured:
            for rep in range(reps):
                group = next(fresh, None)
                if group is None:
                    break
                masks = svc.get(svc.group_url(group, "/masks"), params={"per_page": 48}).json()["items"]
                for label, call in route_calls(svc, group, masks):
                    captured.label = label
                    start = time.perf_counter()
                    call()
                    times.setdefault(label, []).append((time.perf_counter() - start) * 1000)
                if rep == 0:  # plans of the first round; the rest are the same statements
                    for scan in masks_scans(engine, captured):
                        scans.setdefault(scan.label, []).append(scan.sql[:300])
                captured.statements.clear()
    routes = {label: {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(_p95(v), 1), "n": len(v)}
              for label, v in times.items()}
    routes.update(thumbs)
    return routes, scans


def _thumbnails(svc: Any, hood: str) -> dict[str, Any]:
    """48 thumbnails of one patch, one after another: cold (fresh server), then warm."""
    out = {}
    for label in ("48 thumbnails cold", "48 thumbnails warm"):
        start = time.perf_counter()
        for mask_id in range(1, 49):
            r = svc.get(svc.p(f"/patches/0-0/masks/{mask_id}/thumbnail.png"))
            assert r.status_code == 200, r.text
        out[label] = {"total_s": round(time.perf_counter() - start, 3)}
    return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- goals ------------------------------------------------------------------------------------

def engine_goals(big: dict[str, dict[str, Any]], small: dict[str, dict[str, Any]],
                 area_ratio: float, size: int) -> list[dict[str, Any]]:
    goals = []
    for name, b in big.items():
        s = small.get(name)
        if s is None or b["rc"] or s["rc"] or name in NOT_GOALS:  # fixtures: figures, not goals
            continue
        mem = b["peak_rss_mb"] / max(s["peak_rss_mb"], 1e-9)
        goals.append(_goal(f"{name}: peak RSS ratio <= {MEMORY_RATIO_GOAL}", mem <= MEMORY_RATIO_GOAL, f"{mem:.2f}"))
        if name != "segment":
            t = b["seconds"] / max(s["seconds"], 1e-9)
            goals.append(_goal(f"{name}: time ratio <= area ratio {area_ratio:.0f}", t <= area_ratio * 1.1, f"{t:.2f}"))
    for name, b in big.items():
        rates = import_rates(dict(b)) if name.startswith("projects add") and b["rc"] == 0 else {}
        if rates.get("masks_per_s"):  # figures of an older run may lack the stage's line
            goals.append(_goal(f"{name} >= {IMPORT_GOAL} masks/s", rates["masks_per_s"] >= IMPORT_GOAL,
                               f"{rates['masks_per_s']} (the masks' stage {rates['masks_stage_per_s']}/s, "
                               f"decisions {rates['decisions_per_s']}/s)"))
    rebuild = big.get(REBUILD)
    if rebuild and rebuild["rc"] == 0 and size >= CITY_PX:
        goals.append(_goal(f"{REBUILD} of a {size:,} px city <= {REBUILD_GOAL_S // 60} min",
                           rebuild["seconds"] <= REBUILD_GOAL_S, f"{rebuild['seconds'] / 60:.1f} min"))
    peak = max((s["peak_rss_mb"] for s in big.values()), default=0.0)
    goals.append(_goal("process tree under 6 GB", peak * 2**20 < TREE_GOAL_BYTES, f"{peak:.0f} MB"))
    seg = big.get("segment", {}).get("seconds")
    if seg:  # a city's pipeline imports into one database: the share is given for each
        imports = {k: v["seconds"] for k, v in big.items() if k.startswith("projects add")}
        rest = sum(v["seconds"] for k, v in big.items()
                   if k not in ("segment", REBUILD, *NOT_GOALS) and k not in imports)
        for name, seconds in imports.items() or {"no import": 0.0}.items():
            share = (rest + seconds) / seg
            goals.append(_goal(f"everything else ({name}) <= {SHARE_GOAL:.0%} of segment", share <= SHARE_GOAL,
                               f"{share:.2f}"))
    return goals


def service_goals(result: dict[str, Any], small: dict[str, Any] | None) -> list[dict[str, Any]]:
    goals = []
    for name, stage in result["stages"].items():
        if name.startswith("projects add") and stage.get("masks_per_s"):
            goals.append(_goal(f"{name} >= {IMPORT_GOAL} masks/s", stage["masks_per_s"] >= IMPORT_GOAL,
                               f"{stage['masks_per_s']} (the masks' stage {stage.get('masks_stage_per_s')}/s)"))
            if small and name in small["stages"] and small["stages"][name]["rc"] == 0:
                ratio = stage["peak_rss_mb"] / max(small["stages"][name]["peak_rss_mb"], 1e-9)
                goals.append(_goal(f"{name}: peak RSS ratio <= {MEMORY_RATIO_GOAL}", ratio <= MEMORY_RATIO_GOAL,
                                   f"{ratio:.2f}"))
    for db, routes in result["routes"].items():
        slow = {k: v["p95_ms"] for k, v in routes.items() if "p95_ms" in v and v["p95_ms"] > ROUTE_P95_GOAL_MS}
        goals.append(_goal(f"{db}: every route p95 <= {ROUTE_P95_GOAL_MS:.0f} ms", not slow,
                           ", ".join(f"{k} {v} ms" for k, v in slow.items()) or "all under"))
        cold = routes.get("48 thumbnails cold", {}).get("total_s")
        if cold is not None:
            goals.append(_goal(f"{db}: 48 thumbnails cold <= {THUMBS_GOAL_S} s", cold <= THUMBS_GOAL_S, f"{cold} s"))
    for db, scans in result["query_plans"].items():
        goals.append(_goal(f"{db}: no interactive query scans masks", not scans, ", ".join(sorted(scans)) or "none"))
    return goals


def _goal(name: str, ok: bool, value: str) -> dict[str, Any]:
    return {"goal": name, "pass": bool(ok), "value": value}


def _row(r: dict[str, Any]) -> str:
    status = "" if r["rc"] == 0 else f" FAILED rc={r['rc']}"
    status += " (figures of the run that did it)" if r.get("reused") else ""
    return f"{r['seconds']:.1f} s, {r['peak_rss_mb']:.0f} MB peak, {r['written_mb']:.0f} MB written{status}"


@contextlib.contextmanager
def postgres(enabled: bool) -> Iterator[Any | None]:
    if not enabled:
        yield None
        return
    from tests.annotation_fixtures import PG_BIN, throwaway_cluster

    if not (PG_BIN / "initdb").exists():
        print(f"PostgreSQL binaries not found in {PG_BIN}: SQLite only")
        yield None
        return
    with throwaway_cluster("mcae-city-pg-") as cluster:
        yield cluster


def table(results: dict[str, Any]) -> str:
    lines = []
    for leg in ("engine", "service"):
        for size, data in results.get(leg, {}).items():
            stages = data if leg == "engine" else data["stages"]
            for name, r in stages.items():
                lines.append(f"{leg:8} {size:>9} {name:28} {_row(r)}")
            if leg == "service":
                for db, routes in data["routes"].items():
                    for label, v in routes.items():
                        figures = (f"p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms" if "p50_ms" in v
                                   else f"{v['total_s']} s")
                        lines.append(f"{'routes':8} {size:>9} {db:10} {label:28} {figures}")
    lines += [f"{'PASS' if g['pass'] else 'FAIL'}  {g['goal']}: {g['value']}" for g in results["goals"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=20480)
    parser.add_argument("--ratio-size", type=int, default=None, help="default: half the side (a quarter the area)")
    parser.add_argument("--masks", type=int, default=4_000_000)
    parser.add_argument("--ratio-masks", type=int, default=None, help="default: a quarter of --masks")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--reuse", type=Path, default=None, help="work folder kept between runs (segment resumes)")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--resume", action="store_true",
                        help="run only the engine stages the --reuse folder has no figures of (an "
                             "interrupted benchmark goes on where it stopped); the others are reported")
    parser.add_argument("--only", default=None,
                        help="engine stages to run, comma-separated (e.g. 'label,rebuild (job)'); the others "
                             "are reported from the last run in the --reuse folder that did them")
    parser.add_argument("--results", default="city", help="name of the JSON under benchmarks/results/ (.json added)")
    args = parser.parse_args(argv)
    ratio_size = args.ratio_size or args.size // 2
    ratio_masks = args.ratio_masks or args.masks // 4
    only = {name.strip() for name in args.only.split(",")} if args.only else None
    if args.resume:
        only = only or set()  # nothing named: each stage runs only where the folder lacks it
    work = args.reuse or Path(tempfile.mkdtemp(prefix="mcae-city-"))
    results: dict[str, Any] = {"machine": machine_info(), "args": {k: str(v) for k, v in vars(args).items()},
                               "engine": {}, "service": {}, "goals": [], "not_run": NOT_RUN}
    try:
        with postgres(not args.no_postgres) as cluster:
            if not args.skip_engine:
                for size in (ratio_size, args.size):
                    pg = cluster.create_database() if cluster is not None else None
                    results["engine"][str(size)] = engine_stages(work / f"engine-{size}", size, args.workers, pg,
                                                                   only)
                results["goals"] += engine_goals(results["engine"][str(args.size)], results["engine"][str(ratio_size)],
                                                 (args.size / ratio_size) ** 2, args.size)
            if not args.skip_service:
                for masks in (ratio_masks, args.masks):
                    pg = cluster.create_database() if cluster is not None else None
                    results["service"][str(masks)] = service_stages(work / f"service-{masks}", masks, pg,
                                                                    args.reps if masks == args.masks else 0)
                results["goals"] += service_goals(results["service"][str(args.masks)],
                                                  results["service"][str(ratio_masks)])
    finally:
        if args.reuse is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    path = write_results(f"{args.results}.json", results)
    print(f"results: {path}")
    return results


if __name__ == "__main__":
    main()
