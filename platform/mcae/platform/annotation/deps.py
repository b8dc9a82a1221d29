"""Dependencies of the annotation routes: the database, ids in paths, project images."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Header, Path, Query, Request
from sqlalchemy import select

from mcae.inference.errors import NotFoundError
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Project
from mcae.platform.annotation.thumbnails import PatchImages
from mcae.tiles.ids import ID_PATTERN, UnknownId

ProjectId = Annotated[str, Path(pattern=ID_PATTERN, description="A project id.")]
HoodId = Annotated[str, Path(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$", description="A neighbourhood, named by its "
                                                                               "centre patch (row-col).")]
GroupKey = Annotated[str, Path(pattern=r"^[0-9]{1,5}-[0-9]{1,2}$", description="Group x-y: cluster x, "
                                                                                "predicted class y.")]
PatchId = Annotated[str, Path(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$", description="A patch (row-col).")]
MaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A mask id within its patch.")]
DecisionId = Annotated[int, Path(ge=1, le=2**62, description="A decision id.")]
PageQ = Annotated[int, Query(ge=1, le=1_000_000, description="Page, from 1.")]
PerPageQ = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
IfMatch = Annotated[str | None, Header(description="The version the write was made on, e.g. \"3\".")]


class NotFound(UnknownId):
    """Something addressed by id that is not there (404), with its own message."""

    def __init__(self, message: str) -> None:
        NotFoundError.__init__(self, message)
        self.kind, self.ident = "item", message


def database(request: Request) -> Database:
    return request.app.state.database


def images_for(request: Request, project_id: str) -> PatchImages:
    """The project's patch images (one cache per project and app), 404 for unknown projects."""
    state = request.app.state
    lock: threading.Lock = state.images_lock
    with lock:
        found = state.patch_images.get(project_id)
    if found is not None:
        return found
    with state.database.reader() as session:
        root = session.scalar(select(Project.root).where(Project.id == project_id))
    if root is None:
        raise UnknownId("project", project_id)
    with lock:
        return state.patch_images.setdefault(project_id, PatchImages(root, max_patches=8))


def forget_images(state: Any, project_id: str) -> None:
    """Drop a project's image cache (after a re-import the rasters may have changed)."""
    with state.images_lock:
        state.patch_images.pop(project_id, None)
