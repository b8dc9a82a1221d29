"""``GET /api/viewer/config``: what the web viewer needs from the server's settings (the basemap).

Only what a visitor may see: the basemap's URL, kind and attribution, never a server path.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from mcae.platform.settings import BasemapSettings, Settings


class BasemapOut(BaseModel):
    """A map drawn under the layers: an XYZ tile template or a MapLibre style URL."""

    kind: Literal["xyz", "style"]
    url: str
    title: str
    attribution: str
    maxzoom: int


class ViewerConfigOut(BaseModel):
    """The viewer's configuration; ``basemap`` null while none is configured (the default)."""

    basemap: BasemapOut | None


def basemap_out(basemap: BasemapSettings) -> BasemapOut | None:
    if basemap.url is None:
        return None
    return BasemapOut(kind=basemap.resolved_kind, url=basemap.url, title=basemap.title,
                      attribution=basemap.attribution, maxzoom=basemap.maxzoom)


def create_viewer_router() -> APIRouter:
    router = APIRouter(tags=["Viewer"])

    @router.get("/api/viewer/config", response_model=ViewerConfigOut,
                summary="The viewer's configuration: the basemap (null unless configured)")
    def viewer_config(request: Request) -> ViewerConfigOut:
        settings: Settings = request.app.state.settings
        return ViewerConfigOut(basemap=basemap_out(settings.basemap))

    return router
