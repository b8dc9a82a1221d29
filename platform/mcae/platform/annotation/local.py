"""The annotation database from the command line: open it, find a project folder in it, and
hand the engine the decisions it holds (the database is their one store once imported)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mcae.inference.decisions import Decision as EngineDecision
from mcae.inference.decisions import decisions_in_database
from mcae.inference.errors import ProjectStateError
from mcae.inference.project import Project as EngineProject
from mcae.platform.annotation.db import Database, redacted
from mcae.platform.annotation.importer import engine_decisions
from mcae.platform.annotation.models import Project
from mcae.platform.settings import Settings, get_settings


def settings_for(catalog: Path | None = None, database: str | None = None) -> Settings:
    settings = get_settings()  # an invalid setting: one line (SettingsError)
    if catalog is not None:
        settings.tiles.catalog_path = catalog
    if database is not None:
        settings.database.url = database
    return settings


def open_database(settings: Settings, migrate: bool = True) -> Database:
    """The settings' database, checked (SQLite migrated when ``migrate``)."""
    db = Database(settings.database_url(), settings.database.busy_timeout_s)
    db.require_current(migrate_sqlite=migrate)
    return db


def project_id_for(db: Database, root: str | Path) -> str:
    resolved = str(Path(root).resolve())
    with db.reader() as session:
        found = session.scalar(select(Project.id).where(Project.root == resolved))
    if found is None:
        raise ProjectStateError(f"{root} is not a project of the annotation database {redacted(db.url)}; "
                                "give the same --catalog/--database as when it was added "
                                "(`mcae projects add`)")
    return found


def decisions_for(project: EngineProject, settings: Settings) -> list[EngineDecision] | None:
    """The database's decisions for a project it owns; None where the engine's file is the store."""
    if not decisions_in_database(project):
        return None
    db = open_database(settings)
    try:
        project_id = project_id_for(db, project.root)
        with db.reader() as session:
            return engine_decisions(session, project_id)
    finally:
        db.dispose()
