"""Routes of map accuracy assessment: draw a sample, label it blind, read its report; and the
public figure of the layer version on screen (the viewer's layer information)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from mcae.platform.annotation import assess_service as svc
from mcae.platform.annotation.assess_schemas import (
    DesignIn,
    LabelIn,
    LabelSaved,
    LayerAssessmentOut,
    NextPointOut,
    PointOut,
    ReportOut,
    SampleList,
    SampleOut,
)
from mcae.platform.annotation.auth import Annotator, Reviewer, Viewer
from mcae.platform.annotation.deps import IfMatch, database
from mcae.platform.annotation.lookups import wanted_version
from mcae.platform.annotation.models import AssessmentSample
from mcae.tiles.catalog import ID_PATTERN
from mcae.tiles.schemas import JobOut

SampleId = Annotated[int, Path(ge=1, le=2**62, description="An assessment sample id.")]
Seq = Annotated[int, Path(ge=1, le=2**31 - 1, description="A point's number in its sample.")]
LabelId = Annotated[int, Path(ge=1, le=2**62, description="A label id.")]


def create_assess_router() -> APIRouter:
    router = APIRouter(prefix="/api/assessments", tags=["Assessment"])

    @router.get("", summary="Assessment samples, newest first")
    def samples(request: Request, user: Viewer,
                city: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                layer: Annotated[str | None, Query(pattern=ID_PATTERN)] = None) -> SampleList:
        with database(request).reader() as session:
            return SampleList(items=[SampleOut(**svc.sample_summary(session, s))
                                     for s in svc.samples_of(session, city, layer)])

    @router.post("", status_code=202, response_class=JSONResponse, response_model=JobOut,
                 summary="Draw a stratified random sample from a published layer, as a job (a full pass "
                         "over the map): its result names the sample",
                 responses={202: {"description": "The job (`/api/jobs/{id}`); when done, `result.sample`."},
                            404: {"description": "No such city, or no such layer in it."}})
    def draw(request: Request, user: Reviewer, body: DesignIn) -> JSONResponse:
        from mcae.platform.annotation.assess_design import draw as draw_sample
        from mcae.tiles.errors import NO_STORE

        state = request.app.state
        store = state.store
        version = store.layer_version(store.layer(body.city, body.layer))  # 404 now, not in the job

        def work(ctx: Any) -> dict[str, Any]:
            ctx.progress(0, 1, "counting the map's classes and drawing the points")
            with state.database.session() as session:
                sample, _ = draw_sample(session, store, body.city, body.layer, seed=body.seed, points=body.points,
                                        target_se=body.target_se, min_per_class=body.min_per_class,
                                        expected_ua=body.expected_ua, second_share=body.second_share,
                                        user_id=user.id)
                session.flush()
                return {"sample": sample.id, "points": sample.points_total, "map_version": sample.map_version}

        record, _ = state.jobs.submit("assessment-sample", {**body.model_dump(mode="json"), "version": version},
                                      1, work, owner=user.name)
        return JSONResponse(record.public(), status_code=202,
                            headers={"Location": f"/api/jobs/{record.id}", **NO_STORE})

    @router.get("/{sample}", summary="One sample")
    def sample(request: Request, user: Viewer, sample: SampleId) -> SampleOut:
        with database(request).reader() as session:
            return SampleOut(**svc.sample_summary(session, svc.sample_row(session, sample)))

    @router.post("/{sample}/next", summary="The next point for you to label (its map class is not sent)")
    def next_point(request: Request, user: Annotator, sample: SampleId) -> NextPointOut:
        with database(request).reader() as session:
            found = svc.next_point(session, sample, user.id)
            return NextPointOut(point=PointOut(**found) if found else None,
                                sample=SampleOut(**svc.sample_summary(session, svc.sample_row(session, sample))))

    @router.get("/{sample}/points/{seq}", summary="A point (its map class only once you labelled it)")
    def point(request: Request, user: Annotator, sample: SampleId, seq: Seq) -> PointOut:
        with database(request).reader() as session:
            return PointOut(**svc.point_view(session, svc.point_row(session, sample, seq), user.id))

    @router.post("/{sample}/points/{seq}/labels", status_code=201,
                 summary="Label a point: a class, or can't tell; names the point's version (409 if stale)")
    def label(request: Request, user: Annotator, sample: SampleId, seq: Seq, body: LabelIn,
              if_match: IfMatch = None) -> LabelSaved:
        version = wanted_version(body.version, if_match, "point")
        with database(request).session() as session:
            return LabelSaved(**svc.label_point(session, sample, seq, user.id, class_id=body.class_id,
                                                cant_tell=body.cant_tell, comment=body.comment, version=version,
                                                pass_no=body.pass_no))

    @router.post("/{sample}/labels/{label}/undo", summary="Undo a label (a new history entry)")
    def undo(request: Request, user: Annotator, sample: SampleId, label: LabelId) -> LabelSaved:
        with database(request).session() as session:
            return LabelSaved(**svc.undo_label(session, sample, label, user.id, user.has("reviewer")))

    @router.post("/{sample}/points/{seq}/used-for-training",
                 summary="Record that a point became a correction: the sample is no longer independent")
    def used(request: Request, user: Annotator, sample: SampleId, seq: Seq) -> SampleOut:
        with database(request).session() as session:
            row = svc.mark_used_for_training(session, sample, seq, user.id)
            return SampleOut(**svc.sample_summary(session, row))

    @router.get("/{sample}/report", summary="Error matrix, accuracies and class areas with 95 % intervals")
    def report(request: Request, user: Viewer, sample: SampleId) -> ReportOut:
        with database(request).reader() as session:
            return ReportOut(**svc.sample_report(session, sample))

    return router


def create_layer_assessment_router() -> APIRouter:
    """Public, like the catalog: the figure of the layer version published now."""
    router = APIRouter(tags=["Assessment"])

    @router.get("/api/cities/{city}/layers/{layer}/assessment",
                summary="The latest accuracy assessment of the layer version published now (or none)")
    def layer_assessment(request: Request, city: Annotated[str, Path(pattern=ID_PATTERN)],
                         layer: Annotated[str, Path(pattern=ID_PATTERN)]) -> LayerAssessmentOut:
        store = request.app.state.store
        version = store.layer_version(store.layer(city, layer))
        with database(request).reader() as session:
            found = svc.latest_for_version(session, city, layer, version)
            earlier = session.scalar(select(func.count()).select_from(AssessmentSample).where(
                AssessmentSample.city == city, AssessmentSample.layer == layer,
                AssessmentSample.map_version != version, AssessmentSample.labelled > 0)) or 0
            out = LayerAssessmentOut(city=city, layer=layer, version=version, earlier_versions=int(earlier))
            if found is None:
                return out
            rep = svc.sample_report(session, found.id)
        return LayerAssessmentOut(**{**out.model_dump(), "sample": found.id,
                                     "overall_accuracy": rep["overall_accuracy"], "n": rep["n"],
                                     "cant_tell": rep["cant_tell"], "assessed_at": rep["assessed_at"],
                                     "simulated": rep["simulated"], "independent": found.independent})

    return router
