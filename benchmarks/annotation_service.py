"""The annotation service over HTTP: saves, thumbnails and group pages, on SQLite and PostgreSQL.

``python -m benchmarks.annotation_service [--seconds 20] [--annotators 8] [--size 2048]
[--patch-size 1024] [--workers 2] [--keep DIR] [--no-postgres]``

A synthetic city (``benchmarks.thumbnails.build_project``: 2048 x 2048 px, 1024 px patches,
superpixel masks), clustered, is imported with ``tests.annotation_fixtures.seed_database``
into a fresh database: a SQLite file, then a database of a throwaway PostgreSQL cluster
(Debian's binaries, started as ``tests/annotation_fixtures.py`` does, ``fsync=on``; skipped
with a note when the binaries are missing). Per backend, one ``mcae serve --workers 2`` on
loopback, and in this order:

* **group page, cold**: the fresh server's first ``GET .../groups`` + ``GET .../groups/{key}/
  masks?per_page=48`` (one keep-alive client; the token is verified for the first time,
  with the production scrypt parameters); **warm**: the same again (median of 5);
* **thumbnails, cold**: the 48 thumbnails of that page (the group with the most masks),
  fetched as a browser does, over 6 keep-alive connections; no worker has read a patch
  yet; **warm**: the same page again (median of 3). Each worker has its own caches, so a
  warm request can still land on the worker that has not rendered that thumbnail;
* **saves**: ``--annotators`` users, each on its own thread and keep-alive connection, save
  for ``--seconds`` without think time: 3 in 4 mask corrections (1-4 rows of one patch),
  1 in 4 group decisions (a whole group or a random part of it), on the versions they hold,
  refetched after a 409 (the 409 counts as a save: the expert gets an answer). Latency is
  per request; errors are any answer but 201/409 and any transport error: there must be none.

The clients run on the same 2 cores as the server, so the numbers are a floor, not a
capacity. Results: a table, and ``benchmarks/results/annotation_service.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import REPO, machine_info, write_results
from benchmarks.harness import mcae_serve
from benchmarks.thumbnails import build_project

if str(REPO) not in sys.path:  # seed_database and the PostgreSQL helpers live in tests/
    sys.path.insert(0, str(REPO))

PAGE = 48
BROWSER_CONNECTIONS = 6
START_TIMEOUT_S = 120.0


def clustered_project(folder: Path, size: int, patch_size: int) -> Path:
    """The segmented city of benchmarks.thumbnails, with its groups (reused when there)."""
    project = build_project(folder, size, patch_size)
    if not (project / "groups.parquet").is_file():
        from mcae.inference.compute import executor
        from mcae.inference.groups import build_groups
        from mcae.inference.project import Project as EngineProject

        with executor("synchronous", None, True) as run:
            build_groups(EngineProject.open(project), run)
    return project


def seed(url: str, project: Path, annotators: int) -> tuple[dict[str, str], tuple[str, str, int]]:
    """seed_database's users and import, plus the benchmark's users (production scrypt);
    the tokens and the group with the most masks (found here, so that the server stays cold)."""
    from sqlalchemy import select

    from mcae.platform.annotation.auth import add_user
    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.models import Group
    from mcae.platform.annotation.tokens import ScryptParams
    from tests.annotation_fixtures import seed_database

    tokens = seed_database(url, project)
    db = Database(url)
    with db.session() as session:
        for i in range(1, annotators + 1):
            _, tokens[f"ann{i}"] = add_user(session, f"ann{i}", "annotator", ScryptParams())
        _, tokens["viewer"] = add_user(session, "viewer", "viewer", ScryptParams())
        biggest = session.execute(select(Group.neighbourhood, Group.key, Group.size)
                                  .order_by(Group.size.desc(), Group.id).limit(1)).one()
    db.dispose()
    return tokens, tuple(biggest)  # type: ignore[return-value]


@contextlib.contextmanager
def postgres() -> Iterator[Any | None]:
    """A throwaway PostgreSQL cluster on a loopback port (None without the binaries)."""
    from tests.annotation_fixtures import PG_BIN, throwaway_cluster

    if not (PG_BIN / "initdb").exists():
        yield None
        return
    with throwaway_cluster("mcae-bench-pg-") as cluster:
        yield cluster


@contextlib.contextmanager
def serve(folder: Path, url: str, workers: int) -> Iterator[str]:
    """``mcae serve --workers N`` on a free loopback port; yields its base URL."""
    catalog = folder / "catalog.json"
    catalog.write_text('{"cities": {}}\n')
    env = {"MCAE_DATABASE__URL": url, "MCAE_TILES__WEB_DIST": str(folder / "no-web")}
    began = time.monotonic()
    with mcae_serve(catalog, workers=workers, cwd=folder, env=env, log=folder / f"serve-{workers}.log",
                    timeout=START_TIMEOUT_S) as (base, _):
        # both workers up: /healthz answered by two different connections is not proof, so wait a little
        time.sleep(1.0)
        print(f"  mcae serve --workers {workers} up in {time.monotonic() - began:.1f} s")
        yield base


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# -- reads -----------------------------------------------------------------------------------

def group_page(client: httpx.Client, hood: str, key: str) -> tuple[float, float, list[str]]:
    """ms for the groups list and for one page of 48 masks; the page's thumbnail URLs."""
    start = time.perf_counter()
    client.get(f"/api/projects/demo/neighbourhoods/{hood}/groups").raise_for_status()
    middle = time.perf_counter()
    masks = client.get(f"/api/projects/demo/neighbourhoods/{hood}/groups/{key}/masks",
                       params={"per_page": PAGE}).raise_for_status().json()
    end = time.perf_counter()
    return 1000 * (middle - start), 1000 * (end - middle), [m["thumbnail"] for m in masks["items"]]


