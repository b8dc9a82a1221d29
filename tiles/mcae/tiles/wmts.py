"""OGC WMTS 1.0.0 capabilities (RESTful), as QGIS and ArcGIS read them.

One document lists one or more layers on one tile matrix set; tile matrices run over
the layers' zoom range, with per-layer ``TileMatrixSetLimits`` so clients skip empty tiles.
Built with ElementTree, so ids, titles and URLs are always escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from morecantile import TileMatrixSet
from titiler.core.utils import tms_limits

NS = {"": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1",
      "xlink": "http://www.w3.org/1999/xlink"}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)
WGS84_URN = "urn:ogc:def:crs:OGC:2:84"


@dataclass(frozen=True)
class WMTSLayer:
    identifier: str
    title: str
    abstract: str
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    minzoom: int
    maxzoom: int
    template: str  # with {TileMatrix}, {TileCol}, {TileRow}


def ogc_urn(uri: str) -> str:
    """``http://www.opengis.net/def/crs/EPSG/0/3857`` -> ``urn:ogc:def:crs:EPSG::3857``."""
    match = re.match(r"^https?://www\.opengis\.net/def/([^/]+)/([^/]+)/([^/]+)/([^/]+)$", uri)
    if not match:
        return uri
    kind, authority, version, code = match.groups()
    return f"urn:ogc:def:{kind}:{authority}:{'' if version == '0' else version}:{code}"


def matrix_limits(tms: TileMatrixSet, bounds: tuple[float, float, float, float], minzoom: int,
                  maxzoom: int) -> list[dict[str, Any]]:
    """titiler's ``tms_limits``, with the last row and column inside the matrix."""
    out = []
    for limit in tms_limits(tms, bounds, zooms=(minzoom, min(maxzoom, tms.maxzoom))):
        matrix = tms.matrix(int(limit["tileMatrix"]))
        out.append({**limit, "maxTileRow": min(limit["maxTileRow"], matrix.matrixHeight - 1),
                    "maxTileCol": min(limit["maxTileCol"], matrix.matrixWidth - 1)})
    return out


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    prefix, _, name = tag.rpartition(":")
    qname = f"{{{NS[prefix]}}}{name}"
    attrs = {(f"{{{NS[k.split('_', 1)[0]]}}}{k.split('_', 1)[1]}" if k.startswith("xlink_") else k): v
             for k, v in attrib.items()}
    element = ET.SubElement(parent, qname, attrs)
    if text is not None:
        element.text = text
    return element


def _operation(parent: ET.Element, name: str, href: str) -> None:
    op = _el(parent, "ows:Operation", name=name)
    get = _el(_el(_el(op, "ows:DCP"), "ows:HTTP"), "ows:Get", xlink_href=href)
    _el(_el(_el(get, "ows:Constraint", name="GetEncoding"), "ows:AllowedValues"), "ows:Value", "RESTful")


def capabilities(layers: list[WMTSLayer], tms: TileMatrixSet, *, tilesize: int, media_type: str,
                 title: str, url: str) -> str:
    """The capabilities document of ``layers`` on ``tms``, tiles of ``tilesize`` px."""
    root = ET.Element(f"{{{NS['']}}}Capabilities", {"version": "1.0.0"})
    ident = _el(root, "ows:ServiceIdentification")
    _el(ident, "ows:Title", title)
    _el(ident, "ows:ServiceType", "OGC WMTS")
    _el(ident, "ows:ServiceTypeVersion", "1.0.0")
    ops = _el(root, "ows:OperationsMetadata")
    _operation(ops, "GetCapabilities", url)
    _operation(ops, "GetTile", url.rsplit("/", 1)[0] + "/")
    contents = _el(root, "Contents")
    tms_id = str(tms.id)
    for layer in layers:
        node = _el(contents, "Layer")
        _el(node, "ows:Title", layer.title)
        _el(node, "ows:Abstract", layer.abstract)
        box = _el(node, "ows:WGS84BoundingBox", crs=WGS84_URN)
        _el(box, "ows:LowerCorner", f"{layer.bounds[0]} {layer.bounds[1]}")
        _el(box, "ows:UpperCorner", f"{layer.bounds[2]} {layer.bounds[3]}")
        _el(node, "ows:Identifier", layer.identifier)
        style = _el(node, "Style", isDefault="true")
        _el(style, "ows:Identifier", "default")
        _el(node, "Format", media_type)
        link = _el(node, "TileMatrixSetLink")
        _el(link, "TileMatrixSet", tms_id)
        limits = _el(link, "TileMatrixSetLimits")
        for limit in matrix_limits(tms, layer.bounds, layer.minzoom, layer.maxzoom):
            node_limit = _el(limits, "TileMatrixLimits")
            for key in ("tileMatrix", "minTileRow", "maxTileRow", "minTileCol", "maxTileCol"):
                _el(node_limit, key[0].upper() + key[1:], str(limit[key]))
        _el(node, "ResourceURL", format=media_type, resourceType="tile", template=layer.template)
    _matrix_set(contents, tms, tilesize, min(la.minzoom for la in layers), max(la.maxzoom for la in layers))
    _el(root, "ServiceMetadataURL", xlink_href=url)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _matrix_set(parent: ET.Element, tms: TileMatrixSet, tilesize: int, minzoom: int, maxzoom: int) -> None:
    node = _el(parent, "TileMatrixSet")
    _el(node, "ows:Identifier", str(tms.id))
    _el(node, "ows:SupportedCRS", ogc_urn(str(tms.crs.root if hasattr(tms.crs, "root") else tms.crs)))
    native = tms.matrix(tms.minzoom).tileWidth
    if tms.wellKnownScaleSet and tilesize == native:
        _el(node, "WellKnownScaleSet", ogc_urn(str(tms.wellKnownScaleSet)))
    for zoom in range(max(minzoom, tms.minzoom), min(maxzoom, tms.maxzoom) + 1):
        matrix = tms.matrix(zoom)
        factor = matrix.tileWidth / tilesize  # a 512 px tile covers a 256 px tile's ground
        entry = _el(node, "TileMatrix")
        _el(entry, "ows:Identifier", str(matrix.id))
        _el(entry, "ScaleDenominator", repr(matrix.scaleDenominator * factor))
        _el(entry, "TopLeftCorner", f"{matrix.pointOfOrigin[0]} {matrix.pointOfOrigin[1]}")
        _el(entry, "TileWidth", str(tilesize))
        _el(entry, "TileHeight", str(tilesize))
        _el(entry, "MatrixWidth", str(matrix.matrixWidth))
        _el(entry, "MatrixHeight", str(matrix.matrixHeight))
