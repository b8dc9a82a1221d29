"""The catalog as STAC: a Catalog, a Collection per city and an Item per layer.

Items carry the projection extension (code, shape, transform, native bbox), and for
categorical layers the classification extension (value, name, title, color_hint) and the
raster extension (uint8, nodata 0) on their COG asset; ``mcae:provenance`` says whether
the data are real or synthetic. Served, every href is a server URL (``base_url``);
exported without a base URL, assets point at the local files.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from shapely.geometry import box, mapping

from mcae.inference import object_store
from mcae.tiles.catalog import CatalogStore, City, Layer
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.readers import open_dataset
from mcae.tiles.statistics import layer_classes

CATALOG_ID = "mcae"
STAC_PREFIX = "/api/stac"
# Server routes the assets and links point at (relative to the base URL): the data asset
# is the layer clipped to its own bounds (a GeoTIFF, capped at max_image_pixels).
DATA_URL = "/api/cities/{city}/layers/{layer}/clip?bbox={bbox}"
TILES_URL = "/cities/{city}/layers/{layer}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
TILEJSON_URL = "/cities/{city}/layers/{layer}/WebMercatorQuad/tilejson.json"
WEB_MAP_LINKS = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"


def build_catalog(store: CatalogStore, base_url: str | None = None) -> pystac.Catalog:
    """The STAC catalog of ``store``; hrefs under ``base_url`` when given (served)."""
    catalog = pystac.Catalog(
        id=CATALOG_ID, title="MCAE land-cover maps",
        description="Sub-meter land-cover maps of whole cities (MCAE), SinoLC-1 and their agreement.")
    for city in store.load().cities.values():
        catalog.add_child(city_collection(store, city, base_url))
    if base_url is not None:
        root = base_url.rstrip("/") + STAC_PREFIX
        catalog.normalize_hrefs(root)
        catalog.catalog_type = pystac.CatalogType.ABSOLUTE_PUBLISHED
    return catalog


def city_collection(store: CatalogStore, city: City, base_url: str | None) -> pystac.Collection:
    """One city: its layers as items, extent from their bounds and file times."""
    items = []
    for layer in city.layers.values():
        try:
            items.append(layer_item(store, city, layer, base_url))
        except SourceRefused:  # a missing or unreadable file: the layer is left out
            continue
    bounds = [list(layer.bounds) for layer in city.layers.values()] or [[-180.0, -90.0, 180.0, 90.0]]
    union = [min(b[0] for b in bounds), min(b[1] for b in bounds),
             max(b[2] for b in bounds), max(b[3] for b in bounds)]
    times = [item.datetime for item in items if item.datetime is not None]
    interval: list[datetime | None] = [min(times), max(times)] if times else [None, None]
    collection = pystac.Collection(
        id=city.id, title=city.name, description=city.description or f"Land-cover layers of {city.name}",
        extent=pystac.Extent(pystac.SpatialExtent([union]),
                             pystac.TemporalExtent([interval])),
        license="other", keywords=["land cover", city.provenance],
        extra_fields={"mcae:provenance": city.provenance,
                      "mcae:districts": [{"id": d.id, "name": d.name} for d in city.districts.values()]})
    collection.add_items(items)
    return collection


def layer_item(store: CatalogStore, city: City, layer: Layer, base_url: str | None) -> pystac.Item:
    """One layer: footprint, projection, its COG asset and (categorical) classes."""
    path = store.layer_path(layer)
    with open_dataset(str(path)) as src:
        crs, shape, transform, native = src.crs, [src.height, src.width], list(src.transform)[:6], list(src.bounds)
        dtype, nodata = src.dtypes[0], src.nodata
    remote = object_store.is_s3(layer.path)  # an object: its time from the store, its s3:// URL as href
    stamp = float(store.source_token(layer).rsplit(":", 1)[1]) if remote else path.stat().st_mtime
    modified = datetime.fromtimestamp(stamp, tz=timezone.utc).replace(microsecond=0)
    item = pystac.Item(
        id=layer.id, geometry=mapping(box(*layer.bounds)), bbox=list(layer.bounds), datetime=modified,
        properties={"title": layer.title, "description": layer.description or layer.title,
                    "mcae:kind": layer.kind.value, "mcae:scheme": layer.scheme,
                    "mcae:provenance": layer.provenance, "mcae:version": store.layer_version(layer)})
    if layer.categorical:  # the map's own accuracy, when this version was assessed (mcae assess report)
        from mcae.tiles.assessments import read_figures

        figures = read_figures(store.root, city.id, layer.id, item.properties["mcae:version"])
        if figures is not None:
            item.properties["mcae:assessment"] = figures
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    epsg = crs.to_epsg() if crs is not None else None
    proj.code = f"EPSG:{epsg}" if epsg else None
    if epsg is None and crs is not None:
        proj.wkt2 = crs.to_wkt()
    proj.shape, proj.transform, proj.bbox = shape, transform, native
    if base_url is None:
        asset = pystac.Asset(href=layer.path if remote else str(path), media_type=pystac.MediaType.COG, roles=["data"],
                             title=f"{layer.title} (Cloud-Optimized GeoTIFF)")
    else:
        bbox = ",".join(repr(v) for v in layer.bounds)
        asset = pystac.Asset(href=base_url.rstrip("/") + DATA_URL.format(city=city.id, layer=layer.id, bbox=bbox),
                             media_type=pystac.MediaType.GEOTIFF, roles=["data"],
                             title=f"{layer.title} (GeoTIFF of the whole layer, from the server)")
    item.add_asset("data", asset)
    if layer.categorical:
        classes = ClassificationExtension.ext(asset, add_if_missing=True)
        classes.classes = [Classification.create(value=0, name="no-data", title="no data", nodata=True)] + [
            Classification.create(value=cid, name=_slug(name), title=name, description=name,
                                  color_hint=colour.lstrip("#").upper() or None)
            for cid, name, colour in layer_classes(layer) if cid != 0]
        RasterExtension.ext(asset, add_if_missing=True).bands = [RasterBand.create(
            nodata=nodata if nodata is not None else 0, data_type=DataType(dtype))]
    if base_url is not None:
        base = base_url.rstrip("/")
        item.stac_extensions.append(WEB_MAP_LINKS)
        item.add_link(pystac.Link("xyz", base + TILES_URL.format(city=city.id, layer=layer.id),
                                  media_type="image/png", title="XYZ tiles"))
        item.add_link(pystac.Link("tilejson", base + TILEJSON_URL.format(city=city.id, layer=layer.id),
                                  media_type="application/json", title="TileJSON"))
    return item


def export_catalog(store: CatalogStore, out: str | Path, base_url: str | None = None) -> Path:
    """Write the STAC catalog as static JSON files under ``out``; returns catalog.json."""
    catalog = build_catalog(store, base_url)
    out = Path(out)
    catalog.normalize_hrefs(str(out))
    catalog.save(pystac.CatalogType.SELF_CONTAINED, dest_href=str(out))
    return out / "catalog.json"


def served(obj: pystac.STACObject) -> dict[str, Any]:
    """A STAC object as the API returns it (absolute hrefs, self link included)."""
    return obj.to_dict(include_self_link=True, transform_hrefs=True)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z_-]+", "-", name.lower()).strip("-") or "class"
