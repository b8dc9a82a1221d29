"""Review, Dump and Load and the loop back to the map: review verdicts, agreement, the dashboard,
Dump and Load, project settings, and retrain-and-rebuild as a background job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from mcae.platform.annotation import dump_load, rebuild, review, review_schemas, schemas, service
from mcae.platform.annotation.auth import Admin, Annotator, Reviewer, Viewer
from mcae.platform.annotation.deps import DecisionId, IfMatch, ProjectId, database, forget_images
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.views import project_out
from mcae.platform.errors import NO_STORE, Forbidden
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
    def agreement(request: Request, user: Reviewer, project: ProjectId) -> review_schemas.AgreementOut:
        with database(request).reader() as session:
            return review.agreement(session, project_row(session, project))

    @router.get("/dashboard", summary="Progress, actions, speed, annotators, accuracy after each retraining")
    def dashboard(request: Request, user: Viewer, project: ProjectId) -> review_schemas.DashboardOut:
        with database(request).reader() as session:
            return review.dashboard(session, project_row(session, project))

    @router.patch("", summary="Edit a project: name, fine classes, double share, layer, publish policy (admin)")
    def edit(request: Request, user: Admin, project: ProjectId, body: schemas.ProjectPatch,
             if_match: IfMatch = None) -> schemas.ProjectOut:
        with database(request).session() as session:
            found = service.edit_project(session, project, user, body, if_match)
            if body.city is not None or body.layer is not None:
                rebuild.check_target(session, request.app.state.store, found)  # 400: nothing saved
            return project_out(found)

    @router.get("/decisions.jsonl", summary="Dump: the decisions in force, as the engine's JSONL",
                response_class=Response, responses={200: {"content": {"application/x-ndjson": {}}}})
    def dump(request: Request, user: Annotator, project: ProjectId) -> Response:
        with database(request).reader() as session:
            text = dump_load.dump(session, project)
        return Response(text, media_type="application/x-ndjson", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{project}-decisions.jsonl"'})

    @router.post("/decisions.jsonl", summary="Load: the engine's JSONL, validated line by line, all or nothing",
                 description="Every line is recorded as the caller's, at the server's time (source `load`). "
                             "`mode=restore` (admins) keeps the file's authors and times and records who "
                             "restored them. Caps: `load.max_bytes`, `load.max_lines`, `load.max_line_bytes`.",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     "application/x-ndjson": {"schema": {"type": "string"}}}}})
    async def load(request: Request, user: Annotator, project: ProjectId,
                   mode: Annotated[Literal["load", "restore"], Query()] = "load") -> schemas.LoadSummary:
        limits = request.app.state.settings.load
        if mode == "restore" and not user.has("admin"):
            raise Forbidden("only an admin may restore a file's authors and times (mode=restore)")
        spooled = await _spool_capped(request, limits.max_bytes)

        def work() -> schemas.LoadSummary:
            with spooled:
                return dump_load.load(database(request), project, user, spooled, limits, restore=mode == "restore")

        from fastapi.concurrency import run_in_threadpool

        return await run_in_threadpool(work)

    @router.get("/rebuild/preview", summary="What a rebuild would change: masks and area")
    def rebuild_preview(request: Request, user: Annotator, project: ProjectId) -> review_schemas.RebuildPreview:
        with database(request).reader() as session:
            return rebuild.preview(session, project)

    @router.post("/rebuild", status_code=202, response_model=JobOut,
                 summary="Retrain and republish the map (reviewers); an annotator's is an unpublished preview",
                 description="One rebuild (or preview) per project at a time: 409 naming the running job. A "
                             "publishing rebuild takes the decisions the project's publish policy lets through and "
                             "publishes the next version of the project's own MCAE layer; a preview is the job's "
                             "own file (download it from the job), never the catalog's layer.",
                 responses={409: {"description": "A rebuild of this project is queued or running already."}})
    def start_rebuild(request: Request, user: Annotator, project: ProjectId,
                      publish: Annotated[bool | None, Query(
                          description="true: publish (reviewers and admins); false: a preview, not published; "
                                      "default: publish if the caller may, else a preview")] = None
                      ) -> JSONResponse:
        if publish is None:
            publish = user.has("reviewer")
        if publish and not user.has("reviewer"):
            raise Forbidden("publishing the map needs the reviewer role; an annotator may build a preview "
                            "(publish=false)")
        state = request.app.state
        with database(request).reader() as session:
            found = project_row(session, project)
            if publish:
                rebuild.check_target(session, state.store, found)
            mark = rebuild.watermark(session, project)

        def work(ctx: Any) -> dict[str, Any]:
            if not publish:
                return rebuild.run_rebuild(state.database, state.store, project, user.id, ctx.progress,
                                           publish=False, out=ctx.out_path)
            result = rebuild.run_rebuild(state.database, state.store, project, user.id, ctx.progress,
                                         user_name=user.name)
            forget_images(state, project)
            return result

        def submit() -> tuple[Any, bool]:
            if publish:
                return state.jobs.submit("rebuild", {"project": project, "state": mark}, rebuild.STEPS, work,
                                         owner=user.name)
            return state.jobs.submit("rebuild-preview", {"project": project, "state": mark, "by": user.name}, 2,
                                     work, owner=user.name, suffix=".tif", filename=f"{project}-preview.tif",
                                     media_type="image/tiff")

        record = rebuild.submit_one(state.jobs, project, submit)
        return JSONResponse(record.public(), status_code=202,
                            headers={"Location": f"/api/jobs/{record.id}", **NO_STORE})

    return router


async def _spool_capped(request: Request, cap: int) -> Any:
    """The body in a temporary file (in memory up to 8 MiB), 413 past ``cap`` bytes: never whole in memory."""
    import tempfile

    from mcae.tiles.errors import CapExceeded

    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (closed by the caller)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise CapExceeded(size, cap, what="decisions file", unit="bytes or more", setting="load.max_bytes",
                                  advice="split it into several loads")
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    return spooled
