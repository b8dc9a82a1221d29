"""The one exception -> HTTP status table of the app, and its handlers.

Errors are JSON ``{"detail": ...}`` (plus the exception's ``details``), carry its
``headers`` and are never cached. A file GDAL cannot read is a 404 whose message names no
path. Anything else is a server fault: 500 ``{"detail": "internal error", "request_id": ...}``,
logged with the same short id.

The exceptions the tiles layer raises stay defined there (``mcae.tiles.errors``); the ones
only the platform raises (authentication, permissions, edit conflicts) are defined here.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from rasterio.errors import RasterioError
from rio_tiler.errors import (
    AssetAsBandError,
    InvalidAssetName,
    InvalidBandName,
    InvalidBounds,
    InvalidBufferSize,
    InvalidColorFormat,
    InvalidColorMapName,
    InvalidExpression,
    InvalidFormat,
    InvalidMosaicMethod,
    MaxArraySizeError,
    MissingAssets,
    MissingBands,
    PointOutsideBounds,
    TileOutsideBounds,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from mcae.inference.errors import InputError, MCAEError, ProjectStateError, StorageError
from mcae.tiles.catalog import UnknownId
from mcae.tiles.errors import NO_STORE, NotComputedError, TooLarge
from mcae.tiles.gdal import SourceRefused

logger = logging.getLogger(__name__)


class PlatformError(MCAEError):
    """An error with optional ``details`` (merged into the JSON body) and response ``headers``."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})


class Unauthenticated(PlatformError):
    """No credentials, or credentials that name nobody (401, ``WWW-Authenticate: Bearer``)."""

    def __init__(self, message: str = "authentication required", *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(PlatformError):
    """The user is known but may not do this (403)."""


class Conflict(PlatformError):
    """The change collides with the current state, e.g. a lease held by someone else (409)."""


class PreconditionFailed(PlatformError):
    """An ``If-Match`` version that is no longer the current one (412)."""


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class TooManyRequests(PlatformError):
    """This client (address, token) asked too often or too much: 429 with ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: float = 1.0, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details, headers=_retry_after(retry_after))


class Saturated(PlatformError):
    """The server is at its limit for this kind of work: 503 with ``Retry-After``, nothing was done."""

    def __init__(self, message: str, *, retry_after: float = 1.0, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details, headers=_retry_after(retry_after))


# first match wins: subclasses before their bases
class ServiceBusy(PlatformError):
    """The database stayed locked past its busy timeout (or chose this write to break a deadlock):
    nothing was saved, and the same request can be sent again."""

    def __init__(self, message: str = "the database is busy; nothing was saved: send the request again",
                 **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": "1"}, **kwargs)


STATUS: list[tuple[type[Exception], int]] = [
    (ServiceBusy, 503),
    (Saturated, 503),
    (TooManyRequests, 429),
    (StorageError, 507),  # a full disk: nothing was written, the same request can be sent later
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (UnknownId, 404),
    (TileOutsideBounds, 404),
    (SourceRefused, 404),
    (TooLarge, 413),
    (NotComputedError, 404),
    (InputError, 400),
    (ProjectStateError, 409),
    # rio-tiler: only what the client asked wrong is 4xx; any other RioTilerError (a colormap
    # registered twice, a dataset without CRS, an empty mosaic ...) is a server fault: a logged 500
    (PointOutsideBounds, 404),
    (InvalidBandName, 404),
    (InvalidAssetName, 404),
    (MaxArraySizeError, 413),
    (InvalidBufferSize, 400),
    (InvalidFormat, 400),
    (InvalidColorFormat, 400),
    (InvalidColorMapName, 400),
    (InvalidExpression, 400),
    (InvalidMosaicMethod, 400),
    (InvalidBounds, 400),
    (MissingBands, 400),
    (MissingAssets, 400),
    (AssetAsBandError, 400),
    (RasterioError, 404),  # a catalog file GDAL cannot read (truncated, corrupt): see the log
]
UNREADABLE = "this layer's file could not be read (the server's log says why)"


def status_of(exc: BaseException) -> int:
    """The HTTP status of ``exc`` (500 for anything the table does not name)."""
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def request_id() -> str:
    """A short random id that ties a 500 answer to its log line."""
    return secrets.token_hex(6)


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The JSON answer for ``exc`` (logging server faults with a request id)."""
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, (PlatformError, StorageError)):
        rid = request_id()
        logger.error("internal error %s on %s %s", rid, request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=status,
                            headers=NO_STORE)
    headers = {**(getattr(exc, "headers", None) or {}), **NO_STORE}
    if isinstance(exc, RasterioError):  # GDAL's message names server paths: logged, not sent
        logger.warning("unreadable file on %s", request.url.path, exc_info=exc)
        return JSONResponse({"detail": UNREADABLE}, status_code=status, headers=headers)
    body = {"detail": str(exc), **(getattr(exc, "details", None) or {})}
    return JSONResponse(body, status_code=status, headers=headers)


EXCERPT_CHARS = 40  # of a rejected value, at most, in a 422 answer
MAX_ERRORS = 20  # validation errors listed in one answer, at most


def excerpt(value: Any) -> str | None:
    """A short, printable excerpt of a rejected value (None for a container: never echoed)."""
    if isinstance(value, (dict, list, tuple, set, bytes, bytearray)) or value is None:
        return None
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the client's input: where, what and why, and at most
    a short sanitised excerpt of a rejected scalar (never a body, never a whole long string)."""
    details = []
    for error in list(errors)[:MAX_ERRORS]:
        item: dict[str, Any] = {"type": str(error.get("type", "")),
                                "loc": [p if isinstance(p, int) else excerpt(p) for p in error.get("loc", ())][:8],
                                "msg": excerpt_message(str(error.get("msg", "")))}
        shown = excerpt(error.get("input"))
        if shown is not None:
            item["input"] = shown
        details.append(item)
    return details


def excerpt_message(text: str, limit: int = 200) -> str:
    """A validation message, printable and at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def add_exception_handlers(app: FastAPI) -> None:
    """Register the table on ``app``; errors are JSON ``{"detail": ...}`` and never cached."""

    async def known(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, exc)

    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers={**(exc.headers or {}), **NO_STORE})

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_details(exc.errors())}, status_code=422, headers=NO_STORE)

    for kind, _ in STATUS:
        app.add_exception_handler(kind, known)
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, known)
