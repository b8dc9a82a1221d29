"""Tile routes: titiler.core factories bound to the catalog.

``CatalogTilerFactory`` is a ``TilerFactory`` whose path dependency maps
``/cities/{city}/layers/{layer}`` to the layer's file through the catalog (ids only, 404
before GDAL opens anything), with no band math, no algorithms, no custom colormaps and
no preview, bbox, feature or statistics routes. Its tile route renders with
``render.render_tile`` (nearest + paletted PNG / lossless WebP for class maps, never
JPEG), answers 204 inside the tile matrix where there is no data and 404 outside it,
and carries an ETag (layer version + render parameters) and ``If-None-Match`` -> 304.
A tile URL may name the layer version (``?v=``, as TileJSON, WMTS and the OGC tilesets
write it): the current version is served ``immutable``, an old one is a 410 naming the
current version, and a URL without one is served ``no-cache`` (revalidated by ETag).
``TMSFactory`` and a ``ColorMapFactory`` with the class schemes registered as named
colormaps complete the set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import morecantile
from attrs import define, field
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from morecantile import TileMatrixSet
from morecantile.defaults import TileMatrixSets
from rio_tiler.colormap import cmap as default_cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.utils import CRS_to_uri
from starlette.responses import JSONResponse, Response
from titiler.core.dependencies import DefaultDependency
from titiler.core.factory import ColorMapFactory, TilerFactory, TMSFactory
from titiler.core.models.mapbox import TileJSON

from mcae.tiles.catalog import City
from mcae.tiles.dependencies import (
    LayerRef,
    ReadersDep,
    StoreDep,
    WmtsKvp,
    city_dependency,
    layer_path_dependency,
    layer_ref_dependency,
)
from mcae.tiles.errors import NO_STORE
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.geometry import native_maxzoom
from mcae.tiles.http_cache import ByteCache, etag_matches, revalidated
from mcae.tiles.ogc_models import LayerTileSet, LayerTileSetList
from mcae.tiles.palettes import named_colormaps
from mcae.tiles.readers import FileChanged, ReaderPool
from mcae.tiles.render import MEDIA_TYPES, TileFormat, get_tms, render_tile, tile_etag
from mcae.tiles.settings import TileSettings
from mcae.tiles.wmts import WMTSLayer, capabilities, matrix_limits

TMS_IDS = ("WebMercatorQuad", "WorldCRS84Quad")
SUPPORTED_TMS = TileMatrixSets({tms_id: morecantile.tms.get(tms_id) for tms_id in TMS_IDS})
LAYER_PREFIX = "/cities/{city}/layers/{layer}"

TmsId = Annotated[Literal[TMS_IDS], Path(description="Tile matrix set: WebMercatorQuad or WorldCRS84Quad.")]  # type: ignore[valid-type]
TileSize = Annotated[int | None, Query(ge=256, le=512, multiple_of=256, description="Tile size in pixels: 256 or 512.")]
FormatQuery = Annotated[Literal["png", "webp"], Query(description="Tile format: paletted PNG or lossless WebP.")]
RefDep = Annotated[LayerRef, Depends(layer_ref_dependency)]
TileZ = Annotated[int, Path(description="Zoom level (tile matrix id).")]
TileX = Annotated[int, Path(description="Column.")]
TileY = Annotated[int, Path(description="Row.")]
Scale = Annotated[int, Path(ge=1, le=2, description="1 (256 px) or 2 (512 px).")]
Fmt = Annotated[Literal["png", "webp"], Path(description="png or webp.")]
VersionQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Za-z_-]{1,64}$", description=(
    "The layer version the URL was made for (TileJSON, WMTS and the OGC tilesets write it): "
    "the current one is served immutable, an old one is 410 Gone naming the current one."))]

# documents made by ``document_response``: ETag of the body, If-None-Match -> 304
REVALIDATED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified: `If-None-Match` names the "
                                                                     "document's current ETag."}}

TILE_DESCRIPTION = """One map tile of a catalog layer.

* **200**: the tile. Class maps are paletted PNG (index = class id, 0 transparent; the
  default, also without an extension) or lossless WebP, resampled by nearest neighbour;
  imagery is PNG or lossless WebP. Never JPEG.
* **204 No Content**: the tile is inside the tile matrix, but the layer has no data there.
* **304 Not Modified**: `If-None-Match` names the tile's current ETag.
* **404**: unknown city or layer, or the tile is outside the tile matrix (x or y beyond the
  matrix at z, z beyond the tile matrix set).
