"""``mcae db``: reserved (commands to come)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The annotation database.", no_args_is_help=True)
