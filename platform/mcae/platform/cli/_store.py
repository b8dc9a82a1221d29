"""Where a command's decisions live: the project's decisions file, or the annotation database
once the project was added to it (`mcae projects add`); never both."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from mcae.inference.decisions import Decision, decisions_in_database
from mcae.inference.project import Project

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database", help="Annotation database URL (default: MCAE_DATABASE__URL, else annotation.db beside the "
                       "catalog).")]
StoreCatalogOpt = Annotated[Path | None, typer.Option(
    "--catalog", help="Catalog whose folder holds the annotation database \\[the database project.json "
                      "records (`mcae projects add` writes it), else MCAE_TILES__CATALOG_PATH or "
                      "demo-output/catalog.json].")]


def _settings(catalog: Path | None, database: str | None, project: Project | None = None) -> Any:
    """Settings naming the database: --database, --catalog, the environment, else the one
    ``project.json`` records (``mcae projects add`` writes it there)."""
    from mcae.platform.annotation.local import recorded_database, settings_for

    if database is None and catalog is None and project is not None and not any(
            os.environ.get(name) for name in ("MCAE_DATABASE__URL", "MCAE_TILES__CATALOG_PATH")):
        database = recorded_database(project)
    return settings_for(catalog, database)


def decisions_of(project: Project, catalog: Path | None, database: str | None) -> list[Decision] | None:
    """The database's decisions for a project it owns, else None (the engine reads its file)."""
    if not decisions_in_database(project):
        return None
    from mcae.platform.annotation.local import decisions_for

    return decisions_for(project, _settings(catalog, database, project))


def checked_patches(project: Project, catalog: Path | None, database: str | None) -> set[str] | None:
    """Patches marked fully checked (None for a project without a database)."""
    if not decisions_in_database(project):
        return None
    from sqlalchemy import select

    from mcae.platform.annotation.local import open_database, project_id_for
    from mcae.platform.annotation.models import Patch

    db = open_database(_settings(catalog, database, project), create=False)
    try:
        ident = project_id_for(db, project.root)
        with db.reader() as session:
            return set(session.scalars(select(Patch.name).where(Patch.project_id == ident, Patch.checked.is_(True))))
    finally:
        db.dispose()


def record(project: Project, new: list[Decision], source: str, catalog: Path | None,
           database: str | None) -> None:
    """Add decisions to the database (as the `engine` user) for a project it owns."""
    from mcae.platform.annotation.importer import system_user
    from mcae.platform.annotation.local import open_database, project_id_for
    from mcae.platform.annotation.service import apply_engine_decisions

    db = open_database(_settings(catalog, database, project), create=False)
    try:
        ident = project_id_for(db, project.root)
        with db.session() as session:
            apply_engine_decisions(session, ident, new, system_user(session).id, source=source)
    finally:
        db.dispose()


def after_training(project: Project, report: Any, decisions: int, catalog: Path | None,
                   database: str | None) -> None:
    """Re-import the new predictions and record the training, for a project the database owns."""
    if not decisions_in_database(project):
        return
    from mcae.platform.annotation.importer import import_project
    from mcae.platform.annotation.local import open_database, project_id_for
    from mcae.platform.annotation.models import Training

    db = open_database(_settings(catalog, database, project), create=False)
    try:
        ident = project_id_for(db, project.root)
        with db.session() as session:
            summary = import_project(session, project.root, ident)
            session.add(Training(project_id=ident, model_version=summary["model_version"], masks=report.n_masks,
                                 decisions=decisions, holdout_accuracy=report.holdout_accuracy,
                                 holdout=getattr(report, "holdout", None) or None))
    finally:
        db.dispose()