* **410 Gone**: `v` names a version the layer no longer has (the map was rebuilt); the JSON
  body names the current `version`.

`@2x` or `tilesize=512` give 512 px tiles; only 256 and 512 are served. Tiles carry an
ETag (layer version + render parameters). With `v` = the layer's current version (what
TileJSON and WMTS templates carry) they are `Cache-Control: public, max-age=31536000,
immutable`; without `v` they are `no-cache` (revalidate with `If-None-Match`, 304).
"""


@dataclass
class NoParams(DefaultDependency):
    """No user options (no bands, expressions, nodata, rescaling or rendering options)."""


def no_post_process() -> None:
    return None


def no_colormap() -> None:
    return None


@define(kw_only=True)
class CatalogTilerFactory(TilerFactory):
    """A TilerFactory for catalog layers: ids in the path, fixed rendering, bounded sizes."""

    settings: TileSettings = field(factory=TileSettings)
    tile_cache: ByteCache = field(factory=lambda: ByteCache(0))
    readers: ReaderPool = field(factory=lambda: ReaderPool(0))  # the app's pool

    reader: Any = None  # ``readers.reader`` (set at init)
    path_dependency: Any = layer_path_dependency
    layer_dependency: Any = NoParams
    dataset_dependency: Any = NoParams
    tile_dependency: Any = NoParams
    process_dependency: Any = no_post_process
    colormap_dependency: Any = no_colormap
    render_dependency: Any = NoParams
    supported_tms: TileMatrixSets = SUPPORTED_TMS
    add_preview: bool = False
    add_part: bool = False
    add_viewer: bool = False
    router_prefix: str = LAYER_PREFIX

    def __attrs_post_init__(self) -> None:
        self.reader = self.readers.reader
        super().__attrs_post_init__()

    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        """titiler's ``url_for``, with URI-template braces (``{z}``) left unescaped."""
        return super().url_for(request, name, **path_params).replace("%7B", "{").replace("%7D", "}")

    def register_routes(self) -> None:
        self.info()
        self.tilesets()
        self.tile()
        self.tilejson()
        self.wmts()

    # -- tiles ----------------------------------------------------------------------
    def tile(self) -> None:
        base = "/tiles/{tileMatrixSetId}/{z}/{x}/{y}"
        common: dict[str, Any] = {"response_class": Response, "description": TILE_DESCRIPTION,
                                  "responses": {200: {"content": {"image/png": {}, "image/webp": {}}},
                                                204: {"description": "No data in this tile."},
                                                304: {"description": "Not modified."},
                                                410: {"description": "`v` names a version the layer no longer "
                                                                     "has; the body names the current `version`.",
                                                      "headers": {"X-Layer-Version": {
                                                          "description": "The layer's current version.",
                                                          "required": True, "schema": {"type": "string"}}}},
                                                503: {"description": "The layer's file kept changing while the "
                                                                     "tile was rendered: send it again."}}}

        @self.router.get(base + "@{scale}x.{format}", name="layer_tile_scale_format",
                         summary="A tile at 1x or 2x, in a format", **common)
        async def tile_scale_format(request: Request, ref: RefDep, tileMatrixSetId: TmsId, z: TileZ, x: TileX,
                                    y: TileY, scale: Scale, format: Fmt, tilesize: TileSize = None,
                                    v: VersionQuery = None) -> Response:
            return await self.tile_response(request, ref, tileMatrixSetId, z, x, y, scale, tilesize, format, v)

        @self.router.get(base + "@{scale}x", name="layer_tile_scale", summary="A tile at 1x or 2x (PNG)", **common)
        async def tile_scale(request: Request, ref: RefDep, tileMatrixSetId: TmsId, z: TileZ, x: TileX,
                             y: TileY, scale: Scale, tilesize: TileSize = None, v: VersionQuery = None) -> Response:
            return await self.tile_response(request, ref, tileMatrixSetId, z, x, y, scale, tilesize, "png", v)

        @self.router.get(base + ".{format}", name="layer_tile_format", summary="A tile in a format", **common)
        async def tile_format(request: Request, ref: RefDep, tileMatrixSetId: TmsId, z: TileZ, x: TileX,
                              y: TileY, format: Fmt, tilesize: TileSize = None, v: VersionQuery = None) -> Response:
            return await self.tile_response(request, ref, tileMatrixSetId, z, x, y, None, tilesize, format, v)

        @self.router.get(base, name="tile", summary="A tile (PNG)", **common)
        async def tile(request: Request, ref: RefDep, tileMatrixSetId: TmsId, z: TileZ, x: TileX, y: TileY,
                       tilesize: TileSize = None, v: VersionQuery = None) -> Response:
            return await self.tile_response(request, ref, tileMatrixSetId, z, x, y, None, tilesize, "png", v)

    async def tile_response(self, request: Request, ref: LayerRef, tms_id: str, z: int, x: int, y: int,
                            scale: int | None, tilesize: int | None, fmt: TileFormat,
                            version: str | None = None) -> Response:
        """Validate, answer from ETag or cache, else render in a worker thread.

        ``version`` (the URL's ``v``): the current one -> immutable; another -> 410 naming the
        current one; none -> ``no-cache``. A tile whose file changed while it was rendered is
        neither cached nor served under the old version."""
        if scale is not None and tilesize is not None and tilesize != 256 * scale:
            raise HTTPException(400, f"@{scale}x and tilesize={tilesize} disagree")
        size = tilesize or 256 * (scale or 1)
        check_in_matrix(get_tms(tms_id), z, x, y)
        for _ in range(3):  # a file rewritten during a render: render again from the new one
            if version is not None and version != ref.version:
                return layer_rebuilt(ref, version)
            etag = tile_etag(ref.version, ref.city, ref.layer.id, ref.render_key, tms_id, z, x, y, size, fmt)
            policy = self.settings.cache_control if version is None else self.settings.immutable_cache_control
            headers = {"ETag": etag, "Cache-Control": policy}
            if etag_matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
            found, content = self.tile_cache.get(etag)
            if not found:
                try:  # read from the files as resolved for this request (their tokens: no stat again)
                    content = await run_in_threadpool(
                        render_tile, ref.tile_path(tms_id), ref.layer, tms_id, z, x, y, tilesize=size, fmt=fmt,
                        source=ref.path, readers=self.readers, token=ref.tile_token(tms_id),
                        source_token=ref.source_token)
                except FileChanged:  # rewritten during the render: resolve it again
                    ref = request.app.state.store.layer_ref(ref.city, ref.layer.id)
                    continue
                self.tile_cache.put(etag, content)
            if content is None:
                return Response(status_code=204, headers=headers)
            return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)
        raise HTTPException(503, "the layer's file keeps changing: try again", headers={"Retry-After": "1"})

    # -- OGC API Tiles ------------------------------------------------------------------
    def tilesets(self) -> None:
        """OGC tilesets (stock titiler's ``Link.href`` is an ``AnyUrl``, which escapes ``{z}``)."""

        @self.router.get("/tiles", name="tileset_list", summary="The layer's tilesets (OGC API Tiles)",
                         responses={200: {"model": LayerTileSetList}, **REVALIDATED})
        def tileset_list(request: Request, ref: RefDep) -> Response:
            doc = {"tilesets": [self.tileset_doc(request, ref, tms_id, limits=False) for tms_id in TMS_IDS]}
            return self.document(request, json.dumps(doc), "application/json")

        @self.router.get("/tiles/{tileMatrixSetId}", name="tileset",
                         responses={200: {"model": LayerTileSet}, **REVALIDATED},
                         summary="One tileset of the layer, with its tile matrix limits (OGC API Tiles)")
        def tileset(request: Request, ref: RefDep, tileMatrixSetId: TmsId) -> Response:
            doc = self.tileset_doc(request, ref, tileMatrixSetId, limits=True)
            return self.document(request, json.dumps(doc), "application/json")

    def tileset_doc(self, request: Request, ref: LayerRef, tms_id: str, *, limits: bool) -> dict[str, Any]:
        tms = get_tms(tms_id)
        bounds, minzoom, maxzoom = layer_extent(self.readers, ref, tms)
        links = [
            {"href": self.url_for(request, "tileset", tileMatrixSetId=tms_id), "rel": "self",
             "type": "application/json", "title": f"Tileset on {tms_id}"},
            {"href": self.url_for(request, "tile", tileMatrixSetId=tms_id, z="{z}", x="{x}", y="{y}")
             + f"?v={ref.version}", "rel": "item", "type": "image/png", "title": "Tiles (URI template)",
             "templated": True},
            {"href": str(request.url_for("tilematrixset", tileMatrixSetId=tms_id)),
             "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json",
             "title": f"Definition of {tms_id}"}]
        doc: dict[str, Any] = {
            "title": f"{ref.layer.title} on {tms_id}", "dataType": "map", "crs": str(tms.crs.root),
            "boundingBox": {"lowerLeft": list(bounds[:2]), "upperRight": list(bounds[2:]),
                            "crs": CRS_to_uri(tms.rasterio_geographic_crs)},
            "links": links}
        if limits:
            doc["tileMatrixSetLimits"] = matrix_limits(tms, bounds, minzoom, maxzoom)
        return doc

    # -- TileJSON ---------------------------------------------------------------------
    def tilejson(self) -> None:
        @self.router.get("/{tileMatrixSetId}/tilejson.json", response_model=TileJSON, name="tilejson",
                         response_model_exclude_none=True, summary="TileJSON 3.0 of the layer",
                         responses=REVALIDATED)
        def tilejson(request: Request, ref: RefDep, tileMatrixSetId: TmsId, tilesize: TileSize = None,
                     tile_format: FormatQuery = "png") -> Response:
            tms = get_tms(tileMatrixSetId)
            bounds, minzoom, maxzoom = layer_extent(self.readers, ref, tms)
            doc = {"tilejson": "3.0.0", "name": ref.layer.title, "description": ref.layer.description or None,
                   "scheme": "xyz", "tiles": [tile_template(request, ref, tileMatrixSetId, tilesize, tile_format)],
                   "minzoom": minzoom, "maxzoom": maxzoom, "bounds": list(bounds),
                   "tileSize": tilesize or 256, "kind": ref.layer.kind.value, "layer_version": ref.version}
            body = TileJSON.model_validate(doc).model_dump_json(exclude_none=True)
            return self.document(request, body, "application/json")

    def document(self, request: Request, body: str, media_type: str) -> Response:
        """A tile document: revalidated (``no-cache``) with an ETag of its body, 304 when unchanged."""
        return document_response(request, body, media_type, self.settings)


    # -- WMTS ------------------------------------------------------------------------------
    def wmts(self) -> None:
        @self.router.get("/{tileMatrixSetId}/WMTSCapabilities.xml", response_class=Response, name="wmts",
                         summary="OGC WMTS 1.0.0 capabilities of the layer (RESTful; QGIS, ArcGIS)",
                         responses={200: {"content": {"application/xml": {}}}, **REVALIDATED},
                         dependencies=[WmtsKvp])
        def wmts(request: Request, ref: RefDep, tileMatrixSetId: TmsId, tilesize: TileSize = None,
                 tile_format: FormatQuery = "png") -> Response:
            tms = get_tms(tileMatrixSetId)
            size = tilesize or 256
            template = tile_template(request, ref, tileMatrixSetId, size, tile_format, WMTS_XYZ)
            layer = wmts_layer(self.readers, ref, tms, template)
            xml = capabilities([layer], tms, tilesize=size, media_type=MEDIA_TYPES[tile_format],
                               title=f"MCAE: {ref.layer.title}", url=str(request.url))
            return self.document(request, xml, "application/xml")


