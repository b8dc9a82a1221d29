"""A save is acknowledged only after its transaction committed: the SIGKILL test.

The real server (``mcae serve --workers 1``) runs as a process of its own over SQLite and
over PostgreSQL. Four annotators stream saves at it from their own threads: mask corrections
(one row or several in one request) and group decisions, on versions they keep and refetch
after a 409. The server is killed with SIGKILL 20 times at random moments (seeded) and
started again each time. After the last restart every acknowledged decision is there with
its author, target, class and masks, nothing is half-written (a multi-row correction has all
its decisions or none, no decision without masks, every decision has its history), every
mask's class is the one the decisions in force give it, and the database passes its own
integrity checks.

Restarts: ``mcae serve`` takes 5-10 s to import on 2 shared cores (torch and scikit-learn
come in with the app), which 20 restarts per backend cannot afford. A *zygote* process
imports the CLI once; each (re)start forks it and runs ``mcae serve ...`` (the CLI's own
``main``) in the child, which builds the app, opens the database (SQLite migrates or checks
itself, as at every start), binds the port and serves. The child is what gets SIGKILL; the
next child opens the database afresh after the kill, as a restarted server does.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from annotation_fixtures import FAST_SCRYPT, copy_project, seed_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import annotation_fixtures as fx

pg_cluster = fx.pg_cluster
template_project = fx.template_project
db_url = fx.db_url

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SEED = 20250611
KILLS = 20
KILL_GAP_S = (0.3, 1.5)  # the server lives this long (uniform) before each SIGKILL
CLIENTS = ("alice", "bob", "admin", "carol")  # carol: a fourth annotator added here
START_TIMEOUT_S = 60.0
PHASE_BUDGET_S = 300.0  # the whole kill phase at most: a liveness bound only (a busy 2-core machine
# restarts the server 20 times in well under it; the kills are counted, not timed)
CLASSES = list(range(1, 10))

# The zygote: imports the CLI once, then forks one `mcae serve ...` per "start" line on stdin
# and prints the child's pid. The child is the server; it dies with the zygote (PDEATHSIG),
# which exits when its stdin closes.
ZYGOTE = r"""
import ctypes, os, signal, sys
import uvicorn  # noqa: F401
import mcae.platform.app  # noqa: F401
from mcae.platform.cli import root
root.get_app()
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed servers are reaped at once
print("ready", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words or words[0] != "start":
        continue
    log = words[1]
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            sys.argv = ["mcae", *words[2:]]
            root.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Server:
    """``mcae serve --workers 1`` on a loopback port, (re)started by forking the zygote."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.catalog = tmp / "catalog.json"
        self.catalog.write_text('{"cities": {}}\n')  # the CLI wants the file; no cities is fine
        self.log = tmp / "serve.log"
        env = {**os.environ, "MCAE_DATABASE__URL": url, "MCAE_TILES__WEB_DIST": str(tmp / "no-web"),
               "PYTHONUNBUFFERED": "1"}
        env.pop("MCAE_TILES__CATALOG_PATH", None)
        self.zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE], cwd=tmp, env=env, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.zygote.stdout is not None and self.zygote.stdin is not None
        ready = self.zygote.stdout.readline().strip()
        assert ready == "ready", f"the zygote did not start: {ready!r}"
        self.pid: int | None = None
        self.starts = 0

    def start(self) -> float:
        """Start a server and wait for /healthz; returns the seconds it took."""
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        began = time.monotonic()
        self.zygote.stdin.write(f"start {self.log} serve --catalog {self.catalog} --host 127.0.0.1 "
                                f"--port {self.port} --workers 1 --log-level warning\n")
        self.zygote.stdin.flush()
        self.pid = int(self.zygote.stdout.readline())
        self.starts += 1
        while time.monotonic() - began < START_TIMEOUT_S:
            if not _alive(self.pid):
                pytest.fail(f"the server exited at start {self.starts}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/healthz", timeout=1.0).status_code == 200:
                    return time.monotonic() - began
            time.sleep(0.02)
        pytest.fail(f"no /healthz within {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert not _alive(self.pid), f"server {self.pid} survived SIGKILL"
        self.pid = None

    def stop(self) -> None:
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
        self.pid = None
        if self.zygote.stdin is not None:
            with contextlib.suppress(OSError):
                self.zygote.stdin.close()
        try:
            self.zygote.wait(10)
        except subprocess.TimeoutExpired:
            self.zygote.kill()
            self.zygote.wait(10)

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else "(no log)"


# -- what the clients see and do -------------------------------------------------------------

@dataclass
class Ack:
    """One acknowledged save: its decisions (id -> (target, class, mask pks))."""

    client: str
    kind: str  # "group" | "correction"
    decisions: dict[int, tuple[str, int, frozenset[int]]]
    rows: int


@dataclass
class World:
    """The project as the clients know it from the first fetch (masks never move)."""

    masks: dict[tuple[str, int], int]  # (patch, mask_id) -> mask pk
    patches: dict[str, list[int]]  # patch -> its mask ids
    groups: dict[tuple[str, str], list[int]]  # (hood, key) -> mask pks
    mask_versions: dict[tuple[str, int], int]
    group_versions: dict[tuple[str, str], int]


@dataclass
class Tally:
    acks: list[Ack] = field(default_factory=list)
    attempts: int = 0
    lost: int = 0  # sent, no answer: the server died with it in flight (or refused the connection half-way)
    refused: int = 0  # the server was down: never sent
    conflicts: int = 0
    failures: list[str] = field(default_factory=list)  # any other answer: a bug


def fetch_world(base: str, token: str) -> World:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        p = "/api/projects/demo"
        masks: dict[tuple[str, int], int] = {}
        versions: dict[tuple[str, int], int] = {}
        groups: dict[tuple[str, str], list[int]] = {}
        group_versions: dict[tuple[str, str], int] = {}
        hoods = client.get(f"{p}/neighbourhoods", params={"per_page": 500}).raise_for_status().json()["items"]
        for hood in hoods:
            for group in client.get(f"{p}/neighbourhoods/{hood['name']}/groups").raise_for_status().json():
                key = (hood["name"], group["key"])
                group_versions[key] = group["version"]
                items = client.get(f"{p}/neighbourhoods/{key[0]}/groups/{key[1]}/masks",
                                   params={"per_page": 500}).raise_for_status().json()["items"]
                groups[key] = [m["id"] for m in items]
                for m in items:
                    masks[(m["patch"], m["mask_id"])] = m["id"]
                    versions[(m["patch"], m["mask_id"])] = m["version"]
    patches: dict[str, list[int]] = {}
    for patch, mask_id in sorted(masks):
        patches.setdefault(patch, []).append(mask_id)
    return World(masks, patches, groups, versions, group_versions)


class Annotator(threading.Thread):
    """Saves until told to stop: 3 in 4 mask corrections (1-4 rows), 1 in 4 group decisions."""

    def __init__(self, name: str, token: str, base: str, world: World, seed: int, stop: threading.Event,
                 deadline: float) -> None:
        super().__init__(name=f"annotator-{name}", daemon=True)
        self.user, self.base, self.stop, self.deadline = name, base, stop, deadline
        self.rng = random.Random(seed)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.masks = world.masks
        self.patches = {p: ids for p, ids in world.patches.items()}
        self.multi = [p for p, ids in world.patches.items() if len(ids) >= 2]
        self.groups = world.groups
        self.mask_versions = dict(world.mask_versions)
        self.group_versions = dict(world.group_versions)
        self.tally = Tally()

    def run(self) -> None:
        # a fresh connection per request: a refused connection then means "never sent"
        limits = httpx.Limits(max_keepalive_connections=0)
        timeout = httpx.Timeout(20.0, connect=1.0)
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=timeout, limits=limits) as client:
            self.client = client
            while not self.stop.is_set() and time.monotonic() < self.deadline:
                try:
                    if self.rng.random() < 0.25:
                        self.group_decision()
                    else:
                        self.correction()
                except Exception as exc:  # a bug in the test or the server: report it, keep going
                    self.tally.failures.append(f"{self.user}: {type(exc).__name__}: {exc}")
                    time.sleep(0.05)

    # one save, with one retry after a 409 on refetched versions
    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response | None:
        self.tally.attempts += 1
        try:
            response = self.client.post(path, json=body)
        except httpx.ConnectError:
            self.tally.attempts -= 1
            self.tally.refused += 1
            time.sleep(0.02)
            return None
        except httpx.TransportError:
            self.tally.lost += 1
            time.sleep(0.02)
            return None
        if response.status_code == 409:
            self.tally.conflicts += 1
        elif response.status_code != 201:
            self.tally.failures.append(f"{self.user} POST {path} {body}: {response.status_code} "
                                       f"{response.text[:300]}")
        return response

    def _get(self, path: str, **params: Any) -> dict[str, Any] | list[Any] | None:
        try:
            response = self.client.get(path, params=params)
        except httpx.TransportError:
            time.sleep(0.02)
            return None
        if response.status_code != 200:
            self.tally.failures.append(f"{self.user} GET {path}: {response.status_code} {response.text[:300]}")
            return None
        return response.json()  # type: ignore[no-any-return]

    def correction(self) -> None:
        if self.rng.random() < 0.5:
            patch = self.rng.choice(sorted(self.patches))
            chosen = [self.rng.choice(self.patches[patch])]
        else:
            patch = self.rng.choice(self.multi)
            ids = self.patches[patch]
            chosen = self.rng.sample(ids, self.rng.randint(2, min(4, len(ids))))
        classes = {m: self.rng.choice(CLASSES) for m in chosen}
        path = f"/api/projects/demo/patches/{patch}/corrections"
        for attempt in range(2):
            body = {"rows": [{"mask": m, "class": classes[m], "version": self.mask_versions[(patch, m)]}
                             for m in chosen]}
            response = self._post(path, body)
            if response is None:
                return
            if response.status_code == 201:
                decisions = response.json()["decisions"]
                got = {}
                for row, d in zip(body["rows"], decisions, strict=True):
                    got[int(d["id"])] = ("mask", int(d["class_id"]), frozenset({self.masks[(patch, row["mask"])]}))
                    assert d["mask"] == row["mask"] and d["class_id"] == row["class"], (d, row)
                    self.mask_versions[(patch, row["mask"])] += 1  # a guess: a 409 corrects it
                self.tally.acks.append(Ack(self.user, "correction", got, len(chosen)))
                return
            if response.status_code != 409 or attempt:
                return
            found = self._get(f"/api/projects/demo/patches/{patch}")  # refetch the versions
            if not isinstance(found, dict):
                return
            for m in found["mask_list"]:
                self.mask_versions[(patch, m["mask_id"])] = m["version"]

    def group_decision(self) -> None:
        key = self.rng.choice(sorted(self.groups))
        members = self.groups[key]
        chosen = members if self.rng.random() < 0.5 else self.rng.sample(members, self.rng.randint(1, len(members)))
        class_id = self.rng.choice(CLASSES)
        path = f"/api/projects/demo/neighbourhoods/{key[0]}/groups/{key[1]}/decisions"
        for attempt in range(2):
            body = {"class": class_id, "masks": sorted(chosen), "version": self.group_versions[key]}
            response = self._post(path, body)
            if response is None:
                return
            if response.status_code == 201:
                answer = response.json()
                (d,) = answer["decisions"]
                assert d["class_id"] == class_id and d["masks"] == len(chosen), d
                self.group_versions[key] = answer["group"]["version"]
                self.tally.acks.append(Ack(self.user, "group", {int(d["id"]): ("group", class_id,
                                                                             frozenset(chosen))}, len(chosen)))
                return
            if response.status_code != 409 or attempt:
                return
            current = response.json().get("current") or {}
            if "version" in current:
                self.group_versions[key] = current["version"]


# -- checks after the last restart -----------------------------------------------------------

def check_database(url: str, acks: list[Ack], users: dict[str, int]) -> dict[str, int]:
    """Everything acknowledged is there, nothing is half-written, masks follow the decisions."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            decisions = {r.id: r for r in conn.execute(text(
                "SELECT id, target, class_id, author_id, state, review, pass_no, patch, mask_id, "
                "neighbourhood, group_key FROM decisions WHERE project_id = 'demo'"))}
            covers: dict[int, set[int]] = {}
            for decision_id, mask_pk in conn.execute(text("SELECT decision_id, mask_pk FROM decision_masks")):
                covers.setdefault(decision_id, set()).add(mask_pk)
            masks = {r.id: r for r in conn.execute(text(
                "SELECT id, patch, mask_id, class_id, decision_id FROM masks WHERE project_id = 'demo'"))}
            history = [(r.action, r.entity, r.entity_id, _json(r.after)) for r in conn.execute(text(
                "SELECT action, entity, entity_id, after FROM history WHERE project_id = 'demo' ORDER BY id"))]
            integrity = _integrity(conn, url)
    finally:
        engine.dispose()

    # 1. every acknowledged decision, as acknowledged
    acked: dict[int, tuple[str, int, frozenset[int], str]] = {}
    for ack in acks:
        assert len(ack.decisions) == (ack.rows if ack.kind == "correction" else 1)
        for decision_id, (target, class_id, pks) in ack.decisions.items():
            assert decision_id not in acked, f"decision {decision_id} acknowledged twice"
            acked[decision_id] = (target, class_id, pks, ack.client)
    for decision_id, (target, class_id, pks, client) in acked.items():
        row = decisions.get(decision_id)
        assert row is not None, f"acknowledged decision {decision_id} ({client}, {target}) is missing"
        assert (row.target, row.class_id, row.author_id) == (target, class_id, users[client]), (decision_id, row)
        assert row.state == "active" and row.pass_no == 1
        assert covers.get(decision_id, set()) == set(pks), f"decision {decision_id}: masks differ"

    # 2. nothing half-written, acknowledged or not
    history_of_decision = {int(e[2]) for e in history if e[:2] == ("create", "decision")}
    history_of_mask_decision = Counter(int(e[3]["decision"]) for e in history
                                       if e[:2] == ("correct", "mask") and e[3] and "decision" in e[3])
    batches = [list(map(int, e[3]["decisions"])) for e in history if e[:2] == ("correct", "patch")]
    in_batches = Counter(d for batch in batches for d in batch)
    for decision_id, row in decisions.items():
        size = len(covers.get(decision_id, ()))
        assert size > 0, f"decision {decision_id} ({row.target}) has no masks: half-written"
        if row.target == "mask":
            assert size == 1, f"mask decision {decision_id} covers {size} masks"
            assert history_of_mask_decision[decision_id] == 1, f"mask decision {decision_id}: no history"
            assert in_batches[decision_id] == 1, f"mask decision {decision_id} is in {in_batches[decision_id]} saves"
        else:
            assert decision_id in history_of_decision, f"group decision {decision_id}: no history"
    for batch in batches:  # a multi-row correction: all its decisions or none (and then no history)
        present = [d in decisions for d in batch]
        assert all(present), f"a correction saved {sum(present)} of its {len(batch)} decisions: {batch}"
    for ack in acks:
        if ack.kind == "correction":
            batch = sorted(ack.decisions)
            assert batch in [sorted(b) for b in batches], f"correction {batch}: no history entry of its save"
            assert sum(len(covers[d]) for d in batch) == ack.rows
    assert len(history) >= len(acked), "fewer history entries than acknowledged decisions"

    # 3. every mask's class is the one of the decision in force on it (a mask correction beats
    #    a group decision; the later of one kind wins), computed here independently
    best: dict[int, tuple[tuple[bool, int], int]] = {}
    for decision_id, row in decisions.items():
        if row.state != "active" or row.review == "rejected" or row.pass_no != 1:
            continue
        for pk in covers.get(decision_id, ()):
            rank = (row.target == "mask", decision_id)
            if pk not in best or rank > best[pk][0]:
                best[pk] = (rank, row.class_id)
    corrected = {pk for _, (target, _, pks, _) in acked.items() if target == "mask" for pk in pks}
    for pk, mask in masks.items():
        want = best.get(pk)
        want_decision, want_class = (want[0][1], want[1] or None) if want else (None, None)
        assert (mask.decision_id, mask.class_id) == (want_decision, want_class), \
            f"mask {mask.patch}/{mask.mask_id}: decision {mask.decision_id} class {mask.class_id}, " \
            f"the decisions in force say {want_decision} class {want_class}"
        if mask.decision_id is not None:
            assert pk in covers.get(mask.decision_id, ()) and decisions[mask.decision_id].state == "active"
    for pk in corrected:  # each corrected mask now follows a mask correction (never a group decision)
        assert decisions[masks[pk].decision_id].target == "mask"

    assert integrity == "ok", f"integrity check: {integrity}"
    return {"decisions": len(decisions), "acked": len(acked), "committed_unacknowledged": len(decisions) - len(acked),
            "masks_checked": len(masks), "history": len(history)}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _integrity(conn: Any, url: str) -> str:
    if make_url(url).get_backend_name() == "sqlite":
        result = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
        if result != ["ok"]:
            return "; ".join(result)
        orphans = list(conn.execute(text("PRAGMA foreign_key_check")))
        return "ok" if not orphans else f"foreign keys broken: {orphans[:5]}"
    # PostgreSQL: every B-tree index against its heap (amcheck), and the foreign keys by hand
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    indexes = [r[0] for r in conn.execute(text(
        "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.amname = 'btree' AND n.nspname = 'public'"))]
    for index in indexes:
        conn.execute(text("SELECT bt_index_check(CAST(:i AS regclass), true)"), {"i": index})
    orphans = conn.execute(text(
        "SELECT count(*) FROM decision_masks dm LEFT JOIN decisions d ON d.id = dm.decision_id "
        "LEFT JOIN masks m ON m.id = dm.mask_pk WHERE d.id IS NULL OR m.id IS NULL")).scalar()
    conn.commit()
    return "ok" if indexes and orphans == 0 else f"{len(indexes)} indexes checked, {orphans} orphan rows"


