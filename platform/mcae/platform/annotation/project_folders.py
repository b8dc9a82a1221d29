"""A project folder's records in the database, for the engine's commands (``mcae label``,
``train``, ``map``, ``groups``, ``export-dataset``) once ``mcae projects add`` imported it, and
the projects with their progress (``mcae projects list``).

Service functions: each runs inside the caller's session, so a command opens its database once
and reads and writes through here. Writes are recorded as the server records the API's: the
author is the database's own ``engine`` user (never a name the caller gives), the time is the
recording's (never a time a file gives), and the model version is the project's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.errors import ProjectStateError
from mcae.platform.annotation.importer import engine_decisions, import_project, system_user
from mcae.platform.annotation.lookups import project_row
from mcae.platform.annotation.models import Patch, Project, Training
from mcae.platform.annotation.schemas import ProjectOut
from mcae.platform.annotation.views import project_out


def project_of_folder(session: Session, root: str | Path, where: str) -> str:
    """The id of the project imported from the folder ``root``; ``where`` names the database in
    the error that says it holds no such project."""
    resolved = str(Path(root).resolve())
    found = session.scalar(select(Project.id).where(Project.root == resolved))
    if found is None:
        raise ProjectStateError(f"{root} is not a project of the annotation database {where}; give the same "
                                "--catalog/--database as when it was added (`mcae projects add`)")
    return found


def decisions_in_force(session: Session, project_id: str) -> list[EngineDecision]:
    """The decisions in force, in order, as the engine's records (masks resolved)."""
    return engine_decisions(session, project_id)


def checked_patch_names(session: Session, project_id: str) -> set[str]:
    """The patches marked fully checked (their dense labels are complete)."""
    return set(session.scalars(select(Patch.name).where(Patch.project_id == project_id, Patch.checked.is_(True))))


def record_command_decisions(session: Session, project_id: str, decisions: Iterable[EngineDecision],
                             source: str) -> int:
    """Record decisions a command made (``mcae label``: a file, the simulated expert) as the API
    records a Load: by the ``engine`` user, now, from ``source``, with the project's model version
    (a file's own author, time, source and version are not taken). Returns how many."""
    from mcae.platform.annotation.dump_load import load_engine_decisions

    model_version = project_row(session, project_id).model_version
    stamped = (d.model_copy(update={"author": None, "at": None, "id": None, "source": source,
                                    "model_version": model_version}) for d in decisions)  # as they come
    return load_engine_decisions(session, project_id, stamped, system_user(session).id, source=source)


def import_folder(session: Session, root: str | Path, project_id: str, **options: Any) -> dict[str, Any]:
    """``mcae projects add``: import or refresh a project folder (``importer.import_project``'s
    options), recorded by the ``engine`` user; returns its counts."""
    return import_project(session, root, project_id, user_id=system_user(session).id, **options)


def record_training(session: Session, project_id: str, root: str | Path, report: Any, decisions: int) -> None:
    """After ``mcae train``: re-import the folder's new predictions and record the training, by the
    ``engine`` user (as a rebuild records the user who asked for it)."""
    engine = system_user(session).id
    summary = import_project(session, root, project_id, user_id=engine)
    session.add(Training(project_id=project_id, model_version=summary["model_version"], masks=report.n_masks,
                         decisions=decisions, holdout_accuracy=report.holdout_accuracy,
                         holdout=getattr(report, "holdout", None) or None, user_id=engine))


def project_views(session: Session) -> list[ProjectOut]:
    """Every project with its progress, by id."""
    return [project_out(p) for p in session.scalars(select(Project).order_by(Project.id))]