def thumbnails(clients: list[httpx.Client], urls: list[str]) -> float:
    """Seconds for the page of thumbnails over the browser's connections."""
    def fetch(i: int) -> int:
        client = clients[i % len(clients)]
        response = client.get(urls[i]).raise_for_status()
        assert response.headers["content-type"] == "image/png"
        return len(response.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        sizes = list(pool.map(fetch, range(len(urls))))
    assert all(sizes)
    return time.perf_counter() - start


# -- saves -----------------------------------------------------------------------------------

class Annotator(threading.Thread):
    def __init__(self, base: str, token: str, world: dict[str, Any], seed: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.seconds = base, token, seconds
        self.rng = random.Random(seed)
        self.patches: dict[str, list[int]] = world["patches"]
        self.multi = [p for p, ids in self.patches.items() if len(ids) >= 2]
        self.groups: dict[tuple[str, str], list[int]] = world["groups"]
        self.mask_versions: dict[tuple[str, int], int] = dict(world["mask_versions"])
        self.group_versions: dict[tuple[str, str], int] = dict(world["group_versions"])
        self.latencies: dict[str, list[float]] = {"correction": [], "group": []}
        self.status: Counter[str] = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        timeout = httpx.Timeout(60.0, connect=5.0)
        with httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.token}"},
                          timeout=timeout) as self.client:
            end = time.monotonic() + self.seconds
            while time.monotonic() < end:
                try:
                    self.group() if self.rng.random() < 0.25 else self.correct()
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.status["error"] += 1
                    time.sleep(0.05)

    def post(self, kind: str, path: str, body: dict[str, Any]) -> httpx.Response:
        start = time.perf_counter()
        response = self.client.post(path, json=body)
        self.latencies[kind].append(time.perf_counter() - start)
        self.status[str(response.status_code)] += 1
        if response.status_code not in (201, 409):
            self.errors.append(f"{response.status_code} {path}: {response.text[:200]}")
        return response

    def correct(self) -> None:
        if self.rng.random() < 0.5:
            patch = self.rng.choice(sorted(self.patches))
            chosen = [self.rng.choice(self.patches[patch])]
        else:
            patch = self.rng.choice(self.multi)
            chosen = self.rng.sample(self.patches[patch], self.rng.randint(2, min(4, len(self.patches[patch]))))
        classes = {m: self.rng.randint(1, 9) for m in chosen}
        for attempt in range(2):
            body = {"rows": [{"mask": m, "class": classes[m], "version": self.mask_versions[(patch, m)]}
                             for m in chosen]}
            response = self.post("correction", f"/api/projects/demo/patches/{patch}/corrections", body)
            if response.status_code == 201:
                for m in chosen:
                    self.mask_versions[(patch, m)] += 1
                return
            if response.status_code != 409 or attempt:
                return
            found = self.client.get(f"/api/projects/demo/patches/{patch}").raise_for_status().json()
            for m in found["mask_list"]:
                self.mask_versions[(patch, m["mask_id"])] = m["version"]

    def group(self) -> None:
        key = self.rng.choice(sorted(self.groups))
        members = self.groups[key]
        chosen = members if self.rng.random() < 0.5 else self.rng.sample(
            members, self.rng.randint(1, min(PAGE, len(members))))
        class_id = self.rng.randint(1, 9)
        path = f"/api/projects/demo/neighbourhoods/{key[0]}/groups/{key[1]}/decisions"
        for attempt in range(2):
            body = {"class": class_id, "masks": sorted(chosen), "version": self.group_versions[key]}
            response = self.post("group", path, body)
            if response.status_code == 201:
                self.group_versions[key] = response.json()["group"]["version"]
                return
            if response.status_code != 409 or attempt:
                return
            self.group_versions[key] = response.json()["current"]["version"]


