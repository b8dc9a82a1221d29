"""``mcae export-dataset | evaluate | info | demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mcae.platform.cli import (
    ProjectOpt,
    QuietOpt,
    SchedulerOpt,
    WorkersOpt,
    app,
    console,
    friendly_errors,
)
from mcae.platform.settings import get_settings


@app.command("export-dataset")
@friendly_errors
def export_dataset(
    project: ProjectOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    mode: Annotated[str, typer.Option(help="dense, sparse or both.")] = "both",
    quiet: QuietOpt = False,
) -> None:
    """Export 1024 px image/label pairs (dense and/or sparse) with a georeferenced manifest."""
    from mcae.inference.dataset import MODES
    from mcae.inference.dataset import export_dataset as export
    from mcae.inference.project import Project

    modes = MODES if mode == "both" else (mode,)
    if any(m not in MODES for m in modes):
        raise typer.BadParameter("mode must be dense, sparse or both", param_hint="--mode")
    manifest = export(Project.open(project), out, modes, quiet=quiet)
    console.print(f"[green]exported[/] {len(manifest['items'])} pairs ({', '.join(modes)}) to {out}")


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


@app.command()
@friendly_errors
def info(project: ProjectOpt) -> None:
    """Show a project's image, grid, generator and the steps run so far."""
    from mcae.inference.project import Project

    manifest = Project.open(project).manifest
    image = manifest["image"]
    typer.echo(f"image:     {image['path']} ({', '.join(image['band_names'])})")
    typer.echo(f"grid:      {image['width']} x {image['height']} px at {image['gsd']} m, "
               f"patches of {manifest['grid']['patch_size']} px, overlap {manifest['grid']['overlap']}")
    typer.echo(f"generator: {manifest['generator']['name']}")
    typer.echo("steps:")
    for name, step in manifest["steps"].items():
        typer.echo(f"  {name}: {json.dumps(step)}")


@app.command()
@friendly_errors
def demo(
    out: Annotated[Path | None, typer.Option(help="Output folder \\[demo-output].")] = None,
    size: Annotated[int, typer.Option(help="Scene size in px at 0.6 m (square).")] = 2048,
    budget: Annotated[int, typer.Option(help="Simulated expert actions in all.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic city.")] = 7,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Build a synthetic city, run the whole pipeline on it and write its maps (all synthetic)."""
    from mcae.inference.demo.run import DemoOptions, run_demo

    settings = get_settings()
    options = DemoOptions(out=out or settings.demo_dir, size=size, seed=seed,
                          budget=budget or None, scheduler=scheduler or settings.scheduler,
                          workers=workers if workers is not None else settings.workers,
                          quiet=quiet)
    result = run_demo(options, log=console.print)
    from mcae.tiles.compare_report import run_comparison, summarise
    from mcae.tiles.layers import register_demo

    store = register_demo(options.out)
    compared, _ = run_comparison(store, "demo-city")
    agreement = summarise(compared.counts["city"], "city", compared.city.name)["overall_agreement"]
    console.print(f"MCAE vs SinoLC-1 stand-in: {agreement:.1%} agreement (layer 'agreement')")
    console.print(f"[green]demo finished[/] in {result['seconds']:.0f} s: {options.out} "
                  f"(catalog: {store.path}); serve it with `mcae serve --catalog {store.path}`")
