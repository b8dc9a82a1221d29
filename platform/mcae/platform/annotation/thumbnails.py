"""Server-side PNGs for the expert annotation tools: pure rendering, no HTTP, no database.

- :func:`mask_thumbnail`: the imagery around one mask, its outline in yellow and its
  bounding box in red;
- :func:`patch_classification`: every mask of a patch in its class colour (paletted PNG);
- :func:`patch_image`: the patch imagery;
- :func:`mask_at`: the mask id under a patch pixel.

Patches come from a :class:`~mcae.platform.annotation.patch_images.PatchImages`, which
reads each patch once. Unknown patches raise :class:`UnknownPatch`, unknown masks
:class:`UnknownMask` (both :class:`LookupError`: a 404).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import numpy as np
from PIL import Image, ImageDraw

from mcae.inference.classes import MCAE
from mcae.platform.annotation.patch_images import PatchData, PatchImages, UnknownMask, UnknownPatch

__all__ = ["PatchImages", "UnknownMask", "UnknownPatch", "mask_at", "mask_thumbnail",
           "patch_classification", "patch_image", "warm_up"]

YELLOW = (255, 230, 0)
RED = (255, 0, 0)
MIN_CROP = 64  # px of the patch shown around even the smallest mask
TAPER_FROM = 96  # px: masks longer than this get less context around them, down to LARGE_CONTEXT
LARGE_CONTEXT = 1.15
MAX_SIZE = 4096
# Palette indices of the classification PNG: class ids as they are, then the highlight.
_WHITE, _BLACK = 254, 255
Z_HUFFMAN_ONLY = 2  # zlib strategy


def _palette() -> list[int]:
    colours = np.zeros((256, 3), np.uint8)
    for c in MCAE:
        colours[c.id] = c.rgb
    colours[_WHITE] = (255, 255, 255)
    return colours.ravel().tolist()


PALETTE = _palette()
CLASS_IDS = frozenset([0, *MCAE.ids])


def png(image: Image.Image, photo: bool = False) -> bytes:
    """Encode fast: no optimisation pass, zlib level 1 (Huffman only for imagery).

    Huffman-only is the fastest zlib strategy and, on filtered photographs, no larger.
    """
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=1,
               compress_type=Z_HUFFMAN_ONLY if photo else -1)
    return buf.getvalue()


def crop_side(longer: int, context: float, shape: tuple[int, int]) -> int:
    """The side of a mask's square crop: ``context`` times its box for small masks, tapering to
    1.15 times it for large ones (a field fills its thumbnail instead of sitting tiny in a
    frame), never under 64 px, and no larger than the patch unless the box itself is."""
    taper = max(LARGE_CONTEXT, min(context, context * TAPER_FROM / max(longer, 1)))
    side = max(MIN_CROP, int(np.ceil(longer * taper)))
    return max(min(side, max(shape)), int(np.ceil(longer * 1.02)) + 2)


def crop_origin(start: int, end: int, side: int, extent: int) -> int:
    """Where a crop of ``side`` px begins, centred on [start, end) and moved inside [0, extent)."""
    origin = (start + end - side) // 2
    if side <= extent:
        origin = min(max(origin, 0), extent - side)
    return origin


def warm_up() -> None:
    """Pay the libraries' one-time costs at start-up, not in the first thumbnail a user waits for
    (about 60 ms: GDAL's drivers and a GeoTIFF read, PROJ's database, Pillow's PNG encoder and
    resampling, SciPy's labelling): a tiny GeoTIFF in memory, written, read and drawn."""
    import rasterio
    from affine import Affine
    from rasterio.io import MemoryFile
    from scipy import ndimage

    with rasterio.Env(), MemoryFile() as memory:
        with memory.open(driver="GTiff", width=4, height=4, count=1, dtype="uint8", crs="EPSG:32640",
                         transform=Affine(1, 0, 0, 0, -1, 4)) as dataset:
            dataset.write(np.zeros((1, 4, 4), np.uint8))
        with memory.open() as dataset:
            pixels = dataset.read(1)
            dataset.crs.to_wkt()
    ndimage.find_objects(pixels.astype(np.int32) + 1)
    image = Image.fromarray(np.zeros((8, 8, 3), np.uint8)).resize((4, 4), Image.Resampling.BILINEAR)
    ImageDraw.Draw(image).rectangle((0, 0, 2, 2), outline=RED)
    png(image, photo=True)


def mask_thumbnail(images: PatchImages, patch_id: str, mask_id: int, size: int | None = 192,
                   context: float = 2.0) -> bytes:
    """PNG of the imagery around a mask: outline yellow, bounding box red, ``size`` px square.

    The crop is a square around the mask's box (see :func:`crop_side`), moved inside the patch
    where it fits (black only past the patch edge when the mask is larger than what is left).
    ``size=None``: the crop at its own pixels (at least 256, at most 1024): the enlarged view.
    """
    if not context >= 1.0:
        raise ValueError("context must be at least 1 (the crop holds the mask's box)")
    data = images.get(patch_id)
    row0, col0, row1, col1 = data.bbox(int(mask_id))
    height, width = data.shape
    side = crop_side(max(row1 - row0, col1 - col0), context, data.shape)
    if size is None:
        size = min(max(side, 256), 1024)
    _check_size(size)
    top = crop_origin(row0, row1, side, height)
    left = crop_origin(col0, col1, side, width)
    crop = data.crop(left, top, side)  # pads with black past the patch
    out = crop.resize((size, size), Image.Resampling.BILINEAR if size < side else Image.Resampling.LANCZOS)

    inside = _mask_crop(data, int(mask_id), top, left, side)
    small = np.asarray(Image.fromarray(inside).resize((size, size), Image.Resampling.BILINEAR))
    mask = small >= 128
    if not mask.any():  # a sliver thinner than a pixel of the thumbnail
        mask = small > 0
    scale = size / side
    draw = ImageDraw.Draw(out)
    # The box is drawn just outside the mask's extent, the outline just inside it.
    x0, y0 = int((col0 - left) * scale) - 1, int((row0 - top) * scale) - 1
    x1, y1 = int(np.ceil((col1 - left) * scale)), int(np.ceil((row1 - top) * scale))
    draw.rectangle((x0, y0, x1, y1), outline=RED, width=1)
    pixels = np.array(out)
    pixels[mask & edges(mask, 2 if size >= 128 else 1)] = YELLOW
    return png(Image.fromarray(pixels), photo=True)


def patch_classification(images: PatchImages, patch_id: str,
                         classes: Mapping[int, int] | np.ndarray,
                         highlight: Iterable[int] | None = None,
                         size: int | None = None) -> bytes:
    """Paletted PNG of a patch: each mask in its MCAE class colour.

    ``classes`` maps mask id -> class id (a dict, or an array indexed by mask id);
    masks without a class, class 0 (undecided) and pixels without a mask are black.
    ``highlight`` masks get a white outline (with a black inner line, for white Roads).
    ``size`` is the output's longer side (default: the patch's own pixels).
    """
    data = images.get(patch_id)
    raster = _resized_raster(data, size)
    lut = _class_lut(classes, len(data.boxes))
    indices = lut[raster]
    wanted = np.asarray(sorted({int(m) for m in highlight or ()} - {0}), np.int64)
    if wanted.size:
        chosen = np.isin(raster, wanted)
        width = 1 if min(raster.shape) < 256 else 2
        outer = edges(raster, width) & chosen
        inner = edges(raster, width + 1) & chosen & ~outer
        indices[outer] = _WHITE
        indices[inner] = _BLACK
    out = Image.fromarray(indices)
    out.putpalette(PALETTE)  # L -> P
    return png(out)


def patch_image(images: PatchImages, patch_id: str, size: int | None = None) -> bytes:
    """PNG of a patch's imagery (invalid pixels black); ``size`` is the longer side."""
    data = images.get(patch_id)
    image = data.image
    if size is not None:
        _check_size(size)
        image = image.resize(_fit(data.shape, size), Image.Resampling.BILINEAR)
    return png(image, photo=True)


def mask_at(images: PatchImages, patch_id: str, x: int, y: int) -> int:
    """Mask id under patch pixel column ``x``, row ``y`` (0: no mask)."""
    data = images.get(patch_id)
    height, width = data.shape
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"pixel ({x}, {y}) is outside the {width} x {height} patch")
    return int(data.raster[y, x])