def fetch_world(client: httpx.Client) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[int]] = {}
    group_versions: dict[tuple[str, str], int] = {}
    versions: dict[tuple[str, int], int] = {}
    hoods = client.get("/api/projects/demo/neighbourhoods", params={"per_page": 500}).raise_for_status().json()
    for hood in hoods["items"]:
        for g in client.get(f"/api/projects/demo/neighbourhoods/{hood['name']}/groups").raise_for_status().json():
            key = (hood["name"], g["key"])
            group_versions[key] = g["version"]
            groups[key] = []
            for page in range(1, 10_000):
                body = client.get(f"/api/projects/demo/neighbourhoods/{key[0]}/groups/{key[1]}/masks",
                                  params={"per_page": 500, "page": page}).raise_for_status().json()
                for m in body["items"]:
                    groups[key].append(m["id"])
                    versions[(m["patch"], m["mask_id"])] = m["version"]
                if page * 500 >= body["total"]:
                    break
    patches: dict[str, list[int]] = {}
    for patch, mask_id in sorted(versions):
        patches.setdefault(patch, []).append(mask_id)
    return {"groups": groups, "group_versions": group_versions, "mask_versions": versions, "patches": patches}


def saves(base: str, tokens: dict[str, str], annotators: int, seconds: float) -> dict[str, Any]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['viewer']}"}, timeout=60) as c:
        world = fetch_world(c)
    threads = [Annotator(base, tokens[f"ann{i}"], world, 1000 + i, seconds) for i in range(1, annotators + 1)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    wall = time.perf_counter() - start
    status: Counter[str] = sum((t.status for t in threads), Counter())
    every = [x for t in threads for kind in t.latencies for x in t.latencies[kind]]
    by_kind = {kind: [x for t in threads for x in t.latencies[kind]] for kind in ("correction", "group")}
    errors = [e for t in threads for e in t.errors]
    return {
        "annotators": annotators, "seconds": round(wall, 2), "requests": len(every),
        "saved": status["201"], "conflicts_409": status["409"],
        "errors": sum(n for code, n in status.items() if code not in ("201", "409")),
        "first_errors": errors[:5], "saves_per_s": status["201"] / wall, "requests_per_s": len(every) / wall,
        "p50_ms": 1000 * percentile(every, 50), "p99_ms": 1000 * percentile(every, 99),
        "max_ms": 1000 * max(every, default=float("nan")),
        **{f"{kind}_p50_ms": 1000 * percentile(v, 50) for kind, v in by_kind.items()},
        **{f"{kind}_p99_ms": 1000 * percentile(v, 99) for kind, v in by_kind.items()},
        **{f"{kind}_requests": len(v) for kind, v in by_kind.items()},
        "masks": len(world["mask_versions"]), "groups": len(world["groups"]), "patches": len(world["patches"]),
    }


# -- one backend -----------------------------------------------------------------------------

def run_backend(name: str, url: str, project: Path, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{name}: seeding {url.split('@')[-1]}")
    tokens, (hood, key, size) = seed(url, project, args.annotators)
    result: dict[str, Any] = {"backend": name}
    with serve(folder, url, args.workers) as base:
        headers = {"Authorization": f"Bearer {tokens['viewer']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as reader:
            cold_groups, cold_masks, urls = group_page(reader, hood, key)
            warm = [group_page(reader, hood, key)[:2] for _ in range(5)]
        cold_ms, warm_ms = cold_groups + cold_masks, statistics.median(a + b for a, b in warm)
        result["group_page"] = {
            "group": f"{hood}/{key}", "group_size": size, "groups_in_neighbourhood": _count_groups(url, hood),
            "cold_ms": cold_ms, "warm_ms": warm_ms, "cold_over_warm": cold_ms / warm_ms,
            "cold_groups_ms": cold_groups, "cold_masks_ms": cold_masks,
            "warm_groups_ms": statistics.median(a for a, _ in warm),
            "warm_masks_ms": statistics.median(b for _, b in warm)}
        browser = [httpx.Client(base_url=base, headers=headers, timeout=60) for _ in range(BROWSER_CONNECTIONS)]
        try:
            cold_s = thumbnails(browser, urls)
            warm_s = statistics.median(thumbnails(browser, urls) for _ in range(3))
        finally:
            for c in browser:
                c.close()
        n = len(urls)
        result["thumbnails"] = {"count": n, "patches": len({u.split("/patches/")[1].split("/")[0] for u in urls}),
                                "cold_s": cold_s, "warm_s": warm_s, "cold_per_s": n / cold_s,
                                "warm_per_s": n / warm_s, "warm_over_cold": cold_s / warm_s}
        print(f"  group page {cold_ms:.0f} ms cold, {warm_ms:.1f} ms warm; {n} thumbnails "
              f"{n / cold_s:.0f}/s cold, {n / warm_s:.0f}/s warm")
        result["saves"] = s = saves(base, tokens, args.annotators, args.seconds)
        print(f"  saves: {s['saves_per_s']:.1f}/s, p50 {s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, "
              f"{s['conflicts_409']} x 409, {s['errors']} errors")
    return result


def _count_groups(url: str, hood: str) -> dict[str, int]:
    """How many groups and masks the neighbourhood's group list covers."""
    from sqlalchemy import func, select

    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.models import Group

    db = Database(url)
    with db.reader() as session:
        groups, masks = session.execute(select(func.count(), func.sum(Group.size)).where(
            Group.project_id == "demo", Group.neighbourhood == hood)).one()
    db.dispose()
    return {"groups": int(groups), "masks": int(masks or 0)}


def table(results: list[dict[str, Any]]) -> str:
    by = {r["backend"]: r for r in results}
    # (label, part, field, ratio PostgreSQL/SQLite makes sense)
    rows: list[tuple[str, str, str, bool]] = [
        ("saves/s", "saves", "saves_per_s", True), ("save p50 ms", "saves", "p50_ms", True),
        ("save p99 ms", "saves", "p99_ms", True),
        ("  correction p50 ms", "saves", "correction_p50_ms", True),
        ("  correction p99 ms", "saves", "correction_p99_ms", True),
        ("  group decision p50 ms", "saves", "group_p50_ms", True),
        ("  group decision p99 ms", "saves", "group_p99_ms", True),
        ("409s", "saves", "conflicts_409", False), ("errors (non-409)", "saves", "errors", False),
        ("thumbnails/s cold", "thumbnails", "cold_per_s", True),
        ("thumbnails/s warm", "thumbnails", "warm_per_s", True),
        ("  warm/cold", "thumbnails", "warm_over_cold", False),
        ("group page ms cold", "group_page", "cold_ms", True),
        ("  groups list", "group_page", "cold_groups_ms", True),
        ("  48 masks", "group_page", "cold_masks_ms", True),
        ("group page ms warm", "group_page", "warm_ms", True),
        ("  groups list", "group_page", "warm_groups_ms", True),
        ("  48 masks", "group_page", "warm_masks_ms", True),
        ("  cold/warm", "group_page", "cold_over_warm", False),
    ]
    names = [n for n in ("sqlite", "postgresql") if n in by]
    head = f"{'':26}" + "".join(f"{n:>12}" for n in names) + ("   postgresql/sqlite" if len(names) == 2 else "")
    lines = [head, "-" * len(head)]
    for label, part, field, ratio in rows:
        values = [by[n][part][field] for n in names]
        line = f"{label:26}" + "".join(f"{_fmt(v):>12}" for v in values)
        if len(values) == 2 and ratio and values[0]:
            line += f"   {values[1] / values[0]:>10.2f}x"
        lines.append(line)
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the annotators save")
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--patch-size", type=int, default=1024)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the city project here")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mcae-bench-annsvc-") as tmp:
        folder = args.keep or Path(tmp) / "city"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        project = clustered_project(folder, args.size, args.patch_size)
        print(f"project: {args.size} px city, {args.patch_size} px patches, ready in "
              f"{time.perf_counter() - start:.1f} s")
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        results.append(run_backend("sqlite", f"sqlite:///{sqlite_dir / 'annotation.db'}", project, sqlite_dir,
                                   args))
        if args.no_postgres:
            notes.append("PostgreSQL: skipped (--no-postgres)")
        else:
            with postgres() as cluster:
                if cluster is None:
                    notes.append("PostgreSQL: skipped, no binaries (MCAE_PG_BIN or /usr/lib/postgresql/15/bin)")
                else:
                    pg_dir = Path(tmp) / "postgresql"
                    pg_dir.mkdir()
                    results.append(run_backend("postgresql", cluster.create_database(), project, pg_dir, args))
    print()
    print(table(results))
    for note in notes:
        print(note)
    path = write_results("annotation_service.json", {
        "results": results, "notes": notes, "settings": vars(args), "machine": machine_info()})
    print(f"results: {path}")
    errors = sum(r["saves"]["errors"] for r in results)
    if errors:
        print(f"FAILED: {errors} save(s) answered neither 201 nor 409: {results[0]['saves']['first_errors']}")
        sys.exit(1)


if __name__ == "__main__":
    main()
