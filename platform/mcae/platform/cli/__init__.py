"""The ``mcae`` command line: ``root`` composes the command modules' sub-apps.

``main`` is the entry point of the ``mcae`` script; ``get_app`` the composed ``typer.Typer``.
"""

from __future__ import annotations

from mcae.platform.cli.root import get_app, main

__all__ = ["get_app", "main"]
