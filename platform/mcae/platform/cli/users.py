"""``mcae users``: reserved (commands to come)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Users and their tokens.", no_args_is_help=True)
