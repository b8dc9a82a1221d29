"""``mcae db``: the annotation database (migrations)."""

from __future__ import annotations

import typer

from mcae.platform.cli._common import CatalogOpt, DatabaseOpt, console, friendly_errors

app = typer.Typer(help="The annotation database: migrations.", no_args_is_help=True)


@app.command()
@friendly_errors
def upgrade(catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Migrate the database to the newest revision (Alembic)."""
    from mcae.platform.annotation.db import Database, current_revision, reaching, redacted
    from mcae.platform.settings import get_settings

    settings = get_settings(catalog=catalog, database=database)
    url = settings.database_url()
    with reaching(url):
        db = Database(url, settings.database.busy_timeout_s)
        try:
            before = current_revision(db.engine)
            after = db.upgrade()
        finally:
            db.dispose()
    console.print(f"{redacted(db.url)}: revision {before or 'none'} -> {after}", highlight=False)


@app.command()
@friendly_errors
def current(catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Show the database's revision and the newest one."""
    from mcae.platform.annotation.db import Database, current_revision, head_revision, reaching, redacted
    from mcae.platform.settings import get_settings

    settings = get_settings(catalog=catalog, database=database)
    url = settings.database_url()
    with reaching(url):
        db = Database(url, settings.database.busy_timeout_s)
        try:
            now, head = current_revision(db.engine), head_revision()
        finally:
            db.dispose()
    state = "up to date" if now == head else "behind: run `mcae db upgrade`"
    typer.echo(f"{redacted(db.url)}: revision {now or 'none'}, newest {head} ({state})")
