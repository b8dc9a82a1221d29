"""Adding rasters and districts to the catalog (bounds and zoom range read from the file)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rio_tiler.io import Reader

from mcae.inference.errors import InputError
from mcae.tiles.catalog import CatalogStore, City, District, Layer, LayerKind, make_id
from mcae.tiles.class_files import name_published_classes
from mcae.tiles.geometry import native_maxzoom
from mcae.tiles.serving import prune_serving_copies, with_serving_copy
from mcae.tiles.whole_files import prune_files, put_with_files, record_files

KIND_SCHEMES = {LayerKind.mcae: "mcae", LayerKind.sinolc1: "sinolc1",
                LayerKind.agreement: "agreement", LayerKind.imagery: None}


def layer_from_file(store: CatalogStore, path: str | Path, *, kind: LayerKind,
                    layer_id: str | None = None, title: str | None = None,
                    provenance: str = "real", scheme: str | None = None,
                    legend: list[dict[str, Any]] | None = None, description: str = "",
                    serving: bool = True) -> Layer:
    """A catalog layer for a raster file (its path stored relative to the catalog).

    With ``serving`` (the default) a web-optimized serving copy is written for its tiles
    (``serving.with_serving_copy``; about a minute for a 40,000 px square map).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"{path}: no such raster")
    require_georeferenced(path)
    try:
        with Reader(str(path)) as src:
            bounds = tuple(float(v) for v in src.get_geographic_bounds(src.tms.rasterio_geographic_crs))
            minzoom = int(src.minzoom)
            maxzoom = max(minzoom, native_maxzoom(src.crs, src.transform, src.width, src.height, src.tms))
    except Exception as exc:  # rasterio and rio-tiler raise many kinds
        raise InputError(f"{path}: not a readable georeferenced raster ({exc})") from None
    try:
        rel = os.path.relpath(path, store.root.resolve())
    except ValueError:  # another drive
        rel = str(path)
    layer = Layer(id=layer_id or kind.value, kind=kind, title=title or kind.value.upper(),
                  path=rel, scheme=scheme or KIND_SCHEMES.get(kind), legend=legend,
                  bounds=bounds, minzoom=minzoom, maxzoom=maxzoom,  # type: ignore[arg-type]
                  provenance=provenance, description=description)  # type: ignore[arg-type]
    return with_serving_copy(store, layer) if serving else layer


GEOREFERENCE_HELP = (
    "the viewer places layers by their coordinates. Georeference it first: write the map with "
    "`mcae map --project DIR --out map.tif --bounds WEST,SOUTH,EAST,NORTH` (the image's corners in "
    "EPSG:4326 degrees, or in --crs), and the imagery with `gdal_translate -of COG -a_srs EPSG:4326 "
    "-a_ullr WEST NORTH EAST SOUTH image.jpg image.tif`; then `mcae catalog add` both")


def require_georeferenced(path: Path) -> None:
    """InputError saying what to do when ``path`` has no CRS (a plain image, or a map of one)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                crs = src.crs
    except RasterioError as exc:
        raise InputError(f"{path.name}: not a raster the server can read ({exc})") from None
    if crs is None:
        raise InputError(f"{path.name} has no georeferencing (a plain image segmented with --gsd, or its "
                         f"map): {GEOREFERENCE_HELP}")


def districts_from_geojson(path: str | Path, field: str = "name") -> dict[str, District]:
    """Districts of a GeoJSON FeatureCollection in EPSG:4326, keyed by id."""
    try:
        data = json.loads(Path(path).read_text())
        out = {}
        for i, feature in enumerate(data["features"]):
            name = str((feature.get("properties") or {}).get(field) or f"District {i + 1}")
            district = District(id=make_id(name), name=name, geometry=feature["geometry"])
            out[district.id] = district
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a GeoJSON of district polygons ({exc})") from None
    return out


def ensure_city(store: CatalogStore, city_id: str, name: str | None = None,
                provenance: str = "real", description: str = "") -> City:
    """The city ``city_id``, created when new."""
    catalog = store.load()
    if city_id in catalog.cities:
        return catalog.cities[city_id]
    city = City(id=city_id, name=name or city_id, provenance=provenance,  # type: ignore[arg-type]
                description=description)
    store.put_city(city)
    return city


def publish_layer(store: CatalogStore, city: str, raster: str | Path, *, kind: LayerKind,
                  layer_id: str | None = None, title: str | None = None, city_name: str | None = None,
                  provenance: str = "real", districts: str | Path | None = None, district_field: str = "name",
                  serving: bool = True, description: str = "") -> Layer:
    """Add (or replace) a layer of ``city`` (created when new), with its districts if given;
    a serving copy the replaced layer no longer needs is deleted."""
    city_id = make_id(city)
    layer = layer_from_file(store, raster, kind=kind, layer_id=layer_id, title=title,
                            provenance=provenance, serving=serving, description=description)
    name_published_classes(store.layer_path(layer), layer)  # names for QGIS/GDAL when the map has none
    ensure_city(store, city_id, city_name or city, provenance)  # only once the layer is ready
    found = store.city(city_id)
    new_districts = districts_from_geojson(districts, district_field) if districts is not None else None
    # the whole files to download (map, sidecars, district maps), hashed once, here
    layer = layer.model_copy(update={"files": record_files(store, city_id, layer,
                                                           new_districts or found.districts)})
    old = found.layers.get(layer.id)
    store.put_layer(city_id, layer)
    prune_files(store, city_id, layer)
    if old is not None and old.serving_path:
        prune_serving_copies(store, only=[store.resolve(old.serving_path)])
    if new_districts is not None:
        store.put_city(store.city(city_id).model_copy(update={"districts": new_districts}))
    return layer


def register_demo(out: str | Path, catalog_path: str | Path | None = None) -> CatalogStore:
    """Put the demo city (written by ``mcae demo`` into ``out``) into its catalog."""
    out = Path(out)
    store = CatalogStore(catalog_path or out / "catalog.json")
    summary = json.loads((out / "city.json").read_text())
    city_id = "demo-city"
    store.remove(city_id) if city_id in store.load().cities else None
    city = City(id=city_id, name=summary["city"], provenance="synthetic",
                description=summary["provenance"],
                districts=districts_from_geojson(out / "districts.geojson"))
    store.put_city(city)
    layers = [("imagery", LayerKind.imagery, "Imagery", summary["layers"]["imagery"]),
              ("mcae", LayerKind.mcae, "MCAE land cover", summary["layers"]["mcae"]),
              ("sinolc1", LayerKind.sinolc1, "SinoLC-1 (stand-in)", summary["layers"]["sinolc1"])]
    for layer_id, kind, title, name in layers:
        layer = layer_from_file(store, out / name, kind=kind, layer_id=layer_id, title=title,
                                provenance="synthetic", description=summary["provenance"])
        put_with_files(store, city_id, layer, city.districts)
    return store
