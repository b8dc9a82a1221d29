"""GDAL configuration of the tile server: tuned for local COGs, hardened against odd inputs.

Applied once at app creation (``configure_gdal``), through ``os.environ`` so that every
thread and every later ``rasterio.open`` sees it, and returned as a dict for the
factories' ``rasterio.Env``.

Hardening, in layers:

* routes only ever name catalog ids; the only paths opened come from the catalog;
* ``check_source`` refuses ``/vsi*`` paths and URLs (unless ``gdal_allow_network``) and
  anything that is not a regular file, before GDAL sees the name;
* datasets are opened with ``ALLOWED_DRIVERS`` only (GTiff: COGs are GeoTIFFs). This is
  the "equivalent" of ``GDAL_SKIP=VRT``: a VRT (or any other format) renamed ``.tif``
  in the catalog is refused, while rio-tiler's in-memory ``WarpedVRT`` reprojection
  still works. ``GDAL_SKIP=VRT`` itself breaks that reprojection (GDAL then fails inside
  ``calculate_default_transform``), so it is not set;
* network drivers stay unusable: ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS`` names an extension
  no file has, and HTTP is off unless configured;
* with object storage on (``s3.enabled``), ``/vsis3/`` paths (catalog layers stored as
  ``s3://bucket/key``) are the one remote kind allowed, read with the endpoint and
  credentials of the settings or the environment (``object_store.configure``);
* ``GDAL_PAM_ENABLED=NO``: reading never writes ``.aux.xml`` files next to the data.
"""

from __future__ import annotations

import os
from pathlib import Path

from mcae.inference import object_store
from mcae.inference.errors import MCAEError
from mcae.tiles.settings import TileSettings

ALLOWED_DRIVERS = "GTiff"
NO_NETWORK_EXTENSION = ".mcae-no-network"


class SourceRefused(MCAEError):
    """A catalog entry points at something the server will not open."""


def gdal_options(settings: TileSettings) -> dict[str, str]:
    """The GDAL configuration options for ``settings``."""
    options = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing per open
        "GDAL_CACHEMAX": str(settings.gdal_cachemax_mb),  # MB of block cache, per process
        "GDAL_PAM_ENABLED": "NO",
        "GDAL_NUM_THREADS": "1",  # the server parallelises by request, not inside GDAL
        "GDAL_MAX_DATASET_POOL_SIZE": str(max(100, 2 * settings.dataset_cache_size)),
        "CPL_DEBUG": "OFF",
        "VSI_CACHE": "FALSE",
    }
    if settings.s3.enabled:  # what /vsis3/ needs (credentials stay out of this dict)
        options.update({k: v for k, v in object_store.gdal_env(settings.s3).items() if not k.endswith(
            ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY"))})
    if settings.gdal_allow_network:
        options.update({"CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
                        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES", "GDAL_HTTP_MULTIPLEX": "YES",
                        "VSI_CACHE": "TRUE"})
    elif not settings.s3.enabled:
        options.update({"CPL_VSIL_CURL_ALLOWED_EXTENSIONS": NO_NETWORK_EXTENSION,
                        "GDAL_HTTP_MAX_RETRY": "0", "GDAL_HTTP_TIMEOUT": "1"})
    return options


_network_allowed = False
_s3_allowed = False


def configure_gdal(settings: TileSettings) -> dict[str, str]:
    """Put ``settings``' GDAL options into the process environment; returns them."""
    global _network_allowed, _s3_allowed
    options = gdal_options(settings)
    os.environ.update(options)
    object_store.configure(settings.s3)  # also the credentials, when the settings hold them
    _network_allowed = settings.gdal_allow_network
    _s3_allowed = settings.s3.enabled
    return options


def check_source(path: str) -> str:
    """``path`` if the server may open it: a local regular file, an object of the configured
    store when object storage is on (or any URL when allowed)."""
    remote = path.startswith("/vsi") or "://" in path
    if remote:
        if _s3_allowed and path.startswith(object_store.VSI_PREFIX):
            try:
                object_store.split(object_store.from_vsi(path))  # a well-formed bucket/key only
            except object_store.StorageError:
                raise SourceRefused("this layer's object location is not a bucket and key") from None
            return path
        if not _network_allowed:
            raise SourceRefused("this layer's source is remote and the server reads local files only")
        return path
    if not Path(path).is_file():
        raise SourceRefused("this layer's file is missing")
    return path
