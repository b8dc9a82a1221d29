"""The root ``mcae`` command: composes every command module's own ``typer.Typer``.

Pipeline and serving commands are merged at the top level (``add_typer`` without a name:
``mcae segment``, ``mcae serve`` ...); groups keep their names (``mcae catalog list``).
To add commands: write a module in this package with ``app = typer.Typer(help=...)``
(importing ``_common``, never this module) and add it to ``SUB_APPS`` below.
"""

from __future__ import annotations

import importlib

import typer

# (module in this package, group name or None to merge its commands at the top level)
SUB_APPS: list[tuple[str, str | None]] = [
    ("engine", None),
    ("label", None),
    ("groups", None),
    ("evaluate", None),
    ("demo", None),
    ("compare", None),
    ("serve", None),
    ("catalog", "catalog"),
    ("ingest", "ingest"),
    ("db", "db"),
    ("users", "users"),
    ("projects", "projects"),
    ("publish", None),
    ("assess", "assess"),
]


def build_app() -> typer.Typer:
    """A new root app with every sub-app added."""
    root = typer.Typer(
        name="mcae",
        help="MCAE: sub-meter land-cover maps of whole cities, from imagery to a COG.\n\n"
             "Typical run: segment -> label -> train -> (label -> train ...) -> map -> evaluate.",
        no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    )
    for module_name, name in SUB_APPS:
        try:
            module = importlib.import_module(f"mcae.platform.cli.{module_name}")
        except ModuleNotFoundError as exc:  # an optional group not written yet
            if exc.name != f"mcae.platform.cli.{module_name}":
                raise
            continue
        sub: typer.Typer = module.app
        if name is None:
            root.add_typer(sub)
        else:
            root.add_typer(sub, name=name)
    return root


_APP: typer.Typer | None = None


def get_app() -> typer.Typer:
    """The CLI with every command registered (built once)."""
    global _APP
    if _APP is None:
        _APP = build_app()
    return _APP


def main() -> None:
    """Entry point of the ``mcae`` script."""
    get_app()(prog_name="mcae")
