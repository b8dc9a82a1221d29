"""``mcae publish``: a local map into S3-compatible object storage, registered in the catalog.

Also what ``mcae map --out s3://bucket/key.tif`` runs after writing the map locally. The
store is the settings' (``MCAE_S3_*`` variables; credentials from them or the usual
``AWS_*`` variables), never anything given with a request.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from mcae.platform.cli._common import CatalogOpt, console, friendly_errors, open_store

app = typer.Typer(help="Publish maps into object storage.")


def configure_storage() -> Any:
    """The settings' object store, for GDAL and boto3 in this command's process (refused while
    off; ``gdal.configure_gdal``: an app reads through its own ``Sources`` instead)."""
    from mcae.inference import object_store
    from mcae.platform.settings import get_settings
    from mcae.tiles.gdal import configure_gdal

    tiles = get_settings().tiles
    object_store.require(tiles.s3)
    configure_gdal(tiles)
    return tiles.s3


@app.command()
@friendly_errors
def publish(
    city: Annotated[str, typer.Argument(help="City id or display name.")],
    raster: Annotated[Path, typer.Argument(help="Local COG of the map (e.g. what `mcae map` wrote).")],
    to: Annotated[str, typer.Option("--to", help="Where it goes: s3://bucket/key.tif.")],
    kind: Annotated[str, typer.Option(help="imagery, mcae, sinolc1, agreement or other.")] = "mcae",
    layer: Annotated[str | None, typer.Option(help="Layer id \\[the kind].")] = None,
    title: Annotated[str | None, typer.Option(help="Display title.")] = None,
    districts: Annotated[Path | None, typer.Option(help="GeoJSON of district boundaries.")] = None,
    serving_copy: Annotated[bool, typer.Option(
        help="Also write the local serving copy for fast WebMercatorQuad tiles.")] = True,
    catalog: CatalogOpt = None,
) -> None:
    """Upload a map (validated first) to object storage and add it to the catalog as that object."""
    from mcae.tiles.catalog import LayerKind, make_id
    from mcae.tiles.object_layers import publish_object_layer

    try:
        layer_kind = LayerKind(kind)
    except ValueError:
        raise typer.BadParameter("imagery, mcae, sinolc1, agreement or other", param_hint="--kind") from None
    if not raster.is_file():
        raise typer.BadParameter(f"{raster}: no such file", param_hint="RASTER")
    configure_storage()
    store = open_store(catalog)
    with console.status(f"uploading to {to}"):
        found = publish_object_layer(store, city, raster, to, kind=layer_kind, layer_id=layer, title=title,
                                     districts=districts, serving=serving_copy)
    console.print(f"[green]published[/] {to} as {make_id(city)}/{found.id} in {store.path}")


def map_to_object_store(project: Any, url: str, *, decisions: Any, districts: Path | None, district_field: str,
                        publish_city: str | None, catalog: Path | None) -> None:
    """``mcae map --out s3://...``: write the map (and district maps) locally, validate, upload."""
    from mcae.inference import object_store
    from mcae.inference.districts import clip_districts
    from mcae.inference.mapping import write_map
    from mcae.tiles.catalog import LayerKind, make_id
    from mcae.tiles.object_layers import publish_object_layer, upload_map

    _bucket, key = object_store.split(url)
    if not key.endswith((".tif", ".tiff")):
        raise typer.BadParameter(f"{url}: the object key of a map ends in .tif", param_hint="--out")
    configure_storage()
    with tempfile.TemporaryDirectory(prefix="mcae-map-") as tmp:
        local = write_map(project, Path(tmp) / Path(key).name, decisions=decisions)
        if publish_city is None:
            upload_map(local, url)
        else:
            store = open_store(catalog)
            layer = publish_object_layer(store, publish_city, local, url, kind=LayerKind.mcae, layer_id="mcae",
                                         title="MCAE land cover", districts=districts,
                                         district_field=district_field,
                                         description=f"MCAE map of project {project.root.name}")
            console.print(f"[green]published[/] as {make_id(publish_city)}/{layer.id} in {store.path}")
        console.print(f"[green]map written:[/] {url}")
        if districts is not None:
            folder = Path(tmp) / "districts"
            for written in clip_districts(local, districts, folder, field=district_field):
                target = url.rsplit("/", 1)[0] + "/" + written.name
                upload_map(written, target)
                console.print(f"  district map: {target}")
