"""The durability test's harness: ``mcae serve`` started (and SIGKILLed) from a forked
zygote, and annotator threads that save decisions and record what the server acknowledged
(``tests/test_annotation_durability.py`` holds the checks)."""


from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.harness import free_port as _free_port

REPO = Path(__file__).resolve().parents[1]
SEED = 20250611
KILLS = 20
KILL_GAP_S = (0.3, 1.5)  # the server lives this long (uniform) before each SIGKILL
CLIENTS = ("alice", "bob", "admin", "carol")  # carol: a fourth annotator added here
START_TIMEOUT_S = 60.0
PHASE_BUDGET_S = 1800.0  # the clients' liveness bound only: the kill phase is counted, never timed
SAVES_BEFORE_KILL = 3  # each server takes at least this many save attempts before its SIGKILL
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


def wait_for_attempts(clients: list[Annotator], attempts: int) -> None:
    """Until the clients have sent ``attempts`` saves in all (or one of them has stopped)."""
    while sum(c.tally.attempts for c in clients) < attempts and all(c.is_alive() for c in clients):
        time.sleep(0.02)
