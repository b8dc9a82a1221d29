"""Downloads API: tile bundles (MBTiles, PMTiles, zip) as background jobs, and clipped GeoTIFFs.

Bundles are jobs of kind ``"bundle"`` of the app's job registry (``app.state.jobs``); the
platform serves every job's state and file at ``/api/jobs/{id}`` and ``/api/jobs/{id}/download``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.background import BackgroundTask

from mcae.tiles.areas import resolve_area
from mcae.tiles.bundle_writers import MEDIA_TYPES
from mcae.tiles.bundles import (
    KIND,
    MAX_ZOOM,
    TMS_ID,
    BundleSpec,
    bundle_meta,
    bundle_work,
    check_cap,
    estimate,
    plan_tiles,
)
from mcae.tiles.catalog import CatalogStore, Layer
from mcae.tiles.class_files import package_clip
from mcae.tiles.clip import clip_layer
from mcae.tiles.dependencies import (
    ClientDep,
    IdParam,
    JobsDep,
    LayerRef,
    ReadersDep,
    SettingsDep,
    StoreDep,
    layer_ref_dependency,
)
from mcae.tiles.errors import NO_STORE
from mcae.tiles.geometry import parse_bbox
from mcae.tiles.ids import ID_PATTERN
from mcae.tiles.palettes import layer_legend
from mcae.tiles.schemas import JobOut
from mcae.tiles.schemas_analysis import BundleEstimateOut
from mcae.tiles.settings import TileSettings

Zoom = Annotated[int, Field(ge=0, le=MAX_ZOOM)]
LAYER = "/api/cities/{city}/layers/{layer}"
CLIP_CAP: dict[int | str, dict[str, Any]] = {
    200: {"description": "The clipped GeoTIFF, or with `package=zip` a zip of it with its class sidecars.",
          "content": {"image/tiff": {}, "application/zip": {}}},
    413: {"description": "The area covers more pixels than the server's cap (`max_image_pixels`)."}}


PackageParam = Annotated[Literal["tif", "zip"], Query(
    description="tif: the GeoTIFF alone; zip: the GeoTIFF with its .aux.xml (class names and an "
                "attribute table, read by GDAL) and a .qml style, so QGIS names the classes.")]

class BundleRequest(BaseModel):
    """A bundle of a layer's tiles for a bbox or a district, ``minzoom..maxzoom``."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["mbtiles", "pmtiles", "zip"] = "mbtiles"
    bbox: tuple[float, float, float, float] | None = Field(None, description="west, south, east, north (EPSG:4326)")
    district: str | None = Field(None, pattern=ID_PATTERN)
    minzoom: Zoom
    maxzoom: Zoom

    @model_validator(mode="after")
    def _consistent(self) -> BundleRequest:
        if self.minzoom > self.maxzoom:
            raise ValueError("minzoom must not exceed maxzoom")
        if (self.bbox is None) == (self.district is None):
            raise ValueError("give exactly one of bbox and district")
        return self  # the bbox itself is checked where every route checks one (400, same message)


RefDep = Annotated[LayerRef, Depends(layer_ref_dependency)]


