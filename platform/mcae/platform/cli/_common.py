"""What every command module shares: the console, option types, the error wrapper, the executor.

Command modules import this, never the root (``mcae.platform.cli.root``), which composes them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from mcae.inference.errors import InputError, MCAEError

if TYPE_CHECKING:
    from mcae.platform.annotation.db import Database
    from mcae.tiles.catalog import CatalogStore

console = Console(stderr=True)
stdout = Console()  # results meant for a pipe or a file (tables); notes go to `console`
F = TypeVar("F", bound=Callable[..., Any])

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project folder (one city).")]
SchedulerOpt = Annotated[str | None, typer.Option(
    help="Dask scheduler address; 'synchronous' runs in this process. "
         "Default: a local cluster.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Workers of the local Dask cluster.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
CatalogOpt = Annotated[Path | None, typer.Option(
    help="Catalog file [MCAE_TILES__CATALOG_PATH or demo-output/catalog.json].")]
DatabaseOpt = Annotated[str | None, typer.Option(
    "--database", help="Annotation database URL (SQLAlchemy; default: MCAE_DATABASE__URL, else annotation.db "
                       "beside the catalog).")]


def friendly_errors(fn: F) -> F:
    """Turn MCAE errors into one line on stderr and their exit code (2 for bad input, a full
    disk and an unknown catalog id)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MCAEError as exc:  # an unknown catalog id too (UnknownId is a NotFoundError)
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # a full disk anywhere else (a project file, a record): one line too
            from mcae.inference.disk_full import is_out_of_space

            if not is_out_of_space(exc):
                raise
            name = Path(exc.filename).name if exc.filename else "a file"
            console.print(f"[bold red]error:[/] no space left on the disk while writing {name}: free some "
                          "space and run the command again", highlight=False, soft_wrap=True)
            raise typer.Exit(InputError.exit_code) from None
        except KeyboardInterrupt:
            console.print("interrupted; finished patches are kept and a rerun resumes")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def executor(scheduler: str | None, workers: int | None, quiet: bool) -> Any:
    """The Dask executor of a command: its options, else the settings' defaults."""
    from mcae.inference.compute import executor as make_executor
    from mcae.platform.settings import get_settings

    settings = get_settings()
    return make_executor(scheduler or settings.scheduler,
                         workers if workers is not None else settings.workers, quiet)


def open_store(catalog: Path | None) -> CatalogStore:
    """The catalog of ``--catalog``, else of the settings, read with the settings' sources."""
    from mcae.platform.settings import get_settings
    from mcae.tiles.catalog import CatalogStore
    from mcae.tiles.gdal import Sources

    tiles = get_settings().tiles
    return CatalogStore(catalog or tiles.catalog_path, Sources.from_settings(tiles))


def command_database(catalog: Path | None, database: str | None) -> Database:
    """The annotation database of ``--database``, else beside ``--catalog``, else of the settings
    (SQLite migrated): one per command, disposed by the caller."""
    from mcae.platform.annotation.db import open_database
    from mcae.platform.settings import get_settings

    return open_database(get_settings(catalog=catalog, database=database))
