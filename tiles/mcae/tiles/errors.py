"""One place mapping exceptions to HTTP statuses: 4xx with a message, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from rasterio.errors import RasterioError
from rio_tiler.errors import RioTilerError, TileOutsideBounds
from starlette.exceptions import HTTPException as StarletteHTTPException

from mcae.inference.errors import InputError, MCAEError, ProjectStateError
from mcae.tiles.catalog import UnknownId
from mcae.tiles.gdal import SourceRefused

logger = logging.getLogger(__name__)


class TooLarge(MCAEError):
    """A request asks for more pixels or tiles than allowed."""


class PixelCapExceeded(TooLarge):
    """An analysis area covers more pixels than ``max_image_pixels``; says both numbers."""

    def __init__(self, pixels: int, cap: int) -> None:
        super().__init__(f"the area covers {pixels:,} pixels of the layer at full resolution; "
                         f"the cap is {cap:,} (max_image_pixels): ask for a smaller area")
        self.details = {"count": pixels, "cap": cap}


class NotComputedError(MCAEError):
    """A result (for example a comparison report) that no command has produced yet."""


STATUS: list[tuple[type[Exception], int]] = [
    (UnknownId, 404),
    (TileOutsideBounds, 404),
    (SourceRefused, 404),
    (TooLarge, 413),
    (NotComputedError, 404),
    (InputError, 400),
    (ProjectStateError, 409),
    (RioTilerError, 400),
    (RasterioError, 404),  # a catalog file GDAL cannot read (truncated, corrupt): see the log
]
UNREADABLE = "this layer's file could not be read (the server's log says why)"

NO_STORE = {"Cache-Control": "no-store"}


def status_of(exc: BaseException) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def add_exception_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``; errors are JSON ``{"detail": ...}`` and never cached."""

    async def known(request: Request, exc: Exception) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            logger.exception("error on %s", request.url.path, exc_info=exc)
            return JSONResponse({"detail": "internal error"}, status_code=status, headers=NO_STORE)
        if isinstance(exc, RasterioError):  # GDAL's message names server paths: logged, not sent
            logger.warning("unreadable file on %s", request.url.path, exc_info=exc)
            return JSONResponse({"detail": UNREADABLE}, status_code=status, headers=NO_STORE)
        body = {"detail": str(exc), **getattr(exc, "details", {})}
        return JSONResponse(body, status_code=status, headers=NO_STORE)

    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers={**(exc.headers or {}), **NO_STORE})

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        response = await request_validation_exception_handler(request, exc)
        response.headers.update(NO_STORE)
        return response

    for kind, _ in STATUS:
        app.add_exception_handler(kind, known)
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, known)
