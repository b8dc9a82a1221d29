"""Where a command's decisions live: the project's decisions file, or the annotation database
once the project was added to it (`mcae projects add`); never both.

One command, one database: a ``DecisionStore`` opens it on first use, at most once, finds the
project's id once, reads and writes through the service layer
(``mcae.platform.annotation.project_folders``) and closes it when the command's ``with`` ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mcae.inference.decisions import Decision, DecisionsFile, decisions_in_database
from mcae.inference.project import Project
from mcae.platform.cli._common import DatabaseOpt

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from mcae.platform.annotation.db import Database
    from mcae.platform.settings import Settings

__all__ = ["DatabaseOpt", "DecisionStore", "StoreCatalogOpt", "project_settings", "recorded_database"]

T = TypeVar("T")
StoreCatalogOpt = Annotated[Path | None, typer.Option(
    "--catalog", help="Catalog whose folder holds the annotation database \\[the database project.json "
                      "records (`mcae projects add` writes it), else MCAE_TILES__CATALOG_PATH or "
                      "demo-output/catalog.json].")]


def recorded_database(project: Project) -> str | None:
    """The database URL ``project.json`` records for the project's decisions (None if none, or
    if its password was left out: then MCAE_DATABASE__URL or --database must give it)."""
    entry = project.manifest.get("decisions_database")
    url = entry.get("url") if isinstance(entry, dict) else None
    return url if isinstance(url, str) and "***" not in url else None


def project_settings(project: Project, catalog: Path | None, database: str | None) -> Settings:
    """Settings naming the project's database: --database, --catalog, the environment, else the
    one ``project.json`` records (``mcae projects add`` writes it there)."""
    from mcae.platform.settings import get_settings

    if database is None and catalog is None and not any(
            os.environ.get(name) for name in ("MCAE_DATABASE__URL", "MCAE_TILES__CATALOG_PATH")):
        database = recorded_database(project)
    return get_settings(catalog=catalog, database=database)


class DecisionStore:
    """The decisions of one command's project: None from every read where the project's file is
    the store (the engine reads it), else the annotation database's, opened once."""

    def __init__(self, project: Project, catalog: Path | None, database: str | None) -> None:
        self.project = project
        self.in_database = decisions_in_database(project)
        self._catalog, self._database = catalog, database
        self._db: Database | None = None
        self._project_id = ""
        self._spool: Path | None = None  # the command's copies of the decisions (removed at close)

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None
        if self._db is not None:
            self._db.dispose()
            self._db = None

    def _open(self) -> tuple[Database, str]:
        """The database and the project's id in it (opened and looked up on first use only)."""
        if self._db is None:
            from mcae.platform.annotation.db import open_database, redacted
            from mcae.platform.annotation.project_folders import project_of_folder

            db = open_database(project_settings(self.project, self._catalog, self._database), create=False)
            try:
                with db.reader() as session:
                    self._project_id = project_of_folder(session, self.project.root, redacted(db.url))
            except BaseException:
                db.dispose()
                raise
            self._db = db
        return self._db, self._project_id

    def _read(self, query: Callable[[Session, str], T]) -> T | None:
        """``query(session, project_id)`` in a read session; None where the file is the store."""
        if not self.in_database:
            return None
        db, ident = self._open()
        with db.reader() as session:
            return query(session, ident)

    def decisions(self) -> DecisionsFile | None:
        """The decisions in force, in order (None: the project's file holds them), as a file the
        engine reads line by line: read from the database a chunk at a time into JSON Lines of the
        command's own, beside the project, removed when the store closes (keep it open while
        the decisions are read)."""
        from mcae.platform.annotation.decision_stream import spool_decisions

        if not self.in_database:
            return None
        db, ident = self._open()
        if self._spool is None:
            self._spool = Path(tempfile.mkdtemp(prefix=".mcae-decisions-", dir=self.project.root))
        path = self._spool / f"decisions-{len(list(self._spool.iterdir()))}.jsonl"
        with db.reader() as session:
            return spool_decisions(session, ident, path)

    def iter_decisions(self) -> Iterator[Decision]:
        """The decisions in force, in order, one at a time (read a chunk at a time in one read
        session); only for a project the database holds."""
        from mcae.platform.annotation.decision_stream import iter_engine_decisions

        db, ident = self._open()
        with db.reader() as session:
            yield from iter_engine_decisions(session, ident)

    def checked_patches(self) -> set[str] | None:
        """Patches marked fully checked (None: the project's file holds the decisions)."""
        from mcae.platform.annotation.project_folders import checked_patch_names

        return self._read(checked_patch_names)

    def record(self, new: Iterable[Decision], source: str) -> int:
        """Add decisions to the database (author ``engine``, now), as they come (``new`` may be a
        generator); returns how many. Only for a project the database holds."""
        from mcae.platform.annotation.project_folders import record_command_decisions

        db, ident = self._open()
        with db.session() as session:
            return record_command_decisions(session, ident, new, source)

    def after_training(self, report: Any, decisions: int) -> None:
        """Re-import the new predictions and record the training (nothing for a file project)."""
        if not self.in_database:
            return
        from mcae.platform.annotation.project_folders import record_training

        db, ident = self._open()
        with db.session() as session:
            record_training(session, ident, self.project.root, report, decisions)
