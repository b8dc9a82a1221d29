"""Analysis API: class statistics of an area, and the MCAE / SinoLC-1 comparison report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import FileResponse, JSONResponse, Response
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from mcae.inference.errors import InputError
from mcae.tiles.compare_report import read_report, table_name
from mcae.tiles.csv_safe import safe_csv_file
from mcae.tiles.dependencies import IdParam, SettingsDep, StoreDep
from mcae.tiles.geometry import parse_bbox, parse_geojson
from mcae.tiles.ids import ID_PATTERN
from mcae.tiles.schemas_analysis import CompareReportOut, StatisticsOut
from mcae.tiles.settings import TileSettings
from mcae.tiles.statistics import class_statistics, statistics_csv, statistics_document

FormatParam = Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv.")]
STATISTICS = "/api/cities/{city}/layers/{layer}/statistics"
STATISTICS_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Class areas: JSON, or CSV with `format=csv`.", "model": StatisticsOut,
          "content": {"text/csv": {}}},
    413: {"description": "The area covers more pixels than the server's cap (`max_image_pixels`)."}}


def create_analysis_router() -> APIRouter:
    router = APIRouter(tags=["Analysis"])

    @router.get(STATISTICS, summary="Class areas (m², %) in a bbox, a district or the whole layer",
                responses=STATISTICS_ANSWERS)
    def statistics(store: StoreDep, settings: SettingsDep, city: Annotated[str, IdParam],
                   layer: Annotated[str, IdParam],
                   bbox: Annotated[str | None, Query(description="w,s,e,n in degrees (EPSG:4326).")] = None,
                   district: Annotated[str | None, Query(pattern=ID_PATTERN, description="A district id.")] = None,
                   fmt: FormatParam = "json") -> Response:
        if bbox is not None and district is not None:
            raise InputError("give bbox or district, not both")
        geometry: BaseGeometry | None = None
        area: dict[str, Any] = {"type": "layer"}
        if bbox is not None:
            geometry = box(*parse_bbox(bbox))
            area = {"type": "bbox", "bbox": list(geometry.bounds)}
        elif district is not None:
            found = store.district(city, district)
            geometry = shape(found.geometry)
            area = {"type": "district", "id": found.id, "name": found.name, "bbox": list(geometry.bounds)}
        return _answer(store, settings, city, layer, geometry, area, fmt)

    @router.post(STATISTICS, summary="Class areas (m², %) inside a GeoJSON polygon (EPSG:4326)",
                 responses=STATISTICS_ANSWERS)
    def statistics_polygon(store: StoreDep, settings: SettingsDep, city: Annotated[str, IdParam],
                           layer: Annotated[str, IdParam],
                           body: Annotated[dict[str, Any], Body(
                               description="A GeoJSON Polygon or MultiPolygon, or a Feature or "
                                           "FeatureCollection of them, in EPSG:4326.")],
                           fmt: FormatParam = "json") -> Response:
        geometry = parse_geojson(body)
        area = {"type": "polygon", "bbox": list(geometry.bounds)}
        return _answer(store, settings, city, layer, geometry, area, fmt)

    @router.get("/api/cities/{city}/compare", summary="MCAE vs SinoLC-1 agreement report (JSON or CSV)",
                responses={200: {"description": "The report: JSON, or one table as CSV with `format=csv`.",
                                 "model": CompareReportOut, "content": {"text/csv": {}}}})
    def compare(store: StoreDep, city: Annotated[str, IdParam], fmt: FormatParam = "json",
                table: Annotated[str, Query(description="CSV table: summary, per_class, contingency "
                                                        "or harmonised.")] = "summary") -> Response:
        if fmt == "csv":
            name = table_name(table)
            return Response(safe_csv_file(read_report(store, city, name)), media_type="text/csv", headers={
                "Content-Disposition": f'attachment; filename="{city}_compare_{name}"'})
        return FileResponse(read_report(store, city), media_type="application/json")

    @router.get("/api/cities/{city}/compare.png", summary="The harmonised agreement matrix as a PNG plot",
                response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def compare_png(store: StoreDep, city: Annotated[str, IdParam]) -> Response:
        return FileResponse(read_report(store, city, "compare.png"), media_type="image/png")

    return router


def _answer(store: StoreDep, settings: TileSettings, city: str, layer_id: str,
            geometry: BaseGeometry | None, area: dict[str, Any], fmt: str) -> Response:
    layer = store.layer(city, layer_id)
    if not layer.categorical:
        raise InputError(f"layer {layer.id!r} is {layer.kind.value}, not a categorical map")
    stats = class_statistics(store.layer_path(layer), geometry, max_pixels=settings.max_image_pixels,
                             sources=store.sources)
    document = statistics_document(stats, layer, city=city, area=area)
    if fmt == "csv":
        return Response(statistics_csv(document), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{city}_{layer.id}_statistics.csv"'})
    return JSONResponse(document)
