"""``mcae ingest sinolc1 | layer``: categorical maps made elsewhere, added to a city."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mcae.platform.cli._common import CatalogOpt, console, friendly_errors, open_store

if TYPE_CHECKING:
    from mcae.tiles.ingest import Ingested

app = typer.Typer(help="Add categorical maps made elsewhere (SinoLC-1, ...) to a city.", no_args_is_help=True)

CityOpt = Annotated[str, typer.Option("--city", help="City id (created when new).")]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="GeoTIFF of class values.")]
LegendOpt = Annotated[Path | None, typer.Option(
    "--legend", help="JSON list of {id, name, color}: replaces the file's own classes.")]
SyntheticOpt = Annotated[bool, typer.Option(help="Mark the data as synthetic.")]
OutOpt = Annotated[Path | None, typer.Option(
    help="Where to write the COG \\[layers/<city>/<layer>.tif beside the catalog].")]


@app.command("sinolc1")
@friendly_errors
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

    _report(ingest(open_store(catalog), file, city=city, layer_id=layer, legend_path=legend, title=title,
                   synthetic=synthetic, out=out))


@app.command("layer")
@friendly_errors
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

    _report(ingest_map(open_store(catalog), file, city=city, layer_id=layer, kind=LayerKind.other,
                       legend_path=legend, title=title, synthetic=synthetic, out=out))


def _report(done: Ingested) -> None:
    clip = "not clipped (the city has no other layer or district)" if done.clipped_to is None else \
        "clipped to the city"
    console.print(f"[green]ingested[/] {done.layer.id} ({done.layer.kind.value}): {done.size[0]} x "
                  f"{done.size[1]} px, {clip}; {len(done.layer.legend or [])} classes from "
                  f"{', '.join(done.legend_sources)}; {done.path}")