def check_api(base: str, token: str, acks: list[Ack], rng: random.Random) -> int:
    """The same through the restarted server: the decision list, a sample in detail, the dump."""
    acked = {d: (a.client, t, c, pks) for a in acks for d, (t, c, pks) in a.decisions.items()}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        listed: dict[int, dict[str, Any]] = {}
        for page in range(1, 1000):
            body = client.get("/api/projects/demo/decisions", params={"per_page": 500, "page": page}) \
                .raise_for_status().json()
            listed.update({d["id"]: d for d in body["items"]})
            if page * 500 >= body["total"]:
                break
        assert len(listed) == body["total"]
        for decision_id, (client_name, target, class_id, pks) in acked.items():
            d = listed.get(decision_id)
            assert d is not None, f"acknowledged decision {decision_id} not listed"
            assert (d["author"], d["target"], d["class_id"], d["masks"]) == (client_name, target, class_id, len(pks))
        for decision_id in rng.sample(sorted(acked), min(60, len(acked))):
            detail = client.get(f"/api/projects/demo/decisions/{decision_id}").raise_for_status().json()
            assert {m["id"] for m in detail["mask_list"]} == set(acked[decision_id][3])
        dump = client.get("/api/projects/demo/decisions.jsonl").raise_for_status().text
        dumped = {json.loads(line)["id"] for line in dump.splitlines() if line.strip()}
        assert dumped == set(listed), "the dump and the decision list differ"
    return len(listed)


