"""Reads for the expert tools (any signed-in user): projects, neighbourhoods, groups, masks,
patches, decisions, history, and the images the tools show, by id, with ETags."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from mcae.platform.annotation import queries, schemas
from mcae.platform.annotation.auth import Viewer
from mcae.platform.annotation.deps import (
    DecisionId,
    GroupKey,
    HoodId,
    MaskId,
    NotFound,
    PageQ,
    PatchId,
    PerPageQ,
    ProjectId,
    database,
    images_for,
)
from mcae.platform.annotation.geo import patch_bounds
from mcae.platform.annotation.lookups import decision_row, group_row, mask_row, patch_row, project_row
from mcae.platform.annotation.models import Mask
from mcae.platform.annotation.thumbnails import PatchImages, mask_at, mask_thumbnail, patch_classification, patch_image
from mcae.platform.annotation.views import project_out
from mcae.tiles.http_cache import etag_matches

IMAGE_CACHE = "private, max-age=0, must-revalidate"
ClassQ = Annotated[int | None, Query(ge=0, le=9, description="A class id (0 = Unknown).")]
SizeQ = Annotated[int | None, Query(ge=32, le=2048, description="Longer side in pixels.")]
BeforeQ = Annotated[int | None, Query(ge=1, le=2**62, description=(
    "Keyset paging: only items with a smaller id (a page's `next_before`); `page` then counts from there."))]
SearchQ = Annotated[str | None, Query(max_length=64, description="Only names containing this (any case).")]


def _image(request: Request, etag: str, render: Callable[[], bytes]) -> Response:
    headers = {"ETag": etag, "Cache-Control": IMAGE_CACHE}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    cache = request.app.state.image_cache
    found, body = cache.get(etag)
    if not found:
        try:
            body = render()
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        cache.put(etag, body)
    return Response(body, media_type="image/png", headers=headers)


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()[:20] + '"'


def create_browse_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["Annotation: browse"])

    @router.get("/me", summary="Who the token belongs to")
    def me(user: Viewer) -> schemas.UserOut:
        return schemas.UserOut(id=user.id, name=user.name, role=user.role)

    @router.get("/projects", summary="Every annotation project")
    def list_projects(request: Request, user: Viewer) -> list[schemas.ProjectOut]:
        with database(request).reader() as session:
            return queries.projects(session)

    @router.get("/projects/{project}", summary="One project: classes, fine classes, progress")
    def get_project(request: Request, user: Viewer, project: ProjectId) -> schemas.ProjectOut:
        with database(request).reader() as session:
            return project_out(project_row(session, project))

    @router.get("/projects/{project}/neighbourhoods", summary="Neighbourhoods, paged, with their progress")
    def neighbourhoods(request: Request, user: Viewer, project: ProjectId, page: PageQ = 1,
                       per_page: PerPageQ = 50, q: SearchQ = None) -> schemas.NeighbourhoodPage:
        with database(request).reader() as session:
            return queries.neighbourhoods(session, project_row(session, project), page, per_page, q)

    @router.get("/projects/{project}/neighbourhoods/{hood}/groups",
                summary="The groups x-y of a neighbourhood with the engine's summary line")
    def groups(request: Request, user: Viewer, project: ProjectId, hood: HoodId,
               sort: Annotated[queries.GroupSort, Query(description=(
                   "cluster order; largest area / map gain / open area / size first; most doubtful first "
                   "(`doubt`); or by predicted class, then largest first (`class`)"))] = "cluster",
               min_area_ha: Annotated[float | None, Query(ge=0, le=1e7, description="only groups of at least "
                                                                                    "this area (ha)")] = None,
               q: Annotated[str | None, Query(max_length=64, description=(
                   "only groups whose key (x-y) or predicted class name contains this (any case)"))] = None,
               class_id: Annotated[ClassQ, Query(alias="class", description=(
                   "only groups of this predicted class id"))] = None,
               ) -> list[schemas.GroupOut]:
        with database(request).reader() as session:
            return queries.groups_of(session, project_row(session, project), hood, sort, min_area_ha, q=q,
                                     class_id=class_id)

    @router.get("/projects/{project}/neighbourhoods/{hood}/groups/{group}", summary="One group (ETag: its version)")
    def group(request: Request, user: Viewer, project: ProjectId, hood: HoodId, group: GroupKey,
              response: Response) -> schemas.GroupOut:
        with database(request).reader() as session:
            found = queries.read_group(session, project_row(session, project), group_row(session, project, hood, group))
        response.headers["ETag"] = f'"{found.version}"'
        return found

    @router.get("/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks",
                summary="The masks of a group, doubtful first by default")
    def group_masks(request: Request, user: Viewer, project: ProjectId, hood: HoodId, group: GroupKey,
                    sort: queries.SortKey = "confidence", state: Literal["all", "open", "decided", "refine"] = "all",
                    page: PageQ = 1, per_page: PerPageQ = 48) -> schemas.MaskPage:
        with database(request).reader() as session:
            found = project_row(session, project)
            return queries.masks_of_group(session, found, group_row(session, project, hood, group), sort, page,
                                          per_page, state)

    @router.get("/projects/{project}/neighbourhoods/{hood}/groups/{group}/decisions",
                summary="The decisions taken on a group, newest first")
    def group_decisions(request: Request, user: Viewer, project: ProjectId, hood: HoodId, group: GroupKey,
                        page: PageQ = 1, per_page: PerPageQ = 50, before: BeforeQ = None) -> schemas.DecisionPage:
        with database(request).reader() as session:
            found = project_row(session, project)
            group_row(session, project, hood, group)
            return queries.decisions(session, found, author=None, class_id=None, since=None, until=None,
                                     state=None, review=None, target="group", group=(hood, group),
                                     exclude_author=None, second_pass=None, page=page, per_page=per_page,
                                     before=before)

    @router.get("/projects/{project}/patches", summary="Patches, paged, with masks decided and checked flags")
    def patches(request: Request, user: Viewer, project: ProjectId, page: PageQ = 1, per_page: PerPageQ = 50,
                state: Literal["all", "refine", "unchecked", "checked"] = "all",
                q: SearchQ = None) -> schemas.PatchPage:
        with database(request).reader() as session:
            return queries.patches(session, project_row(session, project), page, per_page, state, q)

    @router.get("/projects/{project}/patches/{patch}", summary="A patch with every mask, for refinement")
    def patch(request: Request, user: Viewer, project: ProjectId, patch: PatchId,
              response: Response) -> schemas.PatchDetail:
        with database(request).reader() as session:
            found = project_row(session, project)
            row = patch_row(session, project, patch)
            detail = queries.patch_detail(session, found, row, patch_bounds(found, patch))
        response.headers["ETag"] = f'"{detail.version}"'
        return detail

    @router.get("/projects/{project}/patches/{patch}/mask-at", summary="The mask under a pixel of a patch")
    def patch_mask_at(request: Request, user: Viewer, project: ProjectId, patch: PatchId,
                      x: Annotated[int, Query(ge=0, le=100_000, description="Column in patch pixels.")],
                      y: Annotated[int, Query(ge=0, le=100_000, description="Row in patch pixels.")]
                      ) -> schemas.MaskAt:
        images = images_for(request, project)
        with database(request).reader() as session:
            patch_row(session, project, patch)
            try:
                found = mask_at(images, patch, x, y)
            except (LookupError, ValueError) as exc:
                raise NotFound(str(exc)) from None
            if found == 0:
                return schemas.MaskAt(found="ground")
            try:
                row = mask_row(session, project, patch, found)
            except LookupError:  # a mask of the patch's margin, labelled in its neighbour's core
                return schemas.MaskAt(found="neighbour")
            return schemas.MaskAt(found="mask", mask=queries.read_mask(session, project_row(session, project), row))

    @router.get("/projects/{project}/patches/{patch}/masks/{mask}", summary="One mask and the decision behind it")
    def mask(request: Request, user: Viewer, project: ProjectId, patch: PatchId, mask: MaskId) -> schemas.MaskOut:
        with database(request).reader() as session:
            return queries.read_mask(session, project_row(session, project), mask_row(session, project, patch, mask))

    @router.get("/projects/{project}/patches/{patch}/masks/{mask}/thumbnail.png",
                summary="The mask in context: outlined, boxed, on the patch imagery", response_class=Response,
                responses={200: {"content": {"image/png": {}}}, 304: {"description": "Not modified."}})
    async def thumbnail(request: Request, user: Viewer, project: ProjectId, patch: PatchId, mask: MaskId,
                        size: Annotated[int, Query(ge=32, le=512, description="Pixels.")] = 192,
                        large: Annotated[bool, Query(description="the enlarged view: the mask and its surroundings "
                                                                 "at the imagery's pixels (to 1024 px)")] = False,
                        ) -> Response:
        images = images_for(request, project)
        wanted, context = (None, 4.0) if large else (size, 2.0)

        def work() -> Response:
            etag = _etag("thumb", project, patch, mask, wanted, context, _version(images, patch))
            return _image(request, etag, lambda: mask_thumbnail(images, patch, mask, size=wanted, context=context))

        return await run_in_threadpool(work)

    @router.get("/projects/{project}/patches/{patch}/image.png", summary="The patch imagery",
                response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def image(request: Request, user: Viewer, project: ProjectId, patch: PatchId,
                    size: SizeQ = None) -> Response:
        images = images_for(request, project)

        def work() -> Response:
            etag = _etag("image", project, patch, size, _version(images, patch))
            return _image(request, etag, lambda: patch_image(images, patch, size=size))

        return await run_in_threadpool(work)

    @router.get("/projects/{project}/patches/{patch}/classification.png",
                summary="The patch's current classification (MCAE palette, undecided black)",
                response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def classification(request: Request, user: Viewer, project: ProjectId, patch: PatchId,
                             size: SizeQ = None,
                             highlight: Annotated[list[schemas.MaskNumber] | None, Query(max_length=200, description=(
                                 "Mask ids to outline."))] = None,
                             show: Annotated[Literal["decided", "map"], Query(description=(
                                 "decided: only the experts' classes; map: predictions where undecided."))] = "decided",
                             ) -> Response:
        images = images_for(request, project)

        def work() -> Response:
            from sqlalchemy import select

            with database(request).reader() as session:
                patch_row(session, project, patch)
                rows = session.execute(select(Mask.mask_id, Mask.class_id, Mask.pred_class).where(
                    Mask.project_id == project, Mask.patch == patch, Mask.present.is_(True))).all()
            classes = {m: (c or (p if show == "map" else 0)) for m, c, p in rows}
            state = hashlib.sha1(repr(sorted(classes.items())).encode()).hexdigest()
            etag = _etag("classes", project, patch, size, sorted(highlight or []), state, _version(images, patch))
            return _image(request, etag, lambda: patch_classification(images, patch, classes, highlight=highlight,
                                                                      size=size))

        return await run_in_threadpool(work)

    @router.get("/projects/{project}/decisions", summary="Decisions, filtered by author, class, time, state")
    def decisions(request: Request, user: Viewer, project: ProjectId,
                  author: Annotated[str | None, Query(max_length=64)] = None,
                  exclude_author: Annotated[str | None, Query(max_length=64, description="e.g. yourself")] = None,
                  class_id: Annotated[ClassQ, Query(alias="class")] = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None,
                  state: Literal["active", "undone"] | None = None,
                  review: Literal["pending", "accepted", "rejected"] | None = None,
                  target: Literal["group", "mask"] | None = None, second_pass: bool | None = None,
                  page: PageQ = 1, per_page: PerPageQ = 50, before: BeforeQ = None) -> schemas.DecisionPage:
        with database(request).reader() as session:
            return queries.decisions(session, project_row(session, project), author=author, class_id=class_id,
                                     since=since, until=until, state=state, review=review, target=target,
                                     group=None, exclude_author=exclude_author, second_pass=second_pass,
                                     page=page, per_page=per_page, before=before)

    @router.get("/projects/{project}/decisions/{decision}", summary="One decision with the exact masks it labelled")
    def decision(request: Request, user: Viewer, project: ProjectId, decision: DecisionId) -> schemas.DecisionDetail:
        with database(request).reader() as session:
            project_row(session, project)
            return queries.decision_detail(session, decision_row(session, project, decision))

    @router.get("/projects/{project}/history", summary="Every change, newest first (append-only)")
    def history(request: Request, user: Viewer, project: ProjectId,
                entity: Literal["project", "group", "mask", "patch", "decision"] | None = None,
                entity_id: Annotated[str | None, Query(max_length=128)] = None,
                by: Annotated[str | None, Query(max_length=64, description="A user name.")] = None,
                page: PageQ = 1, per_page: PerPageQ = 50, before: BeforeQ = None) -> schemas.HistoryPage:
        with database(request).reader() as session:
            return queries.history(session, project_row(session, project), entity=entity, entity_id=entity_id,
                                   user=by, page=page, per_page=per_page, before=before)

    return router


def _version(images: PatchImages, patch: str) -> str:
    try:
        return images.version(patch)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