def edges(labels: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels within ``width`` px (4-connected) of a different label or the image edge."""
    signed = labels if labels.dtype.kind == "i" else labels.astype(np.int32)
    padded = np.pad(signed, 1, constant_values=-1)
    centre = padded[1:-1, 1:-1]
    inside = ((padded[:-2, 1:-1] == centre) & (padded[2:, 1:-1] == centre)
              & (padded[1:-1, :-2] == centre) & (padded[1:-1, 2:] == centre))
    for _ in range(width - 1):
        p = np.pad(inside, 1, constant_values=False)
        inside = inside & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return ~inside


def _mask_crop(data: PatchData, mask_id: int, top: int, left: int, side: int) -> np.ndarray:
    """uint8 0/255 of the mask over the crop square (0 past the patch edge)."""
    height, width = data.shape
    out = np.zeros((side, side), np.uint8)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + side, height), min(left + side, width)
    if r1 > r0 and c1 > c0:
        out[r0 - top:r1 - top, c0 - left:c1 - left] = (data.raster[r0:r1, c0:c1] == mask_id) * 255
    return out


def _resized_raster(data: PatchData, size: int | None) -> np.ndarray:
    if size is None:
        return data.raster
    _check_size(size)
    shape = _fit(data.shape, size)
    return np.asarray(Image.fromarray(data.raster).resize(shape, Image.Resampling.NEAREST),
                      np.int32)


def _class_lut(classes: Mapping[int, int] | np.ndarray, n_masks: int) -> np.ndarray:
    """uint8 palette index per mask id 0..n_masks (class id; 0 for no class)."""
    lut = np.zeros(n_masks + 1, np.uint8)
    if isinstance(classes, Mapping):
        items = [(int(k), int(v)) for k, v in classes.items() if 0 < int(k) <= n_masks]
        ids = np.array([k for k, _ in items], np.int64)
        values = np.array([v for _, v in items], np.int64)
    else:
        values = np.asarray(classes).astype(np.int64, copy=False).ravel()[: n_masks + 1]
        ids = np.arange(values.size)
    unknown = set(np.unique(values).tolist()) - CLASS_IDS
    if unknown:
        raise ValueError(f"class ids {sorted(unknown)} are not MCAE classes {sorted(CLASS_IDS)}")
    lut[ids] = values
    lut[0] = 0
    return lut


def _fit(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """Pillow ``(width, height)`` with the longer side ``size``."""
    height, width = shape
    scale = size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_size(size: int) -> None:
    if not 8 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 8 and {MAX_SIZE} px")