WMTS_XYZ = ("{TileMatrix}", "{TileCol}", "{TileRow}")


def tile_template(request: Request, ref: LayerRef, tms_id: str, tilesize: int | None, fmt: str,
                  placeholders: tuple[str, str, str] = ("{z}", "{x}", "{y}")) -> str:
    """The URL template of a layer's tiles (512 px tiles as ``@2x``), naming its current
    version (``?v=``), so the tiles are immutable and a rebuilt map gets new URLs."""
    z, x, y = placeholders
    params: dict[str, Any] = {"city": ref.city, "layer": ref.layer.id, "tileMatrixSetId": tms_id,
                              "z": z, "x": x, "y": y, "format": fmt}
    if tilesize == 512:
        return str(request.url_for("layer_tile_scale_format", scale="2", **params)) + f"?v={ref.version}"
    return str(request.url_for("layer_tile_format", **params)) + f"?v={ref.version}"


def layer_rebuilt(ref: LayerRef, asked: str) -> JSONResponse:
    """410 for a tile URL made for another version of the layer (never the new bytes under it)."""
    detail = (f"layer {ref.city}/{ref.layer.id} was rebuilt: version {asked!r} is gone, the current "
              f"version is {ref.version!r} (ask again with v={ref.version}, or re-read the TileJSON)")
    return JSONResponse({"detail": detail, "version": ref.version}, status_code=410,
                        headers={**NO_STORE, "X-Layer-Version": ref.version})


