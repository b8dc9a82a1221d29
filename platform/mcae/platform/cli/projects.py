"""``mcae projects``: project folders in the annotation database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcae.platform.cli._common import CatalogOpt, DatabaseOpt, command_database, friendly_errors

app = typer.Typer(help="Project folders in the annotation database (import, refresh, list).",
                  no_args_is_help=True)


@app.command()
@friendly_errors
def add(folder: Annotated[Path, typer.Argument(help="The project folder (after `mcae segment`).")],
        project_id: Annotated[str | None, typer.Option("--id", help="Project id (default: from the folder).")] = None,
        name: Annotated[str | None, typer.Option(help="Display name.")] = None,
        city: Annotated[str | None, typer.Option(help="Catalog city whose layer a rebuild republishes.")] = None,
        layer: Annotated[str, typer.Option(help="The catalog layer a rebuild republishes.")] = "mcae",
        catalog: CatalogOpt = None, database: DatabaseOpt = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Import a project folder's masks and groups (again after re-clustering: decisions are kept).

    The first import also takes the folder's decisions.jsonl; from then on the database holds
    the decisions, and `mcae train`, `mcae map`, `mcae label` and `mcae export-dataset` use it.
    The import is one transaction, streamed in batches: interrupted, it leaves the database as it
    was, and running it again starts it over.
    """
    import time

    from mcae.inference.compute import progress_bar
    from mcae.platform.annotation.project_folders import import_folder
    from mcae.tiles.catalog import make_id

    db = command_database(catalog, database)
    ident = project_id or make_id(folder.resolve().name)
    start = time.perf_counter()
    try:
        with db.session() as session, progress_bar(quiet) as bar:
            task = bar.add_task("importing masks", total=None)
            decisions_task = None

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            def advance_decisions(done: int, total: int) -> None:  # a first import's decisions.jsonl
                nonlocal decisions_task
                if decisions_task is None:
                    decisions_task = bar.add_task("loading decisions", total=total)
                bar.update(decisions_task, completed=done, total=total)

            summary = import_folder(session, folder, ident, name=name, city=city, layer=layer, progress=advance,
                                    decision_progress=advance_decisions)
    finally:
        db.dispose()
    seconds = time.perf_counter() - start
    typer.echo(f"project {ident}: {summary['masks']} masks ({summary['new_masks']} new), {summary['groups']} groups, "
               f"{summary['decisions_imported']} decisions imported in {seconds:.1f} s "
               f"({summary['masks'] / max(seconds, 1e-9):,.0f} masks/s)")
    spent = summary["seconds"]
    typer.echo(f"  masks {spent['masks']:.1f} s ({summary['masks'] / max(spent['masks'], 1e-9):,.0f} masks/s), "
               f"decisions {spent['decisions']:.1f} s "
               f"({summary['decisions_imported'] / max(spent['decisions'], 1e-9):,.0f} decisions/s), "
               f"indexes built after them {spent['indexes']:.1f} s")


@app.command("list")
@friendly_errors
def list_projects(catalog: CatalogOpt = None, database: DatabaseOpt = None) -> None:
    """Every project with its progress."""
    from mcae.platform.annotation.project_folders import project_views

    db = command_database(catalog, database)
    try:
        with db.reader() as session:
            views = project_views(session)
    finally:
        db.dispose()
    for v in views:
        typer.echo(f"{v.id}\t{v.name}\t{v.decided}/{v.masks} masks decided\t{v.checked_patches}/{v.patches} "
                   f"patches checked\tcity {v.city or '-'}")
