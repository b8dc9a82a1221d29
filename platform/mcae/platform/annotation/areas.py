"""Areas beside counts: the ground sampling distance of a project, pixels to hectares, and the
project's and neighbourhoods' area sums read from the groups' counters (never from the masks)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mcae.platform.annotation.models import Group, Project


@lru_cache(maxsize=256)
def _gsd_of_folder(root: str) -> float:
    from mcae.inference.project import Project as EngineProject

    try:
        return float(EngineProject.open(root).scene_info.gsd)
    except Exception:  # a project folder the server cannot read: areas read 0 ha
        return 0.0


def gsd(project: Project) -> float:
    """Metres a pixel (0.0 when unknown); the import records it in ``grid["gsd"]``."""
    value = float((project.grid or {}).get("gsd") or 0.0)
    return value or _gsd_of_folder(project.root)


def hectares(pixels: float, gsd_m: float) -> float:
    return round(float(pixels) * gsd_m * gsd_m / 10_000.0, 4)


def share(part: float, whole: float) -> float:
    """``part / whole`` to four significant digits: a group of a city is a few millionths of it
    (rounded to four places, every group of a 40,960 px city read 0)."""
    return float(f"{float(part) / float(whole):.4g}") if whole else 0.0


def project_area(session: Session, project_id: str) -> tuple[int, int]:
    """(area, decided area) in pixels: sums of the groups' counters."""
    area, decided = session.execute(select(func.coalesce(func.sum(Group.area), 0),
                                           func.coalesce(func.sum(Group.decided_area), 0))
                                    .where(Group.project_id == project_id)).one()
    return int(area), int(decided)


def neighbourhood_areas(session: Session, project_id: str) -> dict[str, tuple[int, int]]:
    rows = session.execute(select(Group.neighbourhood, func.coalesce(func.sum(Group.area), 0),
                                  func.coalesce(func.sum(Group.decided_area), 0))
                           .where(Group.project_id == project_id).group_by(Group.neighbourhood))
    return {hood: (int(a), int(d)) for hood, a, d in rows}
