"""Background jobs that build bundle files, with records persisted as JSON.

A job's id is a hash of what it builds (city, layer and its version, area, zooms,
format), so an identical request finds the job already done or running. Jobs run one
at a time in a worker thread (each renders its tiles with its own thread pool); the
record ``<jobs_dir>/<id>.json`` is rewritten atomically on every state change and about
once a second while running, so another process, or this one after a restart, still
serves finished bundles. A queued or running record whose owner stopped updating it
(a server that died) reads as failed, and asking again starts it afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from mcae.inference.atomic import write_json
from mcae.inference.errors import MCAEError
from mcae.tiles.catalog import UnknownId

logger = logging.getLogger(__name__)

JOB_ID_PATTERN = r"^[0-9a-f]{24}$"
STALE_AFTER_S = 120.0  # a queued/running record not updated for this long was orphaned
PERSIST_EVERY_S = 1.0

JobState = Literal["queued", "running", "done", "failed"]
Work = Callable[[Path, Callable[[int, int, int], None]], tuple[int, int]]


class BundleSpec(BaseModel):
    """Everything that decides a bundle's bytes; its hash is the job id."""

    city: str
    layer: str
    layer_version: str
    format: Literal["mbtiles", "pmtiles", "zip"]
    area: str  # fingerprint of the area's geometry (clipped to the layer)
    bbox: tuple[float, float, float, float] | None = None
    district: str | None = None
    minzoom: int
    maxzoom: int
    tms: str = "WebMercatorQuad"
    tilesize: int = 256

    def job_id(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


class JobRecord(BaseModel):
    id: str
    state: JobState
    spec: BundleSpec
    total: int
    done: int = 0
    written: int = 0
    bytes: int = 0
    error: str | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    updated: float

    def public(self) -> dict[str, Any]:
        """The record as clients see it (no paths)."""
        spec = self.spec
        out: dict[str, Any] = {
            "id": self.id, "state": self.state,
            "progress": round(self.done / self.total, 4) if self.total else 1.0,
            "tiles_done": self.done, "tiles_total": self.total, "tiles_written": self.written,
            "bytes": self.bytes, "error": self.error, "format": spec.format, "city": spec.city,
            "layer": spec.layer, "layer_version": spec.layer_version, "bbox": spec.bbox,
            "district": spec.district, "minzoom": spec.minzoom, "maxzoom": spec.maxzoom,
            "created": self.created, "started": self.started, "finished": self.finished,
            "links": {"self": f"/api/jobs/{self.id}"}}
        if self.state == "done":
            out["links"]["download"] = f"/api/jobs/{self.id}/download"
        return out


class JobRegistry:
    """Jobs of one jobs folder: in memory while active, on disk always."""

    def __init__(self, root: Path, workers: int = 1) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._active: dict[str, JobRecord] = {}
        self._persisted: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bundle-job")

    # -- paths ---------------------------------------------------------------
    def record_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

    def file_path(self, record: JobRecord) -> Path:
        return self.root / f"{record.id}.{record.spec.format}"

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
            record.state, record.error = "failed", "interrupted: the server stopped while building it"
        elif record.state == "done" and not self.file_path(record).is_file():
            record.state, record.error = "failed", "the bundle file is gone; ask for it again"
        return record

    # -- changes -------------------------------------------------------------
    def submit(self, spec: BundleSpec, total: int, work: Work) -> tuple[JobRecord, bool]:
        """The job for ``spec``: an existing done or running one, else a new queued one.

        Returns the record and whether it was started by this call.
        """
        job_id = spec.job_id()
        with self._lock:
            existing = self._find(job_id)
            if existing is not None and existing.state != "failed":
                return existing, False
            now = time.time()
            record = JobRecord(id=job_id, state="queued", spec=spec, total=total, created=now, updated=now)
            self._active[job_id] = record
            self._persist(record)
            self._pool.submit(self._run, job_id, work)
            return record.model_copy(deep=True), True

    def _run(self, job_id: str, work: Work) -> None:
        with self._lock:
            record = self._active[job_id]
            record.state, record.started = "running", time.time()
            self._persist(record)
            out = self.file_path(record)

        def progress(done: int, written: int, nbytes: int) -> None:
            with self._lock:
                record.done, record.written, record.bytes = done, written, nbytes
                if time.time() - self._persisted.get(job_id, 0.0) >= PERSIST_EVERY_S:
                    self._persist(record)

        try:
            written, _ = work(out, progress)
        except Exception as exc:
            if not isinstance(exc, MCAEError):
                logger.exception("bundle job %s failed", job_id)
            with self._lock:
                record.state, record.finished = "failed", time.time()
                record.error = str(exc) if isinstance(exc, MCAEError) else "internal error"
                self._persist(record)
                self._forget(job_id)
            return
        with self._lock:
            record.state, record.finished = "done", time.time()
            record.done, record.written, record.bytes = record.total, written, out.stat().st_size
            self._persist(record)
            self._forget(job_id)

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
        self._pool.shutdown(wait=wait, cancel_futures=True)
