"""``mcae demo``: a synthetic city through the whole pipeline, served and annotated (top level: the
root merges this app without a name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mcae.platform.cli._common import QuietOpt, SchedulerOpt, WorkersOpt, console, friendly_errors
from mcae.platform.settings import get_settings

app = typer.Typer(help="The synthetic demo city.")


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
    """Build a synthetic city, run the whole pipeline on it and write its maps (all synthetic).

    Run it again on the same --out to resume: the scene (same size and seed; one stopped while
    being drawn keeps its finished rows of tiles) and the finished patches are reused; the
    simulated expert and the later steps start over."""
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
    from mcae.platform.annotation.demo import setup_demo_annotation

    tokens = setup_demo_annotation(options.out, get_settings(catalog=store.path))
    console.print(f"annotation service: project 'demo' with the simulated expert's decisions; tokens of an "
                  f"annotator, a reviewer and an admin in {tokens}")
    assessed = options.out / "assessment" / "report.json"
    if assessed.is_file():
        oa = json.loads(assessed.read_text())["overall_accuracy"]
        console.print(f"map accuracy (stratified sample labelled by the SIMULATED response from reference.tif): "
                      f"OA {oa['estimate']:.1%} ± {oa['ci95']:.1%} (95 % CI); {assessed.parent}")
    console.print(f"[green]demo finished[/] in {result['seconds']:.0f} s: {options.out} "
                  f"(catalog: {store.path}); serve it with `mcae serve --catalog {store.path}`")
