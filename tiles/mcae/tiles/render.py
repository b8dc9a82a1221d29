"""Rendering one tile of a catalog layer to bytes, in process.

Categorical layers are read with nearest resampling and encoded as paletted PNG
(index 0 transparent) or lossless WebP, so every class colour stays exact.
Used by the tile routes and by bundle exports alike.
"""

from __future__ import annotations

import io
from typing import Literal

import morecantile
import numpy as np
from PIL import Image
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from mcae.tiles.catalog import Layer
from mcae.tiles.palettes import palette_for

TileFormat = Literal["png", "webp"]
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp"}


def render_tile(path: str, layer: Layer, tms_id: str, z: int, x: int, y: int, *,
                tilesize: int = 256, fmt: TileFormat = "png") -> bytes | None:
    """The tile as image bytes, or None where the layer has no data there."""
    tms = morecantile.tms.get(tms_id)
    with Reader(path, tms=tms) as src:
        if not src.tile_exists(x, y, z):
            return None
        try:
            img = src.tile(x, y, z, tilesize=tilesize, indexes=1 if layer.categorical else None,
                           resampling_method="nearest" if layer.categorical else "bilinear",
                           reproject_method="nearest" if layer.categorical else "bilinear")
        except TileOutsideBounds:
            return None
    valid = np.asarray(img.mask) > 0
    if not valid.any():
        return None
    if layer.categorical:
        return encode_classes(np.asarray(img.data[0]), valid, palette_for(layer), fmt)
    return img.render(img_format="PNG" if fmt == "png" else "WEBP",
                      **({"lossless": True} if fmt == "webp" else {}))


def encode_classes(ids: np.ndarray, valid: np.ndarray,
                   palette: dict[int, tuple[int, int, int, int]], fmt: TileFormat) -> bytes:
    """Class ids to a paletted PNG (id = palette index) or a lossless RGBA WebP."""
    ids = np.where(valid, ids, 0).astype(np.uint8)
    buf = io.BytesIO()
    if fmt == "png":
        image = Image.fromarray(ids, mode="P")
        flat = []
        for i in range(256):
            flat.extend(palette.get(i, (0, 0, 0, 0))[:3])
        image.putpalette(flat)
        alpha = bytes(palette.get(i, (0, 0, 0, 0))[3] for i in range(256))
        image.save(buf, format="PNG", transparency=alpha, optimize=False)
    else:
        lut = np.array([palette.get(i, (0, 0, 0, 0)) for i in range(256)], np.uint8)
        Image.fromarray(lut[ids], mode="RGBA").save(buf, format="WEBP", lossless=True)
    return buf.getvalue()
