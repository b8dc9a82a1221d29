"""Serving copies: each layer laid out again on the web-mercator tile grid.

A city map is written on its own metric grid (UTM at 0.6 m); every web-mercator tile
then needs a warp through a VRT, 5-20 ms a tile. A serving copy is the same layer
translated once by rio-cogeo with ``web_optimized=True``: EPSG:3857, pixels and
overviews aligned with the WebMercatorQuad tiles (nearest for class maps, mode
overviews; bilinear and average for imagery), so a tile is a plain windowed read.

The copy is derived data owned by the catalog: it lives in ``.serving/`` beside the
catalog file, named after its source, and records the source's size and modification
time. Tiles on WebMercatorQuad come from it only while that record matches the source;
a rewritten source is served from itself (correct, slower) until ``mcae catalog
optimize`` writes a new copy. Identify, statistics, clips and comparisons always read
the source.

A layer in object storage (``s3://``) gets its serving copy the same way, read once
through ``/vsis3/`` into the local ``.serving/`` folder and recording the object's ETag,
size and time: WebMercatorQuad tiles are then local reads; other tile matrix sets,
identify, statistics and clips read the object itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import morecantile
import rasterio
from rasterio.vrt import WarpedVRT

from mcae.inference.atomic import atomic_path
from mcae.inference.cog import COGValidationError, translate_to_cog
from mcae.tiles.catalog import SERVING_TMS, CatalogStore, Layer, stat_token
from mcae.tiles.gdal import LOCAL, Sources
from mcae.tiles.readers import read_dataset

SERVING_DIR = ".serving"
BLOCKS = (512, 256)  # block sizes to try, in order
SOURCE_TAG = "MCAE_SERVING_SOURCE"


def serving_path_for(store: CatalogStore, source: Path, categorical: bool = True) -> Path:
    """Where the serving copy of ``source`` goes (one per source file and rendering, shared
    by the layers on it)."""
    key = f"{source.resolve()}|{'classes' if categorical else 'imagery'}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return store.root / SERVING_DIR / f"{source.stem}-{digest}.tif"


def write_serving_copy(source: str | Path, dest: str | Path, *, categorical: bool,
                       token: str | None = None, sources: Sources = LOCAL) -> Path:
    """Translate ``source`` to a validated web-optimized COG at ``dest`` (atomic).

    512 px blocks; 256 px where a pyramid level would be exactly one 512 px block wide and
    taller than that (rio-cogeo's validator takes such a level for a striped one, and a
    grid-aligned copy cannot be padded the way ``cog.cog_width`` pads a map).
    ``token``: the source's ``CatalogStore.source_token`` (default: its size and time).
    """
    source, dest = Path(source), Path(dest)
    for block in BLOCKS[:-1]:
        try:
            _translate(source, dest, categorical, block, token, sources)
            return dest
        except COGValidationError as exc:
            if not all("is not tiled" in e for e in exc.errors):
                raise
    _translate(source, dest, categorical, BLOCKS[-1], token, sources)
    return dest


def _translate(source: Path, dest: Path, categorical: bool, block: int, token: str | None = None,
               sources: Sources = LOCAL) -> None:
    """One try at ``block`` px; ``COGValidationError`` (and nothing at ``dest``) if rio-cogeo
    rejects the result."""
    options: dict[str, Any] = {
        "tms": morecantile.tms.get(SERVING_TMS), "block": block, "config": {"GDAL_NUM_THREADS": "ALL_CPUS"},
        "resampling": "nearest" if categorical else "bilinear",
        "overview_resampling": "mode" if categorical else "average",
    }
    with ExitStack() as stack:
        src = stack.enter_context(read_dataset(str(source), sources))  # local GeoTIFFs (or the object store's)
        tags = {**src.tags(), SOURCE_TAG: token or stat_token(source.stat())}
        if categorical:
            options.update(nodata=src.nodata if src.nodata is not None else 0, indexes=(1,))
            with contextlib.suppress(ValueError):  # no colour table: the catalog's palette renders it
                options["colormap"] = src.colormap(1)
        elif src.nodata is None and not _has_alpha_or_mask(src):
            # without an alpha band the warp would paint the outside of the scene black
            src = stack.enter_context(WarpedVRT(src, add_alpha=True))
        out = stack.enter_context(atomic_path(dest))  # an exception drops the temporary file
        translate_to_cog(src, out, tags=tags, **options)


def _has_alpha_or_mask(src: Any) -> bool:
    from rasterio.enums import ColorInterp, MaskFlags

    if ColorInterp.alpha in src.colorinterp:
        return True
    return any(MaskFlags.per_dataset in flags for flags in src.mask_flag_enums)


def with_serving_copy(store: CatalogStore, layer: Layer, *, force: bool = False) -> Layer:
    """``layer`` with a fresh serving copy of its file: written unless already current (or
    ``force``); the new file replaces the old one in one rename, so tiles never lack it."""
    source = store.layer_path(layer)
    dest = serving_path_for(store, source, layer.categorical)
    token = store.source_token(layer)
    if force or not (dest.is_file() and _copy_source(dest) == token):
        write_serving_copy(source, dest, categorical=layer.categorical, token=token, sources=store.sources)
    return layer.model_copy(update={"serving_path": os.path.relpath(dest, store.root),
                                    "serving_source": token})


def _copy_source(path: Path) -> str | None:
    try:
        with rasterio.open(path) as src:
            return src.tags().get(SOURCE_TAG)
    except rasterio.errors.RasterioIOError:
        return None


COPY_NAME = re.compile(r"^[^.].*-[0-9a-f]{10}\.tif$")  # what serving_path_for names (no temporaries)
PRUNE_MIN_AGE_S = 3600.0


def prune_serving_copies(store: CatalogStore, only: Iterable[Path] | None = None,
                         min_age_s: float = PRUNE_MIN_AGE_S) -> list[Path]:
    """Delete serving copies that no layer of the catalog uses any more.

    With ``only``: those copies (the ones of layers just removed or replaced), at once.
    Without: every finished copy in ``.serving/`` unused and older than ``min_age_s``, since a
    younger one may belong to a layer another process is adding right now; files being
    written (temporary names) are never touched.
    """
    folder = store.root / SERVING_DIR
    if not folder.is_dir():
        return []
    used = {store.resolve(layer.serving_path) for city in store.load().cities.values()
            for layer in city.layers.values() if layer.serving_path}
    if only is not None:
        candidates = [Path(p) for p in only]
    else:
        now = time.time()
        candidates = [p for p in folder.iterdir() if p.is_file() and now - p.stat().st_mtime >= min_age_s]
    removed = []
    for path in candidates:
        if path.parent.resolve() == folder.resolve() and COPY_NAME.match(path.name) \
                and path.resolve() not in used and path.exists():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
