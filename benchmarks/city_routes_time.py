"""Time the expert tools' routes on an existing city database, in-process, and profile the slow ones.

    python -m benchmarks.city_routes_time DATABASE_URL PROJECT_FOLDER [--reps 20] [--gc-freeze]
        [--only LABEL ...] [--profile LABEL ...] [--sql LABEL ...] [--count] [--project-id city]

Runs ``benchmarks.city_routes.route_calls`` ``--reps`` times (a fresh group of the first
neighbourhood each round, as ``benchmarks.city.time_routes``) and prints p50/p95 per route.
``--profile`` prints a cProfile of the named routes (summed over the rounds); ``--sql``
prints each statement they run with its time; ``--only`` prints only those routes, with each
call's time; ``--count`` adds the statements each call sent to the database (mean per call:
round trips, which no machine load changes); ``--gc-freeze`` runs as ``mcae serve`` does. The
database is WRITTEN (migrated to the head, decisions, tokens): run it on a copy. Existing users
get a fresh token each; missing ones are added.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, select


def tokens_for(url: str) -> dict[str, str]:
    """A token per test user (alice, bob, rita, ...), adding the users that are missing."""
    from mcae.platform.annotation.auth import add_user, issue_token
    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.models import User
    from tests.annotation_fixtures import FAST_SCRYPT, ROLES

    db = Database(url)
    db.upgrade()
    out = {}
    with db.session() as session:
        for name, role in ROLES.items():
            user = session.scalar(select(User).where(User.name == name))
            out[name] = (issue_token(session, user, FAST_SCRYPT, 16) if user is not None
                         else add_user(session, name, role, FAST_SCRYPT, 16)[1])
    db.dispose()
    return out


def _profile_server(profiles: dict[str, list[cProfile.Profile]], current: dict[str, str]) -> None:
    """Profile what the server runs for the routes of ``profiles``: FastAPI's threadpool calls
    (endpoints, dependencies, serialisation), where a TestClient's caller cannot see."""
    import fastapi.dependencies.utils
    import fastapi.routing
    from starlette.concurrency import run_in_threadpool

    async def profiled(func: Any, *a: Any, **kw: Any) -> Any:
        found = profiles.get(current["label"])
        if found is None:
            return await run_in_threadpool(func, *a, **kw)
        prof = cProfile.Profile()
        found.append(prof)
        return await run_in_threadpool(prof.runcall, func, *a, **kw)

    fastapi.routing.run_in_threadpool = profiled  # type: ignore[attr-defined]
    fastapi.dependencies.utils.run_in_threadpool = profiled  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("project", type=Path)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--project-id", default="city")
    parser.add_argument("--profile", nargs="*", default=[])
    parser.add_argument("--sql", nargs="*", default=[])
    parser.add_argument("--only", nargs="*", default=[], help="time only these routes (the others still run)")
    parser.add_argument("--count", action="store_true", help="statements sent per call of each route")
    parser.add_argument("--gc-freeze", action="store_true", help="as `mcae serve` does: the app's startup "
                        "objects out of the collector's full passes")
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from benchmarks.city import _p95
    from benchmarks.city_routes import route_calls
    from mcae.platform.app import create_app
    from tests.annotation_fixtures import Service, make_settings

    tokens = tokens_for(args.url)
    current = {"label": ""}
    profiles: dict[str, list[cProfile.Profile]] = {label: [] for label in args.profile}
    _profile_server(profiles, current)
    times: dict[str, list[float]] = {}
    sql_log: list[tuple[str, float, str]] = []
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, TestClient(create_app(make_settings(Path(tmp), args.url))) as client:
        svc = Service(client, tokens, args.project_id, args.project, args.url)
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        engine = client.app.state.database.engine  # type: ignore[attr-defined]
        started: dict[int, float] = {}

        def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            started[id(cursor)] = time.perf_counter()

        def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            counts[current["label"]] = counts.get(current["label"], 0) + 1
            if current["label"] in args.sql:
                ms = (time.perf_counter() - started.pop(id(cursor), time.perf_counter())) * 1000
                cache = context._get_cache_stats() if context is not None and context.compiled is not None else "-"
                sql_log.append((current["label"], ms, f"({cache}) " + " ".join(statement.split())[:300]))

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        hood = svc.get(svc.p("/neighbourhoods")).json()["items"][0]["name"]
        fresh = (g for g in svc.get(svc.p(f"/neighbourhoods/{hood}/groups")).json()
                 if g["size"] >= 4 and g["decided"] == 0)
        for _ in range(args.reps):
            group = next(fresh, None)
            if group is None:
                print("no fresh group left", file=sys.stderr)
                break
            masks = svc.get(svc.group_url(group, "/masks"), params={"per_page": 48}).json()["items"]
            for label, call in route_calls(svc, group, masks):
                current["label"] = label
                start = time.perf_counter()
                call()
                times.setdefault(label, []).append((time.perf_counter() - start) * 1000)
            current["label"] = ""
    print(f"{'route':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'max':>8s}  n" + ("  statements" if args.count else ""))
    for label, v in times.items():
        if args.only and label not in args.only:
            continue
        print(f"{label:28s} {statistics.median(v):8.1f} {_p95(v):8.1f} {max(v):8.1f}  {len(v)}"
              + (f"  {counts.get(label, 0) / len(v):10.1f}" if args.count else "")
              + (f"  {' '.join(f'{t:.0f}' for t in v)}" if args.only else ""))
    for label, profs in profiles.items():
        if not profs:
            continue
        out = io.StringIO()
        stats = pstats.Stats(profs[0], stream=out)
        for prof in profs[1:]:
            stats.add(prof)
        stats.sort_stats("cumulative").print_stats(45)
        print(f"\n== profile {label}\n{out.getvalue()}")
    if sql_log:
        print("\n== SQL (first round of each route, ms)")
        seen: set[tuple[str, str]] = set()
        for label, ms, sql in sql_log:
            if (label, sql) in seen:
                continue
            seen.add((label, sql))
            print(f"[{label}] {ms:7.2f}  {sql}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
