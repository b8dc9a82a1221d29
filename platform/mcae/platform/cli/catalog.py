"""``mcae catalog list | add | remove | optimize | files | stac``: the cities and layers the server publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mcae.platform.cli._common import CatalogOpt, console, friendly_errors, open_store
from mcae.tiles.catalog import CatalogStore, Layer
from mcae.tiles.gdal import SourceRefused

app = typer.Typer(help="Cities and layers the server publishes.", no_args_is_help=True)


@app.command("list")
@friendly_errors
def list_(catalog: CatalogOpt = None) -> None:
    """List cities, their layers and districts."""
    store = open_store(catalog)
    table = Table("city", "layer", "kind", "zoom", "provenance", "version", "serving copy", "file")
    stale = 0
    for city in store.load().cities.values():
        for layer in city.layers.values():
            try:
                version, state = store.layer_version(layer), serving_state(store, layer)
            except SourceRefused:
                version, state = "[red]file missing[/]", ""
            stale += state == "stale"
            table.add_row(city.id, layer.id, layer.kind.value, f"{layer.minzoom}-{layer.maxzoom}",
                          layer.provenance, version, state, layer.path)
        if city.districts:
            table.add_row(city.id, f"({len(city.districts)} districts)", "", "", "", "", "", "")
    console.print(table)
    if stale:
        console.print(f"[yellow]{stale} serving copies are stale[/]: those layers' tiles are read from "
                      "their own files (slower) until `mcae catalog optimize` rewrites them")


def serving_state(store: CatalogStore, layer: Layer) -> str:
    """fresh, stale (the layer's file changed since) or none."""
    if not layer.serving_path:
        return "none"
    return "fresh" if store.serving_copy(layer) is not None else "stale"


@app.command()
@friendly_errors
def add(
    city: Annotated[str, typer.Argument(help="City id (lowercase, digits, - and _).")],
    raster: Annotated[Path, typer.Argument(help="COG of the layer.")],
    kind: Annotated[str, typer.Option(help="imagery, mcae, sinolc1, agreement or other.")] = "mcae",
    layer: Annotated[str | None, typer.Option(help="Layer id \\[the kind].")] = None,
    title: Annotated[str | None, typer.Option(help="Display title.")] = None,
    name: Annotated[str | None, typer.Option(help="City display name (new cities).")] = None,
    districts: Annotated[Path | None, typer.Option(help="GeoJSON of district boundaries.")] = None,
    synthetic: Annotated[bool, typer.Option(help="Mark the data as synthetic.")] = False,
    serving_copy: Annotated[bool, typer.Option(
        help="Write a web-optimized copy for fast WebMercatorQuad tiles (in .serving/ beside the catalog).")] = True,
    catalog: CatalogOpt = None,
) -> None:
    """Add (or replace) a layer of a city; creates the city when new.

    The layer's file stays where it is. Its tiles are served from a web-optimized copy
    (EPSG:3857, aligned with the tile grid) that this command writes once.
    """
    from mcae.tiles.catalog import LayerKind, make_id
    from mcae.tiles.layers import publish_layer

    store = open_store(catalog)
    try:
        layer_kind = LayerKind(kind)
    except ValueError:
        raise typer.BadParameter(f"unknown kind {kind!r}", param_hint="--kind") from None
    city_id = make_id(city)
    with console.status(f"reading {raster.name}" + (" and writing its serving copy" if serving_copy else "")):
        new = publish_layer(store, city, raster, kind=layer_kind, layer_id=layer, title=title, city_name=name,
                            provenance="synthetic" if synthetic else "real", districts=districts,
                            serving=serving_copy)
    console.print(f"[green]added[/] {city_id}/{new.id} ({new.kind.value}, zoom {new.minzoom}-{new.maxzoom})")


@app.command()
@friendly_errors
def remove(
    city: Annotated[str, typer.Argument(help="City id.")],
    layer: Annotated[str | None, typer.Argument(help="Layer id; without it the whole city.")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Remove a layer, or a whole city, from the catalog (its files are kept; serving copies no
    other layer uses are deleted)."""
    from mcae.tiles.serving import prune_serving_copies

    store = open_store(catalog)
    found = store.city(city)
    gone = list(found.layers.values()) if layer is None else [found.layers[layer]] if layer in found.layers else []
    store.remove(city, layer)  # UnknownId for an unknown layer
    pruned = prune_serving_copies(store, only=[store.resolve(la.serving_path) for la in gone if la.serving_path])
    note = f" and {len(pruned)} serving copies" if pruned else ""
    console.print(f"[green]removed[/] {city}{'/' + layer if layer else ''}{note}")


@app.command()
@friendly_errors
def optimize(
    city: Annotated[str | None, typer.Argument(help="Only this city.")] = None,
    force: Annotated[bool, typer.Option(help="Rewrite copies that are still fresh too.")] = False,
    catalog: CatalogOpt = None,
) -> None:
    """Write the serving copies that are missing or stale (after a layer's file was rewritten).

    Tiles of a layer whose copy is stale are read from the layer's own file: always correct,
    several times slower. Copies no layer uses any more are deleted once an hour old (a
    younger one may belong to a layer another command is adding).
    """
    from mcae.tiles.serving import prune_serving_copies, with_serving_copy

    store = open_store(catalog)
    cities = [store.city(city)] if city else list(store.load().cities.values())
    written, failed = 0, 0
    done: set[str | None] = set()  # copies written in this run (layers may share one)
    for found in cities:
        for layer in found.layers.values():
            if not force and store.serving_copy(layer) is not None:
                continue
            try:
                with console.status(f"{found.id}/{layer.id}: writing its serving copy"):
                    new = with_serving_copy(store, layer, force=force and layer.serving_path not in done)
            except Exception as exc:  # one unreadable layer must not stop the others
                console.print(f"[red]{found.id}/{layer.id}: no serving copy[/] ({type(exc).__name__}: {exc})")
                failed += 1
                continue
            done.add(new.serving_path)
            if not store.set_serving(found.id, layer.id, source_path=layer.path, serving_path=new.serving_path or "",
                                     serving_source=new.serving_source or ""):
                console.print(f"[yellow]{found.id}/{layer.id}: changed meanwhile, left as it is now[/]")
                continue
            console.print(f"{found.id}/{layer.id}: serving copy written")
            written += 1
    pruned = prune_serving_copies(store)
    console.print(f"[green]{written} serving copies written[/], {len(pruned)} unused ones deleted"
                  + (f", [red]{failed} failed[/]" if failed else ""))
    if failed:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def files(
    city: Annotated[str, typer.Argument(help="City id.")],
    layer: Annotated[str | None, typer.Argument(help="Layer id; without it every layer of the city.")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Record the whole files to download (map, .aux.xml, .qml, district maps; size and SHA-256)
    of layers published before they were kept, or after the city's districts changed."""
    from mcae.tiles.whole_files import put_with_files

    store = open_store(catalog)
    found = store.city(city)
    chosen = [store.layer(city, layer)] if layer is not None else list(found.layers.values())
    for item in chosen:
        with console.status(f"{city}/{item.id}: hashing its files and writing its district maps"):
            done = put_with_files(store, city, item, found.districts)
        count = len(done.files.files) if done.files else 0
        console.print(f"[green]{city}/{item.id}[/]: {count} whole files" if count else
                      f"{city}/{item.id}: its file is missing or cannot be read: no whole files")


@app.command("stac")
@friendly_errors
def stac(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the static STAC catalog.")],
    base_url: Annotated[str | None, typer.Option(
        help="Server URL: assets and links point at its routes \\[assets point at the local files].")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Export the catalog as a static STAC catalog (collection per city, item per layer)."""
    from mcae.tiles.stac import export_catalog

    console.print(f"[green]STAC catalog written:[/] {export_catalog(open_store(catalog), out, base_url)}")


@app.command()
@friendly_errors
def versions(
    city: Annotated[str, typer.Argument(help="City id.")],
    layer: Annotated[str, typer.Argument(help="Layer id.")],
    catalog: CatalogOpt = None,
) -> None:
    """List the published versions of a layer (every one stays on disk), newest first."""
    from mcae.tiles.versions import read_log

    store = open_store(catalog)
    current = store.layer(city, layer)
    table = Table("number", "version (v=)", "published", "by", "note", "current")
    for entry in reversed(read_log(store, city, layer).versions):
        table.add_row(str(entry.number), entry.version or "?", entry.published_at.isoformat(timespec="seconds"),
                      entry.by or "", entry.note, "yes" if entry.path == current.path else "")
    console.print(table)


@app.command()
@friendly_errors
def rollback(
    city: Annotated[str, typer.Argument(help="City id.")],
    layer: Annotated[str, typer.Argument(help="Layer id.")],
    version: Annotated[str, typer.Argument(help="A version number (see `mcae catalog versions`) or a layer "
                                                "version (tile URLs' v).")],
    catalog: CatalogOpt = None,
) -> None:
    """Publish a previous version of a layer again, as a NEW version.

    Tile URLs of every older version (the rolled-back one included) answer 410 naming the new one.
    """
    import getpass

    from mcae.tiles.versions import rollback as roll_back

    store = open_store(catalog)
    with console.status(f"publishing version {version} of {city}/{layer} again"):
        entry = roll_back(store, city, layer, version, by=f"{getpass.getuser()} (cli)")
    console.print(f"[green]{city}/{layer}: version {entry.number}[/] ({entry.note}), served as v={entry.version}")
