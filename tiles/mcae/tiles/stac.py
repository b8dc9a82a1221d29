"""The catalog as STAC: a Catalog, a Collection per city and an Item per layer.

A layer's ``data`` asset is its whole file (``whole_files``: the versioned, immutable,
Range-served URL with ``file:size`` and ``file:checksum``), beside its ``.aux.xml``
(``metadata``) and ``.qml`` (``style``); each district map of a layer is an item of its own,
``<layer>__<district>``, in the same collection. A layer without recorded whole files (an
object-store layer) keeps the clip of its bounds as its data asset.

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
from shapely.geometry import shape as to_shape

from mcae.inference import object_store
from mcae.tiles.catalog import CatalogStore, City, Layer, LayerFiles
from mcae.tiles.gdal import SourceRefused
from mcae.tiles.readers import read_dataset
from mcae.tiles.statistics import layer_classes
from mcae.tiles.whole_files import fresh, media_type

CATALOG_ID = "mcae"
STAC_PREFIX = "/api/stac"
# Server routes the assets and links point at (relative to the base URL): the data asset
# is the layer clipped to its own bounds (a GeoTIFF, capped at max_image_pixels).
DATA_URL = "/api/cities/{city}/layers/{layer}/clip?bbox={bbox}"
TILES_URL = "/cities/{city}/layers/{layer}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
TILEJSON_URL = "/cities/{city}/layers/{layer}/WebMercatorQuad/tilejson.json"
WEB_MAP_LINKS = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
FILE_URL = "/api/cities/{city}/layers/{layer}/files/{version}/{name}"
DISTRICT_SEP = "__"  # item id of a district map: <layer>__<district>
ASSET_KEYS = {"data": "data", "metadata": "metadata", "style": "style"}


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
            items += district_items(store, city, layer, base_url)
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
    with read_dataset(str(path), store.sources) as src:
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
    files = fresh(layer, store.source_token(layer)) if not remote else None
    if files is not None:
        asset = _file_assets(store, item, city, layer, files, None, base_url)
    elif base_url is None:
        asset = pystac.Asset(href=layer.path if remote else str(path), media_type=pystac.MediaType.COG, roles=["data"],
                             title=f"{layer.title} (Cloud-Optimized GeoTIFF)")
    else:
        bbox = ",".join(repr(v) for v in layer.bounds)
        asset = pystac.Asset(href=base_url.rstrip("/") + DATA_URL.format(city=city.id, layer=layer.id, bbox=bbox),
                             media_type=pystac.MediaType.GEOTIFF, roles=["data"],
                             title=f"{layer.title} (GeoTIFF of the whole layer, from the server)")
    item.add_asset("data", asset)
    _classes(asset, layer, dtype, nodata)
    if base_url is not None:
        base = base_url.rstrip("/")
        item.stac_extensions.append(WEB_MAP_LINKS)
        item.add_link(pystac.Link("xyz", base + TILES_URL.format(city=city.id, layer=layer.id),
                                  media_type="image/png", title="XYZ tiles"))
        item.add_link(pystac.Link("tilejson", base + TILEJSON_URL.format(city=city.id, layer=layer.id),
                                  media_type="application/json", title="TileJSON"))
    return item


def _classes(asset: pystac.Asset, layer: Layer, dtype: str, nodata: float | None) -> None:
    if layer.categorical:
        classes = ClassificationExtension.ext(asset, add_if_missing=True)
        classes.classes = [Classification.create(value=0, name="no-data", title="no data", nodata=True)] + [
            Classification.create(value=cid, name=_slug(name), title=name, description=name,
                                  color_hint=colour.lstrip("#").upper() or None)
            for cid, name, colour in layer_classes(layer) if cid != 0]
        RasterExtension.ext(asset, add_if_missing=True).bands = [RasterBand.create(
            nodata=nodata if nodata is not None else 0, data_type=DataType(dtype))]


def district_items(store: CatalogStore, city: City, layer: Layer, base_url: str | None) -> list[pystac.Item]:
    """One item per district map of ``layer`` (its whole files, recorded when it was published)."""
    files = fresh(layer, store.source_token(layer)) if not object_store.is_s3(layer.path) else None
    if files is None:
        return []
    items = []
    version = store.layer_version(layer)
    for district_id in dict.fromkeys(f.district for f in files.files if f.district is not None):
        district = city.districts.get(district_id)
        if district is None:  # the city's districts changed since: not offered as an item
            continue
        data = next(f for f in files.files if f.district == district_id and f.role == "data")
        path = store.resolve(data.path)
        with read_dataset(str(path), store.sources) as src:
            crs, size, transform, native = src.crs, [src.height, src.width], list(src.transform)[:6], list(src.bounds)
            dtype, nodata = src.dtypes[0], src.nodata
        geom = to_shape(district.geometry)
        item = pystac.Item(
            id=f"{layer.id}{DISTRICT_SEP}{district.id}", geometry=mapping(geom), bbox=list(geom.bounds),
            datetime=datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).replace(microsecond=0),
            properties={"title": f"{layer.title}: {district.name}", "description": f"{layer.title}, district "
                        f"{district.name} (the city map clipped to the district)", "mcae:kind": layer.kind.value,
                        "mcae:scheme": layer.scheme, "mcae:provenance": layer.provenance, "mcae:version": version,
                        "mcae:layer": layer.id, "mcae:district": district.id})
        proj = ProjectionExtension.ext(item, add_if_missing=True)
        epsg = crs.to_epsg() if crs is not None else None
        proj.code = f"EPSG:{epsg}" if epsg else None
        proj.shape, proj.transform, proj.bbox = size, transform, native
        asset = _file_assets(store, item, city, layer, files, district.id, base_url)
        _classes(asset, layer, dtype, nodata)
        items.append(item)
    return items


def _file_assets(store: CatalogStore, item: pystac.Item, city: City, layer: Layer, files: LayerFiles,
                 district: str | None, base_url: str | None) -> pystac.Asset:
    """The whole files of the city (``district`` None) or of one district as assets of ``item``
    (data, metadata, style), with their size and checksum; returns the data asset."""
    item.stac_extensions.append(FILE_EXT)
    version = store.layer_version(layer) if base_url is not None else ""
    data: pystac.Asset | None = None
    for entry in (f for f in files.files if f.district == district):
        href = (base_url.rstrip("/") + FILE_URL.format(city=city.id, layer=layer.id, version=version, name=entry.name)
                if base_url is not None else str(store.resolve(entry.path)))
        title = {"data": f"{item.properties['title']} (whole Cloud-Optimized GeoTIFF; HTTP Range, /vsicurl/)",
                 "metadata": "Class names and attribute table (GDAL .aux.xml)",
                 "style": "QGIS style (.qml)"}[entry.role]
        asset = pystac.Asset(href=href, media_type=media_type(entry.name), roles=[entry.role], title=title,
                             extra_fields={"file:size": entry.size, "file:checksum": "1220" + entry.sha256})
        if entry.role == "data":
            asset.media_type = pystac.MediaType.COG
            data = asset
        else:
            item.add_asset(ASSET_KEYS[entry.role], asset)
    if data is None:  # pragma: no cover - a registry always holds the map
        raise SourceRefused("this layer's whole files name no map")
    if district is not None:
        item.add_asset("data", data)
    return data


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
