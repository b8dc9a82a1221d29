"""How much a worker of ``mcae serve`` may grow after the warm-up of a load run without leaking.

Everything a worker keeps between requests is held in a bounded per-process structure; after
the warm-up each can at most fill up to its capacity. So a worker whose RSS grows by more
than the sum of those capacities (plus the allocator's slack) keeps something else: a leak.
The capacities come from the settings the server runs with and from the code's own limits:

* rendered tiles: ``tiles.tile_cache_mb``;
* GDAL's block cache: ``tiles.gdal_cachemax_mb`` (``GDAL_CACHEMAX``, per process);
* idle readers: ``tiles.dataset_cache_size`` x ``DATASET_MB``;
* thumbnails and patch images: ``annotation.mount.IMAGE_CACHE_BYTES``;
* patches in memory: ``PATCHES_KEPT`` (``deps.py``) x the project's patches, each its RGB image
  and int32 mask raster (7 bytes a pixel at the patch size).

Open file descriptors are bounded alike: idle readers (one file each) plus the readers and
connections in use at once (at most one request per client connection).
"""

from __future__ import annotations

from pathlib import Path

from mcae.platform.annotation.mount import IMAGE_CACHE_BYTES
from mcae.platform.settings import Settings

MB = 1024 * 1024
# one open reader of a demo COG: ~0.3 MB measured (48 readers of the demo's 12 COGs: +14.7 MB RSS); x3
DATASET_MB = 1.0
PATCHES_KEPT = 8  # PatchImages(max_patches=8) in mcae.platform.annotation.deps
PATCH_BYTES_PER_PX = 3 + 4  # the RGB image and the int32 mask raster
# what the allocator may keep without any leak: pymalloc arenas, glibc malloc arenas of the
# threadpool's threads (each grows its own), fragmentation of the freed tile and JSON buffers
SLACK_MB = 32.0
FD_SLACK = 8  # SQLite's pooled connections (database, WAL and shared-memory files), log files


def capacities_mb(settings: Settings, patches: int) -> dict[str, float]:
    """The most each bounded per-process structure may hold, in MB."""
    tiles = settings.tiles
    patch_mb = settings.patch_size ** 2 * PATCH_BYTES_PER_PX / MB
    return {"tile cache": float(tiles.tile_cache_mb), "GDAL block cache": float(tiles.gdal_cachemax_mb),
            "idle readers": tiles.dataset_cache_size * DATASET_MB, "thumbnail cache": IMAGE_CACHE_BYTES / MB,
            "patch images": min(PATCHES_KEPT, patches) * patch_mb}


def growth_bound_mb(settings: Settings, patches: int) -> float:
    """RSS growth after the warm-up that a worker without a leak stays under."""
    return sum(capacities_mb(settings, patches).values()) + SLACK_MB


def fd_bound(settings: Settings, clients: int) -> int:
    """Open file descriptors a worker may gain after the warm-up: every idle reader and, per
    client connection, its socket and a reader in use."""
    return settings.tiles.dataset_cache_size + 2 * clients + FD_SLACK


def settings_of(env: dict[str, str], catalog: Path) -> Settings:
    """The settings the server's workers read (its ``MCAE_*`` environment and catalog)."""
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, {**env, "MCAE_TILES__CATALOG_PATH": str(catalog)}):
        return Settings(_env_file=None)  # type: ignore[call-arg]
