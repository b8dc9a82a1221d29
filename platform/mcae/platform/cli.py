"""The ``mcae`` command line: one command per pipeline step, plus the demo."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from mcae.inference.errors import MCAEError
from mcae.platform.settings import get_settings

app = typer.Typer(
    name="mcae",
    help="MCAE: sub-meter land-cover maps of whole cities, from imagery to a COG.\n\n"
         "Typical run: segment -> label -> train -> (label -> train ...) -> map -> evaluate.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project folder (one city).")]
SchedulerOpt = Annotated[str | None, typer.Option(
    help="Dask scheduler address; 'synchronous' runs in this process. "
         "Default: a local cluster.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Workers of the local Dask cluster.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def friendly_errors(fn: F) -> F:
    """Turn MCAE errors into one line on stderr and their exit code (2 for bad input)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MCAEError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("interrupted; finished patches are kept and a rerun resumes")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _executor(scheduler: str | None, workers: int | None, quiet: bool) -> Any:
    from mcae.inference.compute import executor

    settings = get_settings()
    return executor(scheduler or settings.scheduler,
                    workers if workers is not None else settings.workers, quiet)


def get_app() -> typer.Typer:
    """The CLI with every command registered (commands live in their own modules)."""
    from mcae.platform import (  # noqa: F401
        commands_analysis,
        commands_catalog,
        commands_engine,
        commands_extra,
        commands_serve,
    )

    return app


def main() -> None:
    """Entry point of the ``mcae`` script."""
    get_app()(prog_name="mcae")


if __name__ == "__main__":  # pragma: no cover
    main()
