"""The dataset export of a project, downloaded as one zip, streamed.

``mcae export-dataset --project DIR`` writes dense and sparse 1024 px image/label pairs with
``manifest.json`` into the project's ``dataset/`` folder (its default ``--out``);
``GET /api/projects/{id}/dataset.zip`` streams them as a zip written to the response as it
goes (stdlib ``zipfile`` on a non-seekable sink: memory bounded by one chunk, at any size).
Only the files the manifest names go in (never a path from the request), the manifest with
file names only (no server folder). The roles allowed are a setting
(``downloads.dataset_roles``, default reviewer and admin).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from mcae.inference.errors import ProjectStateError
from mcae.platform.annotation.auth import CurrentUser, current_user
from mcae.platform.annotation.deps import NotFound, ProjectId
from mcae.platform.annotation.lookups import project_row
from mcae.platform.errors import Forbidden
from mcae.tiles.errors import NO_STORE

DATASET_DIR = "dataset"  # in the project folder: where `mcae export-dataset` writes by default
CHUNK = 1024 * 1024
MEMBER = re.compile(r"^(images|labels_dense|labels_sparse)/[0-9]{1,5}-[0-9]{1,5}\.tif$")
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "A zip: manifest.json, footprints.geojson, images/, labels_dense/, labels_sparse/.",
          "content": {"application/zip": {}}},
    403: {"description": "The user's role is not among the `downloads.dataset_roles` setting's."},
    404: {"description": "No such project, or it has no dataset export yet (`mcae export-dataset`)."},
    409: {"description": "The export is incomplete or unreadable (a file the manifest names is missing)."}}


class _Sink(io.RawIOBase):
    """A write-only, non-seekable stream whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def export_members(root: Path, project_id: str) -> tuple[bytes, list[tuple[str, Path]]]:
    """The public manifest and the (name in the zip, file) of every pair of a project's export."""
    folder = root / DATASET_DIR
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        raise NotFound(f"project {project_id} has no dataset export yet: run `mcae export-dataset --project "
                       "<its folder>` where the engine is installed (it writes the project's dataset/ folder)"
                       ) from None
    except (OSError, ValueError):
        raise ProjectStateError(f"the dataset export of project {project_id} is unreadable: export it again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "mcae-dataset":
        raise ProjectStateError(f"the dataset export of project {project_id} is not an MCAE dataset: export it again")
    members: list[tuple[str, Path]] = []
    for item in manifest.get("items", []):
        for key in ("image", "label_dense", "label_sparse"):
            name = item.get(key)
            if name is None:
                continue
            if not isinstance(name, str) or not MEMBER.match(name):
                raise ProjectStateError(f"the dataset export of project {project_id} names an unexpected file")
            path = folder / name
            if not path.is_file():
                raise ProjectStateError(f"the dataset export of project {project_id} is incomplete ({name} is "
                                        "missing): export it again")
            members.append((name, path))
    if manifest.get("source_image"):
        manifest["source_image"] = Path(str(manifest["source_image"])).name  # a name, never a server folder
    extra = [("footprints.geojson", folder / "footprints.geojson")]
    members += [(name, path) for name, path in extra if path.is_file()]
    return json.dumps(manifest, indent=1).encode(), members


def stream_zip(manifest: bytes, members: list[tuple[str, Path]]) -> Iterator[bytes]:
    """The zip of ``manifest`` and ``members``, yielded a chunk at a time as it is written."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as bundle:
        bundle.writestr("manifest.json", manifest, compress_type=zipfile.ZIP_DEFLATED)
        for name, path in members:  # GeoTIFFs are compressed already: stored as they are
            with open(path, "rb") as source, bundle.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if out := sink.take():
                        yield out
            if out := sink.take():
                yield out
    yield sink.take()  # the central directory


def create_dataset_router() -> APIRouter:
    router = APIRouter(tags=["Annotation: dataset export"])

    @router.get("/api/projects/{project}/dataset.zip", response_class=StreamingResponse, responses=ANSWERS,
                summary="Download the project's dataset export (dense and sparse 1024 px pairs), streamed",
                description="Allowed to the roles of the `downloads.dataset_roles` setting (default reviewer, admin).")
    def dataset(request: Request, user: Annotated[CurrentUser, Depends(current_user)],
                project: ProjectId) -> StreamingResponse:
        roles = request.app.state.settings.downloads.dataset_roles
        if user.role not in roles:
            raise Forbidden(f"the dataset export is for the roles {', '.join(roles)}; {user.name} is a {user.role}")
        with request.app.state.database.reader() as session:
            root = Path(project_row(session, project).root)
        manifest, members = export_members(root, project)
        return StreamingResponse(stream_zip(manifest, members), media_type="application/zip",
                                 headers={**NO_STORE,
                                          "Content-Disposition": f'attachment; filename="{project}-dataset.zip"'})

    return router