def create_downloads_router(scratch: Path) -> APIRouter:
    """Bundle and clip routes; clipped GeoTIFFs are written to ``scratch`` (and deleted once sent)."""
    router = APIRouter(tags=["Downloads"])

    @router.get(LAYER + "/bundles/estimate", summary="Tile count and estimated size of a bundle (free)",
                responses={200: {"model": BundleEstimateOut}})
    def bundle_estimate(store: StoreDep, settings: SettingsDep, readers: ReadersDep, ref: RefDep,
                        minzoom: Annotated[int, Query(ge=0, le=MAX_ZOOM)],
                        maxzoom: Annotated[int, Query(ge=0, le=MAX_ZOOM)],
                        bbox: Annotated[str | None, Query(description="w,s,e,n in degrees.")] = None,
                        district: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                        fmt: Annotated[Literal["mbtiles", "pmtiles", "zip"], Query(alias="format")] = "mbtiles",
                        ) -> JSONResponse:
        geom, rectangular, _ = resolve_area(store, ref.city, ref.layer, bbox=parse_bbox(bbox) if bbox else None,
                                            district=district)
        plan = plan_tiles(geom, rectangular, minzoom, maxzoom)
        cap = settings.max_bundle_tiles
        body = {**estimate(ref.tile_path(TMS_ID), ref.layer, plan, fmt, source=ref.path, readers=readers), "cap": cap,
                "allowed": plan.count <= cap, "format": fmt, "minzoom": minzoom, "maxzoom": maxzoom}
        return JSONResponse(body, headers=NO_STORE)

    @router.post(LAYER + "/bundles", status_code=202, summary="Start (or find) a bundle job",
                 response_model=JobOut,
                 responses={200: {"description": "The same bundle was made already: its job, done.",
                                  "model": JobOut},
                            413: {"description": "More tiles than the server's cap (`max_bundle_tiles`)."},
                            429: {"description": "Too many bundle jobs queued or running, for this client "
                                                 "(`jobs.bundles_per_client`) or in all (`jobs.bundles_total`)."},
                            507: {"description": "The server's disk is full: no job was started."}})
    def bundle_start(store: StoreDep, settings: SettingsDep, jobs: JobsDep, readers: ReadersDep, ref: RefDep,
                     client: ClientDep,
                     body: BundleRequest) -> JSONResponse:
        found = ref.layer  # with its version and files, resolved together
        geom, rectangular, area = resolve_area(store, ref.city, found, bbox=body.bbox, district=body.district)
        plan = plan_tiles(geom, rectangular, body.minzoom, body.maxzoom)
        check_cap(plan, settings.max_bundle_tiles)
        spec = BundleSpec(city=ref.city, layer=found.id, layer_version=ref.version, format=body.format, area=area,
                          bbox=body.bbox, district=body.district, minzoom=body.minzoom,
                          maxzoom=body.maxzoom, tms=TMS_ID)
        path = ref.tile_path(TMS_ID)  # the serving copy, when fresh
        meta = bundle_meta(found, store.city(ref.city).name, geom, body.minzoom, body.maxzoom, ref.version,
                           _legend(found))
        record, _ = jobs.submit(KIND, spec, plan.count, bundle_work(path, found, plan, body.format, meta, ref.path,
                                                                readers),
                                suffix=f".{body.format}", filename=spec.filename(),
                                media_type=MEDIA_TYPES[body.format],
                                extra={"tiles_done": 0, "tiles_total": plan.count, "tiles_written": 0, "bytes": 0},
                                client=client)
        return JSONResponse(record.public(), status_code=200 if record.state == "done" else 202,
                            headers={"Location": f"/api/jobs/{record.id}", **NO_STORE})

    @router.get(LAYER + "/clip", summary="A GeoTIFF of the layer clipped to a bbox or a district",
                responses=CLIP_CAP)
    def clip(store: StoreDep, settings: SettingsDep, city: Annotated[str, IdParam],
             layer: Annotated[str, IdParam],
             bbox: Annotated[str | None, Query(description="w,s,e,n in degrees (EPSG:4326).")] = None,
             district: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
             package: PackageParam = "tif") -> FileResponse:
        return _clip(store, settings, scratch, city, layer, package, bbox=parse_bbox(bbox) if bbox else None,
                     district=district)

    @router.post(LAYER + "/clip", summary="A GeoTIFF of the layer clipped to a GeoJSON polygon",
                 responses=CLIP_CAP)
    def clip_polygon(store: StoreDep, settings: SettingsDep, city: Annotated[str, IdParam],
                     layer: Annotated[str, IdParam],
                     body: Annotated[dict[str, Any], Body(
                         description="A GeoJSON Polygon or MultiPolygon, or a Feature or "
                                     "FeatureCollection of them, in EPSG:4326.")],
                     package: PackageParam = "tif") -> FileResponse:
        return _clip(store, settings, scratch, city, layer, package, geometry=body)

    return router


def _legend(layer: Layer) -> list[dict[str, Any]] | None:
    return list(layer_legend(layer)["classes"]) if layer.categorical else None


def _clip(store: CatalogStore, settings: TileSettings, scratch: Path, city: str, layer_id: str,
          package: str, **area: Any) -> FileResponse:
    layer = store.layer(city, layer_id)
    geom, rectangular, _ = resolve_area(store, city, layer, **area)
    tags = {"MCAE_CITY": city, "MCAE_LAYER": layer.id, "MCAE_LAYER_VERSION": store.layer_version(layer),
            "MCAE_PROVENANCE": layer.provenance,
            "MCAE_CLIP_AREA": area.get("district") or ("bbox" if rectangular else "polygon")}
    out = clip_layer(str(store.layer_path(layer)), layer, geom, polygon=not rectangular,
                     cap=settings.max_image_pixels, scratch=scratch, tags=tags, sources=store.sources)
    name = f"{city}-{layer_id}-clip"
    if package == "zip":
        try:
            bundle = package_clip(out, layer, name)
        finally:
            out.unlink(missing_ok=True)
        return FileResponse(bundle, media_type="application/zip", filename=f"{name}.zip",
                            headers=NO_STORE, background=BackgroundTask(bundle.unlink, missing_ok=True))
    return FileResponse(out, media_type="image/tiff", filename=f"{name}.tif",
                        headers=NO_STORE, background=BackgroundTask(out.unlink, missing_ok=True))
