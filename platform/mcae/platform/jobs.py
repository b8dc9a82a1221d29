"""The app's background jobs (bundles today, retrain-and-rebuild next), with records persisted as JSON.

A job's id is random (``secrets.token_urlsafe``); a hash of its kind and what it builds
(``spec``), its key, finds an identical request's job already done or running
(``<jobs folder>/keys/<key>`` holds its id). Each kind named in ``pools`` (rebuilds) runs in
its own pool of worker threads, never queued behind the others (bundles); the record
``<jobs folder>/<id>.json`` is rewritten atomically on every state change and about once a
second while running, so another process, or this one after a restart, still serves
finished jobs and their files. A queued or running record whose owner stopped updating it
(a server that died) reads as failed, and asking again starts it afresh.

``submit(kind, spec, total, work)`` runs ``work(ctx)``: ``ctx.out_path`` is the job's file
(``<id><suffix>`` in the jobs folder; written by the work, e.g. atomically), and
``ctx.progress(done, total=None, message=None, **extra)`` reports progress (``extra``
values are shown at the top level of the public record). ``work`` may return a JSON-able
dict, stored as ``record.result``. The app makes the registry in its lifespan
(``app.state.jobs``); ``mcae.platform.routes_jobs`` serves ``/api/jobs/{id}`` and its download.

Strangers cannot exhaust it: ``caps`` bound the queued and running jobs of a kind per client
and in all (429 with ``Retry-After`` beyond), finished jobs expire by age and by a total size
cap (``job_expiry``). A job's owner and error text are shown to its owner (the user, or for
an anonymous job the same client address) and to admins only; error texts never hold a
server path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import re
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from mcae.inference.atomic import atomic_path, write_json
from mcae.inference.disk_full import full_disk_message, is_out_of_space
from mcae.inference.errors import MCAEError, ProjectStateError, StorageError
from mcae.platform.errors import TooManyRequests
from mcae.platform.job_expiry import KEYS, prune
from mcae.tiles.ids import UnknownId

logger = logging.getLogger(__name__)

JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{24}$"
STALE_AFTER_S = 120.0  # a queued/running record not updated for this long was orphaned
PERSIST_EVERY_S = 1.0

JobState = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True)
class Caps:
    """How many jobs of a kind may be queued or running: per client and in all."""

    per_client: int
    total: int


@dataclass(frozen=True)
class JobViewer:
    """Who asks about a job: a user (by name, admin or not), else a client address hash."""

    user: str | None = None
    admin: bool = False
    client: str | None = None


class JobRecord(BaseModel):
    """One job: what it builds, where it stands, what it produced."""

    id: str
    kind: str
    state: JobState
    spec: dict[str, Any]
    key: str | None = None  # the hash of kind and spec (an identical request's job)
    owner: str | None = None
    client: str | None = None  # a hash of the submitting client's address (never shown)
    total: int
    done: int = 0
    message: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)  # the latest ``progress(**extra)`` values
    result: dict[str, Any] | None = None
    error: str | None = None
    file: str | None = None  # name of the job's file in the jobs folder (None: it makes none)
    filename: str | None = None  # the name a download is saved as
    media_type: str | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    updated: float

    @property
    def has_file(self) -> bool:
        return self.file is not None

    def shown_to(self, viewer: JobViewer) -> bool:
        """Whether ``viewer`` may see the job's owner and error: admins, its owner, and for a job
        without an owner (an anonymous bundle) the client that asked for it."""
        if viewer.admin or (self.owner is not None and viewer.user == self.owner):
            return True
        return self.owner is None and self.client is not None and viewer.client == self.client

    def eta_s(self, now: float) -> float | None:
        """Seconds left at the rate so far (None until the job runs and has done some work)."""
        if self.state != "running" or self.started is None or self.done <= 0 or self.total <= 0:
            return None
        left = max(0, self.total - self.done)
        return round(max(0.0, now - self.started) * left / self.done, 1)

    def public(self, for_owner: bool = True, now: float | None = None) -> dict[str, Any]:
        """The record as clients see it (no paths): the spec's and the progress extras' keys
        at the top level, under the record's own keys; the owner and the error text only
        ``for_owner`` (see ``shown_to``); ``eta_s`` measured at ``now`` (default: the clock)."""
        links = {"self": f"/api/jobs/{self.id}"}
        if self.state == "done" and self.has_file:
            links["download"] = f"/api/jobs/{self.id}/download"
        own = {"id": self.id, "kind": self.kind, "state": self.state,
               "progress": round(min(self.done, self.total) / self.total, 4) if self.total else 1.0,
               "done": self.done, "total": self.total, "message": self.message, "result": self.result,
               "error": self.error if for_owner else None, "owner": self.owner if for_owner else None,
               "created": self.created, "started": self.started,
               "finished": self.finished, "links": links,
               "eta_s": self.eta_s(time.time() if now is None else now)}
        return {**self.spec, **self.extra, **own}


class JobContext:
    """What a job's work function is given: its output file and a progress callback."""

    def __init__(self, registry: JobRegistry, record: JobRecord, out_path: Path) -> None:
        self._registry = registry
        self._record = record
        self.out_path = out_path

    @property
    def job_id(self) -> str:
        return self._record.id

    def progress(self, done: int, total: int | None = None, message: str | None = None, **extra: Any) -> None:
        """Report ``done`` of ``total`` (unchanged when None) units, a message and extra values."""
        self._registry._progress(self._record, done, total, message, extra)


