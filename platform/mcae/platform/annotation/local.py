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


def recorded_database(project: EngineProject) -> str | None:
    """The database URL ``project.json`` records for the project's decisions (None if none, or
    if its password was left out: then MCAE_DATABASE__URL or --database must give it)."""
    entry = project.manifest.get("decisions_database")
    url = entry.get("url") if isinstance(entry, dict) else None
    return url if isinstance(url, str) and "***" not in url else None


def open_database(settings: Settings, migrate: bool = True, create: bool = True) -> Database:
    """The settings' database, checked (SQLite migrated when ``migrate``).

    ``create=False``: a SQLite file that does not exist is an error naming it, never a new
    empty database (a command looking for a project's decisions must not make one).
    """
    url = settings.database_url()
    path = sqlite_file(url)
    if not create and path is not None and not path.is_file():
        raise ProjectStateError(f"no annotation database at {path}: give the --catalog or --database the "
                                "project was added with (`mcae projects add`), or set MCAE_DATABASE__URL")
    db = Database(url, settings.database.busy_timeout_s)
    db.require_current(migrate_sqlite=migrate)
    return db


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


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
    db = open_database(settings, create=False)
    try:
        project_id = project_id_for(db, project.root)
        with db.reader() as session:
            return engine_decisions(session, project_id)
    finally:
        db.dispose()
