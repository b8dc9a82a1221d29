"""Review, transfer and the loop back to the map: review verdicts, agreement, the dashboard,
Dump and Load, project settings, and retrain-and-rebuild as a background job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from mcae.inference.errors import InputError
from mcae.platform.annotation import queries, rebuild, review, schemas, service, transfer
from mcae.platform.annotation.auth import Admin, Annotator, Reviewer, Viewer
from mcae.platform.annotation.deps import DecisionId, IfMatch, ProjectId, database, forget_images
from mcae.platform.annotation.lookups import project_row
from mcae.platform.errors import NO_STORE
from mcae.tiles.schemas import JobOut


def create_manage_router() -> APIRouter:
    router = APIRouter(prefix="/api/projects/{project}", tags=["Annotation: review and rebuild"])

    @router.post("/decisions/{decision}/review", summary="Accept or reject a decision, with a comment",
                 responses={409: {"description": "The decision was undone: there is nothing to review."}})
    def review_decision(request: Request, user: Reviewer, project: ProjectId, decision: DecisionId,
                        body: schemas.ReviewIn) -> schemas.DecisionOut:
        with database(request).session() as session:
            return service.review(session, project, user, decision, body)

    @router.get("/agreement", summary="Agreement of the double-labelled groups (Cohen's kappa), disagreements")
    def agreement(request: Request, user: Reviewer, project: ProjectId) -> schemas.AgreementOut:
        with database(request).reader() as session:
            return review.agreement(session, project_row(session, project))

    @router.get("/dashboard", summary="Progress, actions, speed, annotators, accuracy after each retraining")
    def dashboard(request: Request, user: Viewer, project: ProjectId) -> schemas.DashboardOut:
        with database(request).reader() as session:
            return review.dashboard(session, project_row(session, project))

    @router.patch("", summary="Edit a project: name, fine classes, the share labelled twice (admin)")
    def edit(request: Request, user: Admin, project: ProjectId, body: schemas.ProjectPatch,
             if_match: IfMatch = None) -> schemas.ProjectOut:
        with database(request).session() as session:
            found = service.edit_project(session, project, user, body, if_match)
            return queries.project_view(session, found)

    @router.get("/decisions.jsonl", summary="Dump: the decisions in force, as the engine's JSONL",
                response_class=Response, responses={200: {"content": {"application/x-ndjson": {}}}})
    def dump(request: Request, user: Annotator, project: ProjectId) -> Response:
        with database(request).reader() as session:
            text = transfer.dump(session, project)
        return Response(text, media_type="application/x-ndjson", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{project}-decisions.jsonl"'})

    @router.post("/decisions.jsonl", summary="Load: the engine's JSONL, validated, all or nothing",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     "application/x-ndjson": {"schema": {"type": "string"}}}}})
    async def load(request: Request, user: Annotator, project: ProjectId) -> schemas.LoadSummary:
        body = await _read_capped(request, transfer.MAX_LOAD_BYTES)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("a decisions file is UTF-8 text (JSON Lines)") from None

        def work() -> schemas.LoadSummary:
            with database(request).session() as session:
                return transfer.load(session, project, user, text)

        from fastapi.concurrency import run_in_threadpool

        return await run_in_threadpool(work)

    @router.get("/rebuild/preview", summary="What a rebuild would change: masks and area")
    def rebuild_preview(request: Request, user: Annotator, project: ProjectId) -> schemas.RebuildPreview:
        with database(request).reader() as session:
            return rebuild.preview(session, project)

    @router.post("/rebuild", status_code=202, response_model=JobOut,
                 summary="Retrain on every decision, rebuild and republish the map")
    def start_rebuild(request: Request, user: Annotator, project: ProjectId) -> JSONResponse:
        state = request.app.state
        with database(request).reader() as session:
            project_row(session, project)
            mark = rebuild.watermark(session, project)

        def work(ctx: Any) -> dict[str, Any]:
            result = rebuild.run_rebuild(state.database, state.store, project, user.id, ctx.progress)
            forget_images(state, project)
            return result

        record, _ = state.jobs.submit("rebuild", {"project": project, "state": mark}, rebuild.STEPS, work,
                                      owner=user.name)
        return JSONResponse(record.public(), status_code=202,
                            headers={"Location": f"/api/jobs/{record.id}", **NO_STORE})

    return router


async def _read_capped(request: Request, cap: int) -> bytes:
    from mcae.tiles.errors import TooLarge

    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge(f"the body is over {cap // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)
