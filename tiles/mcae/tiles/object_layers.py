"""Publishing a map into object storage and registering it as an ``s3://`` catalog layer.

The map is validated locally (rio-cogeo), uploaded whole with the files that describe it
beside it (``<map>.tif.aux.xml``, ``<map>.qml``: class names for GDAL and QGIS), and only
then put into the catalog, with bounds and zoom range read from the local file and a
serving copy read back through ``/vsis3/`` (so it records the object's ETag).
"""

from __future__ import annotations

from pathlib import Path

from rio_cogeo.cogeo import cog_validate

from mcae.inference import object_store
from mcae.inference.errors import InputError
from mcae.tiles.catalog import CatalogStore, Layer, LayerKind, make_id
from mcae.tiles.layers import districts_from_geojson, ensure_city, layer_from_file
from mcae.tiles.serving import prune_serving_copies, with_serving_copy
from mcae.tiles.whole_files import put_with_files


def describing_files(local: Path) -> list[Path]:
    """The files beside ``local`` that describe it (``x.tif.aux.xml``, ``x.qml``)."""
    return sorted(p for p in local.parent.iterdir() if p.is_file() and p != local
                  and (p.name.startswith(local.name + ".") or p.name == local.stem + ".qml"))


def upload_map(local: str | Path, url: str) -> str:
    """Upload a local COG (validated first) and its describing files to ``url``."""
    local = Path(local)
    object_store.split(url)
    object_store.require(object_store.active())
    if not url.endswith((".tif", ".tiff")):
        raise InputError(f"{url}: an object key for a map ends in .tif")
    valid, errors, _ = cog_validate(str(local), quiet=True)
    if not valid:
        raise InputError(f"{local}: not a valid Cloud-Optimized GeoTIFF ({'; '.join(errors)})")
    object_store.upload(local, url)  # the map first: whoever finds its names finds the map
    name = url.rsplit("/", 1)[1]
    folder = url[:-len(name)]
    for extra in describing_files(local):  # named after the object: x.tif.aux.xml, x.qml
        if extra.name.startswith(local.name + "."):
            object_store.upload(extra, folder + name + extra.name[len(local.name):])
        else:
            object_store.upload(extra, folder + Path(name).stem + extra.name[len(local.stem):])
    return url


def publish_object_layer(store: CatalogStore, city: str, local: str | Path, url: str, *, kind: LayerKind,
                         layer_id: str | None = None, title: str | None = None, city_name: str | None = None,
                         provenance: str = "real", districts: str | Path | None = None,
                         district_field: str = "name", serving: bool = True, description: str = "") -> Layer:
    """Upload ``local`` to ``url`` and add (or replace) it as a layer of ``city`` stored as ``url``."""
    city_id = make_id(city)
    upload_map(local, url)
    on_disk = layer_from_file(store, local, kind=kind, layer_id=layer_id, title=title, provenance=provenance,
                              description=description, serving=False)
    layer = on_disk.model_copy(update={"path": url})
    if serving:
        layer = with_serving_copy(store, layer)  # read back through /vsis3/: records the object's ETag
    ensure_city(store, city_id, city_name or city, provenance)
    found = store.city(city_id)
    new_districts = districts_from_geojson(districts, district_field) if districts is not None else None
    old = found.layers.get(layer.id)
    # whole files to download: the object itself (hashed from the file just uploaded), sidecars, districts
    layer = put_with_files(store, city_id, layer, new_districts or found.districts, local=Path(local))
    if old is not None and old.serving_path and old.serving_path != layer.serving_path:
        prune_serving_copies(store, only=[store.resolve(old.serving_path)])
    if new_districts is not None:
        store.put_city(store.city(city_id).model_copy(update={"districts": new_districts}))
    return layer
