"""Where a patch lies on the map (lon/lat bounds), for the refinement tool's locator."""

from __future__ import annotations

from rasterio.warp import transform_bounds

from mcae.inference.project import Project as EngineProject
from mcae.platform.annotation.models import Project


def all_patch_bounds(engine: EngineProject) -> dict[str, list[float]]:
    """[west, south, east, north] in EPSG:4326 of every patch of an engine project ({} without
    georeferencing): what the import stores for the neighbourhoods' locator."""
    try:
        info = engine.scene_info
        patches = list(engine.grid.patches())
    except (OSError, ValueError, KeyError):
        return {}
    if not info.crs:
        return {}
    out = {}
    for patch in patches:
        t = info.window_transform(patch.window)
        west, north = t @ (0, 0)
        east, south = t @ (patch.window.width, patch.window.height)
        out[patch.id] = [round(v, 7) for v in transform_bounds(info.crs, "EPSG:4326", min(west, east),
                                                               min(south, north), max(west, east), max(south, north))]
    return out


def union(boxes: list[list[float]]) -> list[float] | None:
    """The bounds around these [w, s, e, n] boxes (None for none)."""
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def patch_bounds(project: Project, patch_name: str) -> list[float] | None:
    """[west, south, east, north] of a patch in EPSG:4326 (None without georeferencing): the
    grid's arithmetic for that one patch (not a list of every patch of the city)."""
    try:
        engine = EngineProject.open(project.root)
        info = engine.scene_info
        patch = engine.grid.patch_by_id(patch_name)
    except (OSError, ValueError, LookupError):
        return None
    if not info.crs:
        return None
    t = info.window_transform(patch.window)
    west, north = t @ (0, 0)
    east, south = t @ (patch.window.width, patch.window.height)
    return [round(v, 7) for v in transform_bounds(info.crs, "EPSG:4326", min(west, east), min(south, north),
                                                  max(west, east), max(south, north))]
