"""Writes of the expert tools (annotators and up): group decisions, refinement, corrections,
"fully checked" flags, undo, leases. Each is one transaction, acknowledged after its commit;
a write made on a stale version gets 409 with the current state and changes nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from mcae.platform.annotation import leases, refine_writes, schemas, service
from mcae.platform.annotation.auth import Annotator
from mcae.platform.annotation.deps import DecisionId, GroupKey, HoodId, IfMatch, PatchId, ProjectId, database


def create_write_router() -> APIRouter:
    router = APIRouter(prefix="/api/projects/{project}", tags=["Annotation: label"])

    @router.post("/neighbourhoods/{hood}/groups/{group}/decisions", status_code=201,
                 summary="Label a set of a group's masks (default: all) with one class: one decision")
    def decide(request: Request, user: Annotator, project: ProjectId, hood: HoodId, group: GroupKey,
               body: schemas.GroupDecisionIn, if_match: IfMatch = None) -> schemas.SaveOut:
        with database(request).session() as session:
            return service.decide_group(session, project, user, hood, group, body, if_match)

    @router.post("/neighbourhoods/{hood}/groups/{group}/refine",
                 summary="Send a group's remaining (or the given) masks to refinement")
    def refine(request: Request, user: Annotator, project: ProjectId, hood: HoodId, group: GroupKey,
               body: schemas.RefineIn, if_match: IfMatch = None) -> schemas.SaveOut:
        with database(request).session() as session:
            return refine_writes.refine_group(session, project, user, hood, group, body, if_match)

    @router.post("/patches/{patch}/corrections", status_code=201,
                 summary="Refinement: correct single masks of a patch, all rows in one transaction")
    def correct(request: Request, user: Annotator, project: ProjectId, patch: PatchId, body: schemas.CorrectionsIn,
                if_match: IfMatch = None) -> schemas.SaveOut:
        with database(request).session() as session:
            return refine_writes.correct_patch(session, project, user, patch, body, if_match)

    @router.put("/patches/{patch}/checked", summary="Mark a patch fully checked (dense), or not")
    def checked(request: Request, user: Annotator, project: ProjectId, patch: PatchId, body: schemas.CheckedIn,
                if_match: IfMatch = None) -> schemas.PatchOut:
        with database(request).session() as session:
            return refine_writes.set_checked(session, project, user, patch, body, if_match)

    @router.post("/decisions/{decision}/undo", summary="Undo a decision as a whole (a new history entry)",
                 responses={409: {"description": "The decision was undone already."}})
    def undo(request: Request, user: Annotator, project: ProjectId, decision: DecisionId) -> schemas.SaveOut:
        with database(request).session() as session:
            return service.undo(session, project, user, decision)

    @router.post("/refinements/{refinement}/undo", summary="Take a send to refinement back (its masks still "
                 "waiting return to their group)", responses={409: {"description": "Taken back already."}})
    def undo_refinement(request: Request, user: Annotator, project: ProjectId,
                        refinement: Annotated[int, Path(ge=1, le=2**62, description="SaveOut.refinement")],
                        ) -> schemas.SaveOut:
        with database(request).session() as session:
            return refine_writes.undo_refinement(session, project, user, refinement)

    @router.post("/next-group", summary="The next group to label, leased to you for a short while")
    def next_group(request: Request, user: Annotator, project: ProjectId,
                   neighbourhood: Annotated[str | None, Query(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$")] = None
                   ) -> schemas.NextGroupOut:
        seconds = request.app.state.settings.auth.lease_seconds
        with database(request).session() as session:
            return leases.next_group(session, project, user, seconds, neighbourhood)

    @router.delete("/lease", summary="Give back the group you hold")
    def release(request: Request, user: Annotator, project: ProjectId) -> dict[str, int]:
        with database(request).session() as session:
            return {"released": leases.release(session, project, user)}

    @router.get("/queue", summary="Your decisions a reviewer rejected, to label again")
    def queue(request: Request, user: Annotator, project: ProjectId) -> schemas.DecisionPage:
        from mcae.platform.annotation import queries
        from mcae.platform.annotation.lookups import project_row

        with database(request).reader() as session:
            return queries.decisions(session, project_row(session, project), author=user.name, class_id=None,
                                     since=None, until=None, state="active", review="rejected", target=None,
                                     group=None, exclude_author=None, second_pass=None, page=1, per_page=500)

    return router