# -- the test --------------------------------------------------------------------------------

def test_sigkill_during_saves_loses_nothing_acknowledged(db_url: str, template_project: Path,
                                                         tmp_path: Path) -> None:
    from mcae.platform.annotation.auth import add_user
    from mcae.platform.annotation.db import Database
    from mcae.platform.annotation.models import User

    backend = make_url(db_url).get_backend_name()
    root = copy_project(template_project, tmp_path / "city")
    tokens = seed_database(db_url, root)
    db = Database(db_url)
    with db.session() as session:
        _, tokens["carol"] = add_user(session, "carol", "annotator", FAST_SCRYPT, 16)
    with db.reader() as session:
        users = {u.name: u.id for u in session.query(User)}
    db.dispose()

    rng = random.Random(SEED)
    server = Server(tmp_path, db_url)
    try:
        first_start = server.start()
        world = fetch_world(server.base, tokens["vera"])
        assert len(world.masks) > 20 and len(world.groups) >= 3 and len(world.patches) >= 4
        stop = threading.Event()
        deadline = time.monotonic() + PHASE_BUDGET_S
        clients = [Annotator(name, tokens[name], server.base, world, rng.randrange(2**32), stop, deadline)
                   for name in CLIENTS]
        for c in clients:
            c.start()
        kills, restarts = 0, []
        try:
            for _ in range(KILLS):
                if time.monotonic() > deadline - 20:  # room for a last restart and the checks
                    break
                time.sleep(rng.uniform(*KILL_GAP_S))
                server.kill()
                kills += 1
                restarts.append(server.start())
            time.sleep(0.5)  # a last stretch of saves on the server started after the last kill
        finally:
            stop.set()
            for c in clients:
                c.join(30)
        assert not any(c.is_alive() for c in clients), "a client did not stop"

        # the checks read the server started after the last kill
        tallies = [c.tally for c in clients]
        acks = [a for t in tallies for a in t.acks]
        failures = [f for t in tallies for f in t.failures]
        verified = check_database(db_url, acks, users)
        listed = check_api(server.base, tokens["rita"], acks, rng)
        log = server.log_tail(20000)
    finally:
        server.stop()

    counts = {
        "backend": backend, "kills_survived": kills, "saves_attempted": sum(t.attempts for t in tallies),
        "saves_acknowledged": len(acks), "saves_lost_in_flight": sum(t.lost for t in tallies),
        "refused_while_down": sum(t.refused for t in tallies), "conflicts_409": sum(t.conflicts for t in tallies),
        "decisions_acknowledged": verified["acked"], "decisions_verified": verified["acked"],
        "decisions_in_db": verified["decisions"], "committed_not_acknowledged": verified["committed_unacknowledged"],
        "multi_row_corrections_acknowledged": sum(1 for a in acks if a.kind == "correction" and a.rows > 1),
        "group_decisions_acknowledged": sum(1 for a in acks if a.kind == "group"),
        "masks_checked": verified["masks_checked"], "history_entries": verified["history"],
        "listed_by_api": listed, "first_start_s": round(first_start, 2),
        "restart_s_median": round(sorted(restarts)[len(restarts) // 2], 2),
    }
    print(f"\nSIGKILL durability ({backend}): " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    assert not failures, f"{len(failures)} unexpected answers, first: {failures[:5]}"
    assert "Traceback" not in log and "database is locked" not in log, log[-4000:]
    assert kills == KILLS, f"only {kills} kills within the time budget"
    assert counts["saves_acknowledged"] > 0 and counts["saves_lost_in_flight"] > 0
    assert counts["decisions_verified"] > 0 and counts["multi_row_corrections_acknowledged"] > 0
    assert counts["group_decisions_acknowledged"] > 0
