"""``mcae evaluate``: a map's accuracy against a reference raster (top level: the root merges this
app without a name)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcae.platform.cli._common import console, friendly_errors

app = typer.Typer(help="A map's accuracy against a reference.")


def _merge_groups(merge: list[str]) -> list[tuple[int, ...]]:
    try:
        return [tuple(int(v) for v in group.split(",")) for group in merge]
    except ValueError:
        raise typer.BadParameter("--merge takes comma-separated class ids, e.g. 2,5") from None


@app.command()
@friendly_errors
def evaluate(
    map_path: Annotated[Path, typer.Argument(metavar="MAP", help="Land-cover map (MCAE ids).")],
    reference: Annotated[Path, typer.Argument(help="Reference raster (MCAE ids, 0 ignored).")],
    out: Annotated[Path | None, typer.Option(help="Report folder (JSON, CSV, PNG plot).")] = None,
    merge: Annotated[list[str] | None, typer.Option(
        help="Classes scored as one, e.g. --merge 2,5 (repeatable).")] = None,
) -> None:
    """Accuracy of a map against a reference: OA, kappa, per-class P/R/F1/IoU, confusion."""
    from mcae.inference.evaluate import evaluate_rasters

    report = evaluate_rasters(map_path, reference, merge=_merge_groups(merge or []) or None)
    typer.echo(report.summary())
    if out is not None:
        written = report.write(out)
        console.print(f"[green]report written:[/] {', '.join(str(p) for p in written.values())}")
