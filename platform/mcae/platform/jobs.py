"""The app's background jobs (bundles today, retrain-and-rebuild next), with records persisted as JSON.

A job's id is a hash of its kind and what it builds (``spec``), so an identical request finds
the job already done or running. Jobs run in a pool of worker threads; the record
``<jobs folder>/<id>.json`` is rewritten atomically on every state change and about once a
second while running, so another process, or this one after a restart, still serves
finished jobs and their files. A queued or running record whose owner stopped updating it
(a server that died) reads as failed, and asking again starts it afresh.

``submit(kind, spec, total, work)`` runs ``work(ctx)``: ``ctx.out_path`` is the job's file
(``<id><suffix>`` in the jobs folder; written by the work, e.g. atomically), and
``ctx.progress(done, total=None, message=None, **extra)`` reports progress (``extra``
values are shown at the top level of the public record). ``work`` may return a JSON-able
dict, stored as ``record.result``. The app makes the registry in its lifespan
(``app.state.jobs``); ``create_jobs_router`` serves ``/api/jobs/{id}`` and its download.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from mcae.inference.atomic import write_json
from mcae.inference.errors import MCAEError, ProjectStateError, StorageError
from mcae.inference.storage import full_disk_message, is_out_of_space
from mcae.tiles.errors import NO_STORE
from mcae.tiles.ids import UnknownId
from mcae.tiles.schemas import JobOut

logger = logging.getLogger(__name__)

JOB_ID_PATTERN = r"^[0-9a-f]{24}$"
STALE_AFTER_S = 120.0  # a queued/running record not updated for this long was orphaned
PERSIST_EVERY_S = 1.0

JobState = Literal["queued", "running", "done", "failed"]


class JobRecord(BaseModel):
    """One job: what it builds, where it stands, what it produced."""

    id: str
    kind: str
    state: JobState
    spec: dict[str, Any]
    owner: str | None = None
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

    def public(self) -> dict[str, Any]:
        """The record as clients see it (no paths): the spec's and the progress extras' keys
        at the top level, under the record's own keys."""
        links = {"self": f"/api/jobs/{self.id}"}
        if self.state == "done" and self.has_file:
            links["download"] = f"/api/jobs/{self.id}/download"
        own = {"id": self.id, "kind": self.kind, "state": self.state,
               "progress": round(min(self.done, self.total) / self.total, 4) if self.total else 1.0,
               "done": self.done, "total": self.total, "message": self.message, "result": self.result,
               "error": self.error, "owner": self.owner, "created": self.created, "started": self.started,
               "finished": self.finished, "links": links}
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


def job_id(kind: str, spec: dict[str, Any]) -> str:
    """The id of the job of ``kind`` that builds ``spec`` (24 hex digits)."""
    text = json.dumps({"kind": kind, "spec": spec}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class JobRegistry:
    """Jobs of one jobs folder: in memory while active, on disk always."""

    def __init__(self, root: Path, workers: int = 1) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._active: dict[str, JobRecord] = {}
        self._persisted: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="job")

    # -- paths ---------------------------------------------------------------
    def record_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

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
               media_type: str | None = None, extra: dict[str, Any] | None = None) -> tuple[JobRecord, bool]:
        """The job of ``kind`` for ``spec``: an existing done or running one, else a new queued one.

        ``suffix`` (e.g. ``".mbtiles"``) names the job's file ``<id><suffix>`` and says the job
        makes one (an empty suffix: no file; ``ctx.out_path`` is then ``<id>.out``, unused);
        ``filename`` and ``media_type`` are what its download is served as; ``extra`` the
        initial values of the progress extras. Returns the record and whether this call
        started it.
        """
        body = spec.model_dump(mode="json") if isinstance(spec, BaseModel) else json.loads(json.dumps(spec))
        ident = job_id(kind, body)
        with self._lock:
            existing = self._find(ident)
            if existing is not None and existing.state != "failed":
                return existing, False
            now = time.time()
            file = f"{ident}{suffix}" if suffix else None
            record = JobRecord(id=ident, kind=kind, state="queued", spec=body, owner=owner, total=total,
                               extra=dict(extra or {}), file=file, filename=filename or file,
                               media_type=media_type or (mimetypes.guess_type(file)[0] if file else None),
                               created=now, updated=now)
            self._active[ident] = record
            try:
                self._persist(record)
            except OSError as exc:  # no record, no job: a full disk is a 507 the client can retry
                self._forget(ident)
                if is_out_of_space(exc, self.root):
                    raise StorageError(full_disk_message(f"the {kind} job's record", "no job was started")) from None
                raise
            self._pool.submit(self._run, ident, work)
            return record.model_copy(deep=True), True

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
                record.error = (str(exc) if isinstance(exc, MCAEError) else
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
        self._pool.shutdown(wait=wait, cancel_futures=True)


# -- routes ----------------------------------------------------------------------------------

JobIdParam = Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="A job id.")]


def get_jobs(request: Request) -> JobRegistry:
    jobs: JobRegistry = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobRegistry, Depends(get_jobs)]


def create_jobs_router(cache_control: str) -> APIRouter:
    """``/api/jobs/{id}`` (any kind of job) and ``/api/jobs/{id}/download`` (jobs that made a file)."""
    router = APIRouter(tags=["Jobs"])

    @router.get("/api/jobs/{job_id}", summary="A job: state and progress", response_model=JobOut)
    def job(jobs: JobsDep, job_id: JobIdParam) -> JSONResponse:
        return JSONResponse(jobs.get(job_id).public(), headers=NO_STORE)

    @router.get("/api/jobs/{job_id}/download", summary="The file a finished job made",
                response_class=FileResponse, responses={
                    200: {"description": "The job's file (a bundle: MBTiles, PMTiles or zip).", "content": {
                        t: {} for t in ("application/vnd.sqlite3", "application/vnd.pmtiles", "application/zip",
                                        "application/octet-stream")}},
                    409: {"description": "The job is not done (queued, running or failed)."}})
    def job_download(jobs: JobsDep, job_id: JobIdParam) -> FileResponse:
        record = jobs.get(job_id)
        if not record.has_file:
            raise UnknownId("job file", job_id)
        if record.state != "done":
            detail = f": {record.error}" if record.error else f" ({record.done}/{record.total})"
            raise ProjectStateError(f"job {job_id} is {record.state}{detail}")
        return FileResponse(jobs.file_path(record), media_type=record.media_type or "application/octet-stream",
                            filename=record.filename, headers={"Cache-Control": cache_control})

    return router
