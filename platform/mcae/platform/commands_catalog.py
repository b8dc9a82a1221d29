"""``mcae catalog list | add | remove`` and ``mcae serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mcae.platform.cli import app, console, friendly_errors
from mcae.tiles.catalog import CatalogStore

catalog_app = typer.Typer(help="Cities and layers the server publishes.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

CatalogOpt = Annotated[Path | None, typer.Option(
    help="Catalog file [MCAE_TILES_CATALOG_PATH or demo-output/catalog.json].")]


def _store(catalog: Path | None) -> CatalogStore:
    from mcae.tiles.catalog import CatalogStore
    from mcae.tiles.settings import TileSettings

    return CatalogStore(catalog or TileSettings().catalog_path)


@catalog_app.command("list")
@friendly_errors
def list_(catalog: CatalogOpt = None) -> None:
    """List cities, their layers and districts."""
    store = _store(catalog)
    table = Table("city", "layer", "kind", "zoom", "provenance", "version", "file")
    for city in store.load().cities.values():
        for layer in city.layers.values():
            table.add_row(city.id, layer.id, layer.kind.value, f"{layer.minzoom}-{layer.maxzoom}",
                          layer.provenance, store.layer_version(layer), layer.path)
        if city.districts:
            table.add_row(city.id, f"({len(city.districts)} districts)", "", "", "", "", "")
    console.print(table)


@catalog_app.command()
@friendly_errors
def add(
    city: Annotated[str, typer.Argument(help="City id (lowercase, digits, - and _).")],
    raster: Annotated[Path, typer.Argument(help="COG of the layer.")],
    kind: Annotated[str, typer.Option(help="imagery, mcae, sinolc1, agreement or other.")] = "mcae",
    layer: Annotated[str | None, typer.Option(help="Layer id [the kind].")] = None,
    title: Annotated[str | None, typer.Option(help="Display title.")] = None,
    name: Annotated[str | None, typer.Option(help="City display name (new cities).")] = None,
    districts: Annotated[Path | None, typer.Option(help="GeoJSON of district boundaries.")] = None,
    synthetic: Annotated[bool, typer.Option(help="Mark the data as synthetic.")] = False,
    catalog: CatalogOpt = None,
) -> None:
    """Add (or replace) a layer of a city; creates the city when new."""
    from mcae.tiles.catalog import LayerKind, make_id
    from mcae.tiles.layers import districts_from_geojson, ensure_city, layer_from_file

    store = _store(catalog)
    city_id = make_id(city)
    provenance = "synthetic" if synthetic else "real"
    ensure_city(store, city_id, name or city, provenance)
    try:
        layer_kind = LayerKind(kind)
    except ValueError:
        raise typer.BadParameter(f"unknown kind {kind!r}", param_hint="--kind") from None
    new = layer_from_file(store, raster, kind=layer_kind, layer_id=layer, title=title,
                          provenance=provenance)
    store.put_layer(city_id, new)
    if districts is not None:
        found = store.city(city_id)
        store.put_city(found.model_copy(update={"districts": districts_from_geojson(districts)}))
    console.print(f"[green]added[/] {city_id}/{new.id} ({new.kind.value}, zoom {new.minzoom}-{new.maxzoom})")


@catalog_app.command()
@friendly_errors
def remove(
    city: Annotated[str, typer.Argument(help="City id.")],
    layer: Annotated[str | None, typer.Argument(help="Layer id; without it the whole city.")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Remove a layer, or a whole city, from the catalog (files are kept)."""
    _store(catalog).remove(city, layer)
    console.print(f"[green]removed[/] {city}{'/' + layer if layer else ''}")
