"""``mcae compare``, ``mcae ingest sinolc1 | layer`` and ``mcae catalog stac``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mcae.platform.cli import app, console, friendly_errors
from mcae.platform.commands_catalog import CatalogOpt, _store, catalog_app

if TYPE_CHECKING:
    from mcae.tiles.ingest import Ingested

F = TypeVar("F", bound=Callable[..., Any])


def known_ids(fn: F) -> F:
    """An unknown city or layer id becomes an input error (one line, exit code 2)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mcae.inference.errors import InputError
        from mcae.tiles.catalog import UnknownId

        try:
            return fn(*args, **kwargs)
        except UnknownId as exc:
            raise InputError(str(exc)) from None

    return wrapper  # type: ignore[return-value]

ingest_app = typer.Typer(help="Add categorical maps made elsewhere (SinoLC-1, ...) to a city.",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")

CityOpt = Annotated[str, typer.Option("--city", help="City id (created when new).")]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="GeoTIFF of class values.")]
LegendOpt = Annotated[Path | None, typer.Option(
    "--legend", help="JSON list of {id, name, color}: replaces the file's own classes.")]
SyntheticOpt = Annotated[bool, typer.Option(help="Mark the data as synthetic.")]
OutOpt = Annotated[Path | None, typer.Option(
    help="Where to write the COG \\[layers/<city>/<layer>.tif beside the catalog].")]


@app.command()
@friendly_errors
@known_ids
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

    result, paths = run_comparison(_store(catalog), city, mcae_layer=mcae_layer, sinolc1_layer=sinolc1_layer)
    summary = summarise(result.counts["city"], "city", result.city.name)
    agreement, kappa = summary["overall_agreement"], summary["kappa"]
    typer.echo(f"{result.city.name}: {summary['pixels']['compared']:,} px compared, agreement "
               f"{agreement:.2%}, kappa {kappa:.3f}" if agreement is not None else
               f"{result.city.name}: no pixel compared")
    console.print(f"[green]written:[/] {', '.join(str(p) for p in paths.values())}; "
                  f"layer {city}/agreement added")


@ingest_app.command("sinolc1")
@friendly_errors
@known_ids
def ingest_sinolc1(
    file: FileArg, city: CityOpt, legend: LegendOpt = None,
    layer: Annotated[str, typer.Option(help="Layer id.")] = "sinolc1",
    title: Annotated[str, typer.Option(help="Display title.")] = "SinoLC-1",
    synthetic: SyntheticOpt = False, out: OutOpt = None, catalog: CatalogOpt = None,
) -> None:
    """A SinoLC-1 prefecture GeoTIFF, clipped to the city, as a COG with mode overviews.

    The file's colour table and attribute table (``FILE.aux.xml``) win over the published
    SinoLC-1 legend; a legend file wins over both.
    """
    from mcae.tiles.ingest import ingest_sinolc1 as ingest

    _report(ingest(_store(catalog), file, city=city, layer_id=layer, legend_path=legend, title=title,
                   synthetic=synthetic, out=out))


@ingest_app.command("layer")
@friendly_errors
@known_ids
def ingest_layer(
    file: FileArg, city: CityOpt,
    layer: Annotated[str, typer.Option(help="Layer id (lowercase, digits, - and _).")],
    legend: Annotated[Path, typer.Option(help="JSON list of {id, name, color}.")],
    title: Annotated[str | None, typer.Option(help="Display title \\[the layer id].")] = None,
    synthetic: SyntheticOpt = False, out: OutOpt = None, catalog: CatalogOpt = None,
) -> None:
    """Any other categorical map, clipped to the city, with the classes of its legend file."""
    from mcae.tiles.catalog import LayerKind
    from mcae.tiles.ingest import ingest_map

    _report(ingest_map(_store(catalog), file, city=city, layer_id=layer, kind=LayerKind.other,
                       legend_path=legend, title=title, synthetic=synthetic, out=out))


def _report(done: Ingested) -> None:
    clip = "not clipped (the city has no other layer or district)" if done.clipped_to is None else \
        "clipped to the city"
    console.print(f"[green]ingested[/] {done.layer.id} ({done.layer.kind.value}): {done.size[0]} x "
                  f"{done.size[1]} px, {clip}; {len(done.layer.legend or [])} classes from "
                  f"{', '.join(done.legend_sources)}; {done.path}")


@catalog_app.command("stac")
@friendly_errors
@known_ids
def stac(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the static STAC catalog.")],
    base_url: Annotated[str | None, typer.Option(
        help="Server URL: assets and links point at its routes \\[assets point at the local files].")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Export the catalog as a static STAC catalog (collection per city, item per layer)."""
    from mcae.tiles.stac import export_catalog

    console.print(f"[green]STAC catalog written:[/] {export_catalog(_store(catalog), out, base_url)}")
