"""``mcae compare``: a city's MCAE map against SinoLC-1 (top level: merged without a name)."""

from __future__ import annotations

from typing import Annotated

import typer

from mcae.platform.cli._common import CatalogOpt, console, friendly_errors, open_store

app = typer.Typer(help="Comparisons of a city's maps.")

CityOpt = Annotated[str, typer.Option("--city", help="City id.")]


@app.command()
@friendly_errors
def compare(
    city: CityOpt,
    mcae_layer: Annotated[str | None, typer.Option("--mcae", help="MCAE layer id \\[mcae].")] = None,
    sinolc1_layer: Annotated[str | None, typer.Option("--sinolc1", help="SinoLC-1 layer id \\[sinolc1].")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Compare a city's MCAE map with SinoLC-1: agreement report and layer "agreement".

    MCAE is resampled onto the SinoLC-1 grid by mode. Writes compare.json, CSV tables,
    compare.png and agreement.tif to compare/<city>/ beside the catalog.
    """
    from mcae.tiles.compare_report import run_comparison, summarise

    result, paths = run_comparison(open_store(catalog), city, mcae_layer=mcae_layer, sinolc1_layer=sinolc1_layer)
    summary = summarise(result.counts["city"], "city", result.city.name)
    agreement, kappa = summary["overall_agreement"], summary["kappa"]
    typer.echo(f"{result.city.name}: {summary['pixels']['compared']:,} px compared, agreement "
               f"{agreement:.2%}, kappa {kappa:.3f}" if agreement is not None else
               f"{result.city.name}: no pixel compared")
    console.print(f"[green]written:[/] {', '.join(str(p) for p in paths.values())}; "
                  f"layer {city}/agreement added")