def document_response(request: Request, body: str, media_type: str, settings: TileSettings) -> Response:
    """TileJSON, WMTS capabilities, OGC tilesets: revalidated (``settings.cache_control``) with
    an ETag of the body, which names the current versions; ``If-None-Match`` -> 304."""
    return revalidated(request, body, media_type, settings.cache_control)


def check_in_matrix(tms: TileMatrixSet, z: int, x: int, y: int) -> None:
    """404 (TileOutsideBounds) unless z/x/y is a tile of ``tms``."""
    if not tms.minzoom <= z <= tms.maxzoom:
        raise TileOutsideBounds(f"zoom {z} is outside {tms.id} (zoom {tms.minzoom}-{tms.maxzoom})")
    matrix = tms.matrix(z)
    if not (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight):
        raise TileOutsideBounds(f"tile {z}/{x}/{y} is outside the {tms.id} matrix at zoom {z}")


def layer_extent(readers: ReaderPool, ref: LayerRef,
                 tms: TileMatrixSet) -> tuple[tuple[float, float, float, float], int, int]:
    """Geographic bounds and zoom range of a layer on ``tms`` (read from its file)."""
    with readers.reader(ref.path, tms) as src:
        bounds = src.get_geographic_bounds(tms.rasterio_geographic_crs)
        maxzoom = int(src.maxzoom)
        if src.crs is not None and src.transform is not None and src.width and src.height:
            maxzoom = max(int(src.minzoom), native_maxzoom(src.crs, src.transform, src.width, src.height, src.tms))
        return (tuple(float(b) for b in bounds), int(src.minzoom), maxzoom)  # type: ignore[return-value]


