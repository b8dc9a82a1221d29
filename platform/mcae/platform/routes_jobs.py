"""The jobs API: ``/api/jobs/{id}`` (any kind of job) and ``/api/jobs/{id}/download``.

Anyone may ask about a job by its (random) id; its owner and error text are shown only to its
owner and admins (``JobRecord.shown_to``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse

from mcae.inference.errors import ProjectStateError
from mcae.platform.jobs import JOB_ID_PATTERN, JobRegistry, JobViewer, client_key
from mcae.tiles.catalog import UnknownId
from mcae.tiles.errors import NO_STORE

JobIdParam = Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="A job id.")]


def get_jobs(request: Request) -> JobRegistry:
    jobs: JobRegistry = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobRegistry, Depends(get_jobs)]


def job_viewer(request: Request) -> JobViewer:
    """Who asks: the token's user when one is sent (a bad token is a 401), and the client address."""
    from mcae.platform.annotation.auth import current_user

    address = request.client.host if request.client else None
    if request.headers.get("authorization") is None or not hasattr(request.app.state, "database"):
        return JobViewer(client=client_key(address))
    user = current_user(request)
    return JobViewer(user=user.name, admin=user.has("admin"), client=client_key(address))


ViewerDep = Annotated[JobViewer, Depends(job_viewer)]


def create_jobs_router(cache_control: str) -> APIRouter:
    """``/api/jobs/{id}`` (any kind of job) and ``/api/jobs/{id}/download`` (jobs that made a file)."""
    router = APIRouter(tags=["Jobs"])

    @router.get("/api/jobs/{job_id}", summary="A job: state and progress",
                description="Its owner and error text are shown to its owner (the user who started it, or "
                            "for an anonymous bundle the same client address) and to admins only.")
    def job(jobs: JobsDep, job_id: JobIdParam, viewer: ViewerDep) -> JSONResponse:
        record = jobs.get(job_id)
        return JSONResponse(record.public(for_owner=record.shown_to(viewer)), headers=NO_STORE)

    @router.get("/api/jobs/{job_id}/download", summary="The file a finished job made",
                response_class=FileResponse, responses={
                    200: {"description": "The job's file (a bundle: MBTiles, PMTiles or zip).", "content": {
                        t: {} for t in ("application/vnd.sqlite3", "application/vnd.pmtiles", "application/zip",
                                        "application/octet-stream")}},
                    409: {"description": "The job is not done (queued, running or failed)."}})
    def job_download(jobs: JobsDep, job_id: JobIdParam, viewer: ViewerDep) -> FileResponse:
        record = jobs.get(job_id)
        if not record.has_file:
            raise UnknownId("job file", job_id)
        if record.state != "done":
            detail = (f": {record.error}" if record.error and record.shown_to(viewer)
                      else f" ({record.done}/{record.total})")
            raise ProjectStateError(f"job {job_id} is {record.state}{detail}")
        return FileResponse(jobs.file_path(record), media_type=record.media_type or "application/octet-stream",
                            filename=record.filename, headers={"Cache-Control": cache_control})

    return router
