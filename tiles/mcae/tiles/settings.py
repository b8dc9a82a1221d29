"""Tile server settings (``MCAE_TILES_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcae.inference.object_store import S3Settings


class TileSettings(BaseSettings):
    """Where the catalog is, and the limits every request is held to."""

    model_config = SettingsConfigDict(env_prefix="MCAE_TILES_", env_file=".env", extra="ignore")

    catalog_path: Path = Path("demo-output/catalog.json")
    # tiles and tile documents on version-less URLs: kept, but revalidated (ETag -> 304)
    cache_control: str = "no-cache"
    # tiles whose URL names the layer's current version (``?v=``): a rebuilt map gets new URLs
    immutable_cache_control: str = "public, max-age=31536000, immutable"
    max_bundle_tiles: int = 20_000
    max_image_pixels: int = 4096 * 4096  # bbox/feature images and clipped GeoTIFFs
    dataset_cache_size: int = 64  # open datasets kept per process
    gdal_cachemax_mb: int = 256
    gdal_allow_network: bool = False  # let catalog entries be URLs / /vsi paths
    # S3-compatible object storage for s3:// layers (``MCAE_S3_*``; off unless enabled)
    s3: S3Settings = Field(default_factory=S3Settings)
    tile_cache_mb: int = 64  # rendered tiles kept per process (0: off)
    # the built web viewer, served at "/" when the folder exists (``make web`` builds it)
    web_dist: Path = Path(__file__).resolve().parents[3] / "web" / "dist"