Work = Callable[[JobContext], "dict[str, Any] | None"]


def job_key(kind: str, spec: dict[str, Any]) -> str:
    """The key of the job of ``kind`` that builds ``spec`` (what finds an identical request's job)."""
    text = json.dumps({"kind": kind, "spec": spec}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def new_job_id() -> str:
    """A random job id (24 URL-safe characters), never derived from what the job builds."""
    return secrets.token_urlsafe(18)


def client_key(address: str | None) -> str | None:
    """What a job keeps of its client's address: a hash (records are the server's; the hash is
    the same in every worker process, so any of them answers the client)."""
    if not address:
        return None
    return hashlib.sha256(f"mcae-job-client:{address}".encode()).hexdigest()[:16]


_PATHS = re.compile(r"""(?:[A-Za-z]:\\|/)(?:[^\s/\\'"`:]+[/\\])+[^\s'"`:,;)]*""")


def scrub_paths(text: str) -> str:
    """``text`` with anything that looks like a server path replaced by ``<path>``."""
    return _PATHS.sub("<path>", text)


class JobRegistry:
    """Jobs of one jobs folder: in memory while active, on disk always."""

    def __init__(self, root: Path, workers: int = 1, *, pools: dict[str, int] | None = None,
                 caps: dict[str, Caps] | None = None, max_age_s: float = 86400.0,
                 max_total_bytes: int = 10 * 1024**3, prune_every_s: float = 60.0) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._active: dict[str, JobRecord] = {}
        self._persisted: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="job")
        self._pools = {kind: ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix=f"job-{kind}")
                       for kind, n in (pools or {}).items()}
        self.caps = dict(caps or {})
        self.max_age_s, self.max_total_bytes, self.prune_every_s = max_age_s, max_total_bytes, prune_every_s
        self._pruned_at = float("-inf")

    # -- paths ---------------------------------------------------------------
    def record_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

    def key_path(self, key: str) -> Path:
        return self.root / KEYS / key

    def file_path(self, record: JobRecord) -> Path:
        """The job's file (ProjectStateError for a job that makes none)."""
        if record.file is None:
            raise ProjectStateError(f"job {record.id} ({record.kind}) produces no file")
        return self.root / record.file

    # -- queries -------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        """The job ``job_id`` (UnknownId when there is none)."""
        with self._lock:
            found = self._find(job_id)
        if found is None:
            raise UnknownId("job", job_id)
        return found

    def _find(self, job_id: str) -> JobRecord | None:
        if job_id in self._active:
            return self._active[job_id].model_copy(deep=True)
        path = self.record_path(job_id)
        try:
            record = JobRecord.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError):
            logger.warning("unreadable job record %s", path)
            return None
        now = time.time()
        if record.state in ("queued", "running") and now - record.updated > STALE_AFTER_S:
            record.state, record.error = "failed", "interrupted: the server stopped while running it"
        elif record.state == "done" and record.file is not None and not (self.root / record.file).is_file():
            record.state, record.error = "failed", "the job's file is gone; ask for it again"
        return record

    # -- changes -------------------------------------------------------------
    def submit(self, kind: str, spec: dict[str, Any] | BaseModel, total: int, work: Work, *,
               owner: str | None = None, suffix: str = "", filename: str | None = None,
               media_type: str | None = None, extra: dict[str, Any] | None = None,
               client: str | None = None) -> tuple[JobRecord, bool]:
        """The job of ``kind`` for ``spec``: an existing done or running one, else a new queued one.

        ``suffix`` (e.g. ``".mbtiles"``) names the job's file ``<id><suffix>`` and says the job
        makes one (an empty suffix: no file; ``ctx.out_path`` is then ``<id>.out``, unused);
        ``filename`` and ``media_type`` are what its download is served as; ``extra`` the
        initial values of the progress extras; ``client`` the submitting client's address
        (counted against the kind's ``caps``; only a hash is kept). Returns the record and
        whether this call started it. A new job over the kind's caps is a 429.
        """
        body = spec.model_dump(mode="json") if isinstance(spec, BaseModel) else json.loads(json.dumps(spec))
        key = job_key(kind, body)
        who = client_key(client)
        self._maybe_prune()
        with self._lock:
            existing = self._find_key(key)
            if existing is not None and existing.state != "failed":
                return existing, False
            self._check_caps(kind, who)
            ident = new_job_id()
            now = time.time()
            file = f"{ident}{suffix}" if suffix else None
            record = JobRecord(id=ident, kind=kind, state="queued", spec=body, key=key, owner=owner, client=who,
                               total=total, extra=dict(extra or {}), file=file, filename=filename or file,
                               media_type=media_type or (mimetypes.guess_type(file)[0] if file else None),
                               created=now, updated=now)
            self._active[ident] = record
            try:
                self._persist(record)
                self.key_path(key).parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(self.key_path(key)) as tmp:
                    tmp.write_text(ident)
            except OSError as exc:  # no record, no job: a full disk is a 507 the client can retry
                self._forget(ident)
                with contextlib.suppress(OSError):
                    self.record_path(ident).unlink()
                if is_out_of_space(exc, self.root):
                    raise StorageError(full_disk_message(f"the {kind} job's record", "no job was started")) from None
                raise
            self._pools.get(kind, self._pool).submit(self._run, ident, work)
            return record.model_copy(deep=True), True

    def _find_key(self, key: str) -> JobRecord | None:
        for record in self._active.values():
            if record.key == key:
                return record.model_copy(deep=True)
        try:
            ident = self.key_path(key).read_text().strip()
        except OSError:
            return None
        return self._find(ident) if re.fullmatch(JOB_ID_PATTERN, ident) else None

    def _check_caps(self, kind: str, client: str | None) -> None:
        caps = self.caps.get(kind)
        if caps is None:
            return
        active = [r for r in self._active.values() if r.kind == kind and r.state in ("queued", "running")]
        if client is not None and sum(r.client == client for r in active) >= caps.per_client:
            raise TooManyRequests(f"you have {caps.per_client} {kind} job(s) queued or running already; "
                                  "wait for one to finish", retry_after=10,
                                  details={"cap": caps.per_client, "setting": f"jobs.{kind}s_per_client"})
        if len(active) >= caps.total:
            raise TooManyRequests(f"the server has {caps.total} {kind} jobs queued or running; try again later",
                                  retry_after=30, details={"cap": caps.total, "setting": f"jobs.{kind}s_total"})

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < self.prune_every_s:
            return
        self._pruned_at = now
        self.prune()

    def prune(self, now: float | None = None) -> Any:
        """Remove expired jobs now (by age, then oldest first beyond the size cap); jobs in
        memory (queued, running) are never removed."""
        try:  # outside the lock: it only removes finished jobs, which nothing changes any more
            return prune(self.root, self.max_age_s, self.max_total_bytes, STALE_AFTER_S, now)
        except OSError as exc:
            logger.warning("jobs: could not prune the jobs folder: %s", exc)
            return None

    def _run(self, job_id: str, work: Work) -> None:
        with self._lock:
            record = self._active[job_id]
            record.state, record.started = "running", time.time()
            out = self.root / (record.file or f"{job_id}.out")
        try:
            with self._lock:
                self._persist(record)
            result = work(JobContext(self, record, out))
            if result is not None:
                result = json.loads(json.dumps(result))  # JSON-able, and a copy
        except Exception as exc:
            full = not isinstance(exc, MCAEError) and is_out_of_space(exc, self.root)
            if not isinstance(exc, MCAEError) and not full:
                logger.exception("%s job %s failed", record.kind, job_id)
            with self._lock:
                record.state, record.finished = "failed", time.time()
                record.error = (scrub_paths(str(exc)) if isinstance(exc, MCAEError) else
                                full_disk_message(f"the {record.kind} job's file", "no file was kept") if full
                                else "internal error")
                self._settle(record)
            return
        with self._lock:
            record.state, record.finished = "done", time.time()
            record.done, record.result = record.total, result
            self._settle(record)

    def _settle(self, record: JobRecord) -> None:
        """Persist a finished job and let it go from memory; if its record cannot be written
        (a full disk), it stays in memory so its state is still answered."""
        try:
            self._persist(record)
        except OSError:
            logger.warning("job %s: its %s record could not be written", record.id, record.state)
            return
        self._forget(record.id)

    def _progress(self, record: JobRecord, done: int, total: int | None, message: str | None,
                  extra: dict[str, Any]) -> None:
        with self._lock:
            record.done = done
            if total is not None:
                record.total = total
            if message is not None:
                record.message = message
            record.extra.update(extra)
            if time.time() - self._persisted.get(record.id, 0.0) >= PERSIST_EVERY_S:
                with contextlib.suppress(OSError):  # progress is kept in memory; the end is persisted
                    self._persist(record)

    def _forget(self, job_id: str) -> None:
        self._active.pop(job_id, None)
        self._persisted.pop(job_id, None)

    def _persist(self, record: JobRecord) -> None:
        record.updated = time.time()
        write_json(self.record_path(record.id), record.model_dump(mode="json"))
        self._persisted[record.id] = record.updated

    def wait(self, job_id: str, timeout: float = 60.0) -> JobRecord:
        """Block until ``job_id`` is done or failed (for tests and command-line use)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.get(job_id)
            if record.state in ("done", "failed") or time.monotonic() > deadline:
                return record
            time.sleep(0.02)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; queued ones are cancelled (their records read as failed later)."""
        for pool in (self._pool, *self._pools.values()):
            pool.shutdown(wait=wait, cancel_futures=True)
