"""Whole files of a layer version: the listing, and each file served with HTTP Range requests.

``GET /api/cities/{city}/layers/{layer}/files`` lists the current version's files (map,
sidecars, district maps) with size, SHA-256 and versioned URLs
``.../files/{version}/{name}``. A file URL is immutable (long ``Cache-Control``, strong
ETag from its SHA-256) and answers ``Range`` requests (206, ``Accept-Ranges``, 416 for a
range outside the file), so GDAL and QGIS open the COG remotely (``/vsicurl/<url>``; GDAL
finds ``<url>.aux.xml`` beside it). A version the layer no longer has answers 410 naming
the current one and its URL. Names come only from the layer's registry of files
(``whole_files``), checked before anything on disk is touched. The platform bounds how many
of these requests run at once (``mcae.platform.busy``, ``downloads`` settings).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from mcae.inference import object_store
from mcae.inference.errors import ProjectStateError
from mcae.tiles.catalog import CatalogStore, LayerRef, WholeFile
from mcae.tiles.dependencies import IdParam, SettingsDep, StoreDep
from mcae.tiles.errors import NO_STORE
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.http_cache import etag_matches
from mcae.tiles.ids import UnknownId
from mcae.tiles.schemas import WholeFileOut, WholeFilesOut
from mcae.tiles.whole_files import fresh, media_type

FILES = "/api/cities/{city}/layers/{layer}/files"
VersionParam = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="A layer version (the tiles' `v`).")]
NameParam = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,200}$",
                                description="A file name from the version's listing.")]
RANGE_PART = re.compile(r"^(\d*)-(\d*)$")
GONE: dict[int | str, dict[str, Any]] = {
    409: {"description": "The layer has no whole files recorded for its current map (published before they "
                         "were kept, or its file replaced): `mcae catalog files CITY LAYER` records them."},
    410: {"description": "The version was superseded: the JSON names the current one (`version`, `url`)."}}
FILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file.", "content": {"image/tiff": {}, "application/xml": {}, "text/xml": {}}},
    206: {"description": "Part of the file (a `Range` request)."},
    304: {"description": "Not modified: `If-None-Match` names the file's ETag."},
    416: {"description": "The `Range` is not one this file can satisfy (`Content-Range: bytes */size`)."},
    **GONE}


def create_files_router() -> APIRouter:
    router = APIRouter(tags=["Downloads"])

    @router.get(FILES, summary="The whole files of a layer's current version (map, sidecars, district maps)",
                responses={409: GONE[409]})
    def current_files(request: Request, store: StoreDep, city: Annotated[str, IdParam],
                      layer: Annotated[str, IdParam]) -> WholeFilesOut:
        store.layer(city, layer)  # 404 before anything on disk
        return _listing(request, store, store.layer_ref(city, layer), no_cache=True)

    @router.get(FILES + "/{version}", summary="The whole files of one layer version", responses=GONE,
                response_model=WholeFilesOut)
    def version_files(request: Request, store: StoreDep, settings: SettingsDep, city: Annotated[str, IdParam],
                      layer: Annotated[str, IdParam], version: VersionParam) -> Any:
        store.layer(city, layer)
        ref = store.layer_ref(city, layer)
        if version != ref.version:
            return _superseded(request, ref, version, None)
        listing = _listing(request, store, ref, no_cache=False)
        return JSONResponse(listing.model_dump(mode="json"),
                            headers={"Cache-Control": settings.immutable_cache_control})

    def whole_file(request: Request, store: StoreDep, settings: SettingsDep, city: Annotated[str, IdParam],
                   layer: Annotated[str, IdParam], version: VersionParam, name: NameParam) -> Response:
        found = store.layer(city, layer)
        if found.files is None or not any(f.name == name for f in found.files.files):
            raise UnknownId("file", f"{city}/{layer}/{name}")  # before anything on disk
        ref = store.layer_ref(city, layer)
        if version != ref.version:
            return _superseded(request, ref, version, name)
        entry = next(f for f in _registry(ref).files if f.name == name)
        remote = object_store.is_s3(entry.path)  # then the version is the object's ETag: the one recorded
        path, stat = (None, None) if remote else _local_file(store, entry, f"{city}/{layer}")
        etag = f'"sha256-{entry.sha256[:32]}"'
        headers = {"ETag": etag, "Cache-Control": settings.immutable_cache_control, "Accept-Ranges": "bytes"}
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        refused = _bad_range(request.headers.get("range"), entry.size)
        if refused is not None:
            return JSONResponse({"detail": refused}, status_code=416,
                                headers={**NO_STORE, "Content-Range": f"bytes */{entry.size}"})
        if path is None:
            return _from_object_store(request, store, entry, headers)
        return FileResponse(path, stat_result=stat, media_type=media_type(name), headers=headers,
                            filename=name, content_disposition_type="attachment")

    router.add_api_route(FILES + "/{version}/{name}", whole_file, methods=["GET"], name="whole_file",
                         summary="One whole file of a layer version (HTTP Range requests answered)",
                         responses=FILE_ANSWERS, response_class=FileResponse)
    router.add_api_route(FILES + "/{version}/{name}", whole_file, methods=["HEAD"], name="whole_file_head",
                         include_in_schema=False)  # GDAL's /vsicurl/ asks for the size first
    return router


def _registry(ref: LayerRef) -> Any:
    files = fresh(ref.layer, ref.source_token)
    if files is None:
        raise ProjectStateError(f"layer {ref.city}/{ref.layer.id} has no whole files recorded for its current "
                                "map (published before downloads were kept, or its file was replaced): publish "
                                "it again (`mcae catalog files CITY LAYER`, `mcae map --publish` or a rebuild)")
    return files


def _listing(request: Request, store: CatalogStore, ref: LayerRef, *, no_cache: bool) -> WholeFilesOut:
    districts = store.city(ref.city).districts
    files = [_public(request, ref, f, districts[f.district].name if f.district in districts else None)
             for f in _registry(ref).files]
    return WholeFilesOut(city=ref.city, layer=ref.layer.id, title=ref.layer.title, version=ref.version, files=files)


def _public(request: Request, ref: LayerRef, entry: WholeFile, district_name: str | None) -> WholeFileOut:
    url = str(request.url_for("whole_file", city=ref.city, layer=ref.layer.id, version=ref.version,
                              name=entry.name))
    return WholeFileOut(name=entry.name, role=entry.role, district=entry.district, district_name=district_name,
                        size=entry.size, sha256=entry.sha256, media_type=media_type(entry.name), url=url,
                        vsicurl=f"/vsicurl/{url}" if entry.role == "data" else None)


def _superseded(request: Request, ref: LayerRef, asked: str, name: str | None) -> JSONResponse:
    """410 for a URL of a version the layer no longer has, naming the current one and its URL."""
    files = fresh(ref.layer, ref.source_token)
    if name is not None and files is not None and any(f.name == name for f in files.files):
        url = str(request.url_for("whole_file", city=ref.city, layer=ref.layer.id, version=ref.version, name=name))
    else:
        url = str(request.url_for("version_files", city=ref.city, layer=ref.layer.id, version=ref.version))
    detail = (f"version {asked!r} of layer {ref.city}/{ref.layer.id} was superseded: the current version is "
              f"{ref.version!r} ({url})")
    return JSONResponse({"detail": detail, "version": ref.version, "url": url}, status_code=410,
                        headers={**NO_STORE, "X-Layer-Version": ref.version})


def _local_file(store: CatalogStore, entry: WholeFile, where: str) -> tuple[Any, os.stat_result]:
    """The file of ``entry`` on disk, unchanged since it was published (else 409)."""
    path = store.resolve(entry.path)
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or stat.st_size != entry.size:
        raise ProjectStateError(f"the file {entry.name} of layer {where} changed or is gone since it was "
                                "published: publish the layer again")
    return path, stat


def _from_object_store(request: Request, store: CatalogStore, entry: WholeFile, headers: dict[str, str]) -> Response:
    """A map kept in object storage, streamed from it: the whole object, or the one byte range
    asked for (206; a request for several ranges gets the whole file, as HTTP allows)."""
    span = _one_range(request.headers.get("range"), entry.size)
    first, last = span or (0, entry.size - 1)
    headers = {**headers, "Content-Length": str(last - first + 1),
               "Content-Disposition": f'attachment; filename="{entry.name}"'}
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{entry.size}"
    status = 206 if span is not None else 200
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type(entry.name))
    try:  # asked before the answer starts: a missing object is a clear 404, not a cut-off body
        chunks = object_store.read(entry.path, first, last, settings=store.sources.s3)
    except object_store.StorageError:
        raise SourceRefused("this layer's object cannot be read from object storage") from None
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type(entry.name))


def _one_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single-range ``Range`` header (checked by ``_bad_range``);
    None without one, or for several ranges."""
    if header is None or "," in header:
        return None
    start, _, end = header.partition("=")[2].strip().partition("-")
    if not start:
        return max(size - int(end), 0), size - 1
    return int(start), min(int(end), size - 1) if end else size - 1


def _bad_range(header: str | None, size: int) -> str | None:
    """Why a ``Range`` header cannot be answered (None: no header, or every range fits the file)."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return "only byte ranges are answered (Range: bytes=START-END)"
    for part in spec.split(","):
        match = RANGE_PART.match(part.strip())
        if match is None or match.group(0) == "-":
            return "a malformed Range header (Range: bytes=START-END)"
        start, end = match.group(1), match.group(2)
        if start and (int(start) >= size or (end and int(end) < int(start))):
            return f"the range {part.strip()} lies outside the file ({size} bytes)"
        if not start and int(end) == 0:
            return "an empty suffix range"
    return None
