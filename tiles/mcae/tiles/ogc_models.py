"""The OGC API Tiles documents of a layer as they are served: their links may be URI templates.

titiler's ``Link.href`` is a URI, which a template such as ``.../tiles/WebMercatorQuad/{z}/{x}/{y}``
is not (braces are not URI characters); the tileset documents mark such a link
``templated: true``, and these models say so in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from titiler.core.models.common import Link
from titiler.core.models.OGC import TileSet, TileSetList


class TemplatedLink(Link):
    """A link whose ``href`` is a URI or, where ``templated`` is true, a URI template."""

    href: Annotated[str, Field(min_length=1, description=(  # type: ignore[assignment]
        "A URI, or a URI template (`{z}`, `{x}`, `{y}`) where `templated` is true."))]


class LayerTileSet(TileSet):
    """A layer's tileset on one tile matrix set (OGC API Tiles)."""

    links: list[TemplatedLink]  # type: ignore[assignment]


class LayerTileSetList(TileSetList):
    """A layer's tilesets (OGC API Tiles)."""

    tilesets: list[LayerTileSet]  # type: ignore[assignment]
