"""GDAL configuration of the tile server: tuned for local COGs, hardened against odd inputs.

Each app holds its own ``Sources`` (made from its settings, kept on ``app.state`` and by its
catalog store and reader pool): the permissions below and the options, applied as a
``rasterio.Env`` (per thread in GDAL) around every open and read, so no app changes the
process for another. ``configure_gdal`` remains for a command-line process.

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
  credentials of the settings (an ``AWSSession``) or the environment;
* ``GDAL_PAM_ENABLED=NO``: reading never writes ``.aux.xml`` files next to the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcae.inference import object_store
from mcae.inference.errors import MCAEError
from mcae.inference.object_store import S3Settings
from mcae.tiles.settings import TileSettings

ALLOWED_DRIVERS = "GTiff"
NO_NETWORK_EXTENSION = ".mcae-no-network"
PROCESS_WIDE = ("GDAL_CACHEMAX",)  # options GDAL holds once per process, not per thread


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


@dataclass(frozen=True)
class Sources:
    """What one app (or one command) may open, and the GDAL options it reads with.

    The permissions (``check``) and the options (``env()``: a ``rasterio.Env``, which GDAL
    holds per thread) belong to whoever made this object, never to the process: two apps with
    different settings in one process each read with their own. Credentials for the object
    store go into the ``rasterio.Env`` as an ``AWSSession`` (never into ``os.environ``); note
    that rasterio sets a session's credentials for the whole process while the block runs, so
    two apps in one process with *different* object-store credentials are not isolated there.
    """

    allow_network: bool = False
    s3: S3Settings | None = None  # the object store, when it is on
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: TileSettings) -> Sources:
        # GDAL_CACHEMAX sizes GDAL's one block cache per process (rasterio.Env would set it for
        # the whole process at each entry): ``mcae serve`` sets it for its worker processes
        options = {k: v for k, v in gdal_options(settings).items() if k not in PROCESS_WIDE}
        return cls(allow_network=settings.gdal_allow_network, s3=settings.s3 if settings.s3.enabled else None,
                   options=tuple(sorted(options.items())))

    def check(self, path: str) -> str:
        """``path`` if it may be opened: a local regular file, an object of the configured
        store when object storage is on (or any URL when allowed)."""
        remote = path.startswith("/vsi") or "://" in path
        if remote:
            if self.s3 is not None and path.startswith(object_store.VSI_PREFIX):
                try:
                    object_store.split(object_store.from_vsi(path))  # a well-formed bucket/key only
                except object_store.StorageError:
                    raise SourceRefused("this layer's object location is not a bucket and key") from None
                return path
            if not self.allow_network:
                raise SourceRefused("this layer's source is remote and the server reads local files only")
            return path
        if not Path(path).is_file():
            raise SourceRefused("this layer's file is missing")
        return path

    def env(self) -> Any:
        """A ``rasterio.Env`` with these options (and the store's credentials, when set)."""
        import rasterio

        session = None
        if self.s3 is not None and self.s3.access_key_id and self.s3.secret_access_key:
            from rasterio.session import AWSSession

            session = AWSSession(aws_access_key_id=self.s3.access_key_id,
                                 aws_secret_access_key=self.s3.secret_access_key.get_secret_value(),
                                 region_name=self.s3.region, endpoint_url=self.s3.host())
        return rasterio.Env(session=session, **dict(self.options))


LOCAL = Sources()  # local regular files only (what tests and one-off readers use by default)


def configure_gdal(settings: TileSettings) -> dict[str, str]:
    """Put ``settings``' GDAL options and object store into this process's environment: for
    a command-line process (``mcae publish``), where GDAL is used outside any ``Sources.env``.
    The app does not call it."""
    options = gdal_options(settings)
    os.environ.update(options)
    object_store.configure(settings.s3)  # also the credentials, when the settings hold them
    return options


def check_source(path: str, sources: Sources = LOCAL) -> str:
    """``path`` if ``sources`` may open it (see ``Sources.check``)."""
    return sources.check(path)