def wmts_layer(readers: ReaderPool, ref: LayerRef, tms: TileMatrixSet, template: str) -> WMTSLayer:
    bounds, minzoom, maxzoom = layer_extent(readers, ref, tms)
    return WMTSLayer(identifier=f"{ref.city}.{ref.layer.id}", title=ref.layer.title,
                     abstract=ref.layer.description or ref.layer.kind.value, bounds=bounds,
                     minzoom=minzoom, maxzoom=maxzoom, template=template)


def create_city_wmts_router() -> APIRouter:
    """``/cities/{city}/{tms}/WMTSCapabilities.xml``: every layer of a city in one document."""
    router = APIRouter(tags=["Tiles"])

    @router.get("/cities/{city}/{tileMatrixSetId}/WMTSCapabilities.xml", response_class=Response,
                summary="OGC WMTS capabilities of every layer of a city",
                responses={200: {"content": {"application/xml": {}}}, **REVALIDATED}, dependencies=[WmtsKvp])
    def city_wmts(request: Request, store: StoreDep, readers: ReadersDep,
                  city: Annotated[City, Depends(city_dependency)],
                  tileMatrixSetId: TmsId, tilesize: TileSize = None, tile_format: FormatQuery = "png") -> Response:
        tms = get_tms(tileMatrixSetId)
        size = tilesize or 256
        layers = []
        for layer in city.layers.values():
            try:
                ref = layer_ref_dependency(store, city.id, layer.id)
                template = tile_template(request, ref, tileMatrixSetId, size, tile_format, WMTS_XYZ)
                layers.append(wmts_layer(readers, ref, tms, template))
            except SourceRefused:  # a layer whose file is missing or unreadable is left out
                continue
        if not layers:
            raise HTTPException(404, f"city {city.id!r} has no layers")
        xml = capabilities(layers, tms, tilesize=size, media_type=MEDIA_TYPES[tile_format],
                           title=f"MCAE: {city.name}", url=str(request.url))
        return document_response(request, xml, "application/xml", request.app.state.tile_settings)

    return router


def mcae_colormaps() -> Any:
    """rio-tiler's colormaps with every class scheme registered by name (``mcae``, ``sinolc1`` ...)."""
    return default_cmap.register(named_colormaps(), overwrite=True)  # type: ignore[arg-type]


def add_tile_routes(app: FastAPI, settings: TileSettings, readers: ReaderPool) -> CatalogTilerFactory:
    """Compose the tile, tile-matrix-set and colormap factories into ``app`` (reading through
    the app's ``readers``)."""
    cache = ByteCache(settings.tile_cache_mb * 1024 * 1024)
    tiler = CatalogTilerFactory(settings=settings, tile_cache=cache, readers=readers,
                                router=APIRouter())
    app.include_router(tiler.router, prefix=LAYER_PREFIX, tags=["Tiles"])
    app.include_router(create_city_wmts_router())
    tms = TMSFactory(supported_tms=SUPPORTED_TMS, router=APIRouter())
    app.include_router(tms.router, tags=["Tiling schemes"])
    colormaps = ColorMapFactory(supported_colormaps=mcae_colormaps(), router=APIRouter())
    app.include_router(colormaps.router, tags=["Colormaps"])
    app.state.tile_cache = cache
    return tiler
