"""S3-compatible object storage: where maps and catalog layers may live (``s3://bucket/key``).

One settings block (``MCAE_S3_*``: endpoint, region, https, virtual hosting, optional
credentials; without them the usual ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``~/.aws`` apply) serves both readers and writers:

* GDAL reads objects as ``/vsis3/bucket/key``, with the options of :func:`gdal_env` (an app
  applies them per thread through ``mcae.tiles.gdal.Sources``; a command may put them into
  its process environment with :func:`configure`);
* boto3 writes them (:func:`upload`) and answers what an object is now (:func:`head`:
  ETag, size and time, the layer version of an ``s3://`` layer).

A map goes up whole: it is written and validated locally first, and an S3 PUT is atomic,
so a reader sees the old object or the new one, never a part. Locations come from the
catalog and the command line only, never from a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcae.inference.errors import InputError

S3_PREFIX = "s3://"
VSI_PREFIX = "/vsis3/"
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
HOST = re.compile(r"^[A-Za-z0-9.-]+$|^[0-9a-fA-F:]+$")  # a name, an IPv4 or an IPv6 address


class StorageError(InputError):
    """Object storage is off, misconfigured, unreachable, or refuses an operation."""


class S3Settings(BaseSettings):
    """How to reach the object store (``MCAE_S3_ENDPOINT=127.0.0.1:9000`` ...)."""

    model_config = SettingsConfigDict(env_prefix="MCAE_S3_", env_file=".env", extra="ignore")

    enabled: bool = False  # catalog layers on s3:// are refused unless this is on
    endpoint: str | None = None  # host[:port] or http(s)://host[:port]; None: AWS itself
    region: str = "us-east-1"
    https: bool = True  # ignored when ``endpoint`` names its scheme
    virtual_hosting: bool = True  # bucket.host/key; False for path style (MinIO, moto, Ceph)
    access_key_id: str | None = None  # None: AWS_ACCESS_KEY_ID / ~/.aws, as boto3 and GDAL find them
    secret_access_key: SecretStr | None = None
    timeout_s: int = 10
    max_retry: int = 2

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value if "://" in value else f"//{value}")
        if "://" in value and parts.scheme not in ("http", "https"):
            raise ValueError("the endpoint's scheme is http or https")
        if not parts.hostname or not HOST.match(parts.hostname) or parts.path not in ("", "/") \
                or parts.query or parts.fragment or parts.username:
            raise ValueError("the endpoint is host[:port] or http(s)://host[:port], nothing more")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("the endpoint's port is not a number from 1 to 65535") from None
        return value.rstrip("/")

    def use_https(self) -> bool:
        if self.endpoint and "://" in self.endpoint:
            return self.endpoint.startswith("https://")
        return self.https

    def host(self) -> str | None:
        """The endpoint as GDAL wants it: host[:port], no scheme."""
        return self.endpoint.split("://", 1)[-1] if self.endpoint else None

    def endpoint_url(self) -> str | None:
        """The endpoint as boto3 wants it: with its scheme."""
        host = self.host()
        return f"{'https' if self.use_https() else 'http'}://{host}" if host else None

    def key(self) -> tuple[Any, ...]:
        secret = self.secret_access_key.get_secret_value() if self.secret_access_key else None
        return (self.endpoint_url(), self.region, self.virtual_hosting, self.access_key_id, secret,
                self.timeout_s, self.max_retry)


def is_s3(location: str | Path) -> bool:
    return str(location).startswith(S3_PREFIX)


def split(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``; :class:`StorageError` for anything else."""
    if not is_s3(url):
        raise StorageError(f"{url!r} is not an s3://bucket/key location")
    bucket, _, key = url[len(S3_PREFIX):].partition("/")
    if not BUCKET.match(bucket) or not key or key.endswith("/") or "//" in key or ".." in key.split("/"):
        raise StorageError(f"{url!r} is not an s3://bucket/key location (a bucket name, then an object key)")
    return bucket, key


def vsi_path(url: str) -> str:
    """``s3://bucket/key`` as GDAL opens it."""
    bucket, key = split(url)
    return f"{VSI_PREFIX}{bucket}/{key}"


def from_vsi(path: str) -> str:
    """``/vsis3/bucket/key`` back to ``s3://bucket/key``."""
    return S3_PREFIX + path[len(VSI_PREFIX):]


def gdal_env(settings: S3Settings) -> dict[str, str]:
    """The ``AWS_*`` / ``GDAL_HTTP_*`` options GDAL reads objects with."""
    env = {"AWS_REGION": settings.region, "AWS_HTTPS": "YES" if settings.use_https() else "NO",
           "AWS_VIRTUAL_HOSTING": "TRUE" if settings.virtual_hosting else "FALSE",
           "GDAL_HTTP_TIMEOUT": str(settings.timeout_s), "GDAL_HTTP_MAX_RETRY": str(settings.max_retry),
           "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
           "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}  # never list a bucket per open
    if settings.host():
        env["AWS_S3_ENDPOINT"] = settings.host()  # type: ignore[assignment]
    if settings.access_key_id and settings.secret_access_key:
        env["AWS_ACCESS_KEY_ID"] = settings.access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = settings.secret_access_key.get_secret_value()
    return env


def configure(settings: S3Settings) -> dict[str, str]:
    """Put ``settings``' GDAL options into this process's environment (a command-line process;
    an app reads through its own ``rasterio.Env`` instead, see ``mcae.tiles.gdal.Sources``)."""
    env = gdal_env(settings) if settings.enabled else {}
    os.environ.update(env)
    return env


def active() -> S3Settings:
    """The object store of the environment (``MCAE_S3_*``), for callers given no settings
    (an invalid variable: one-line :class:`StorageError`)."""
    try:
        return S3Settings()
    except ValidationError as exc:
        problems = "; ".join(f"MCAE_S3_{'.'.join(str(p) for p in e['loc']).upper()}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise StorageError(f"invalid settings: {problems}") from None


def require(settings: S3Settings) -> S3Settings:
    if not settings.enabled:
        raise StorageError("object storage is off: set MCAE_S3_ENABLED=true (and MCAE_S3_ENDPOINT for a "
                           "store other than AWS) to read or write s3:// locations")
    return settings


@lru_cache(maxsize=8)
def _client(key: tuple[Any, ...]) -> Any:
    import boto3
    from botocore.config import Config

    endpoint, region, virtual, access, secret, timeout, retries = key
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": retries + 1},
                    s3={"addressing_style": "virtual" if virtual else "path"})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access,
        aws_secret_access_key=secret, config=config)


def client(settings: S3Settings) -> Any:
    """A boto3 S3 client for ``settings`` (one per distinct settings, per process)."""
    return _client(require(settings).key())


def _explain(exc: Exception, url: str, settings: S3Settings) -> StorageError:
    """One line for a user, naming the store and the object, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    where = settings.endpoint_url() or "AWS S3"
    while not isinstance(exc, (ClientError, BotoCoreError)) and isinstance(exc.__cause__ or exc.__context__,
                                                                            Exception):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]  # boto3's transfer wraps
    if isinstance(exc, NoCredentialsError):
        return StorageError(f"no credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                            "(or MCAE_S3_ACCESS_KEY_ID and MCAE_S3_SECRET_ACCESS_KEY)")
    if isinstance(exc, EndpointConnectionError):
        return StorageError(f"object storage at {where} cannot be reached (MCAE_S3_ENDPOINT, MCAE_S3_HTTPS)")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket",):
            return StorageError(f"{url}: no such bucket at {where}")
        if code in ("404", "NoSuchKey", "NotFound"):
            return StorageError(f"{url}: no such object at {where}")
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StorageError(f"{url}: access denied by {where} (check the credentials)")
        return StorageError(f"{url}: {where} answered {code or 'an error'}")
    return StorageError(f"{url}: object storage at {where} failed ({type(exc).__name__})")


def head(url: str, settings: S3Settings | None = None) -> str:
    """What the object is now (ETag, size, time): changes whenever it is rewritten."""
    settings = settings or active()
    bucket, key = split(url)
    try:
        meta = client(settings).head_object(Bucket=bucket, Key=key)
    except StorageError:
        raise
    except Exception as exc:  # botocore raises many kinds
        raise _explain(exc, url, settings) from None
    return f"{meta.get('ETag', '').strip(chr(34))}:{meta.get('ContentLength', 0)}:" \
           f"{meta['LastModified'].timestamp() if meta.get('LastModified') else 0}"


def upload(local: str | Path, url: str, settings: S3Settings | None = None) -> str:
    """Put ``local`` at ``url`` in one PUT (readers see the old object or the new one)."""
    settings = settings or active()
    bucket, key = split(url)
    s3 = client(settings)
    kind = "image/tiff" if key.endswith((".tif", ".tiff")) else "application/octet-stream"
    try:  # one PUT, or a multipart upload for big maps: the object appears whole either way
        s3.upload_file(str(local), bucket, key, ExtraArgs={"ContentType": kind})
    except Exception as exc:
        raise _explain(exc, url, settings) from None
    return url


def size(url: str, settings: S3Settings | None = None) -> int:
    """The object's size in bytes."""
    settings = settings or active()
    bucket, key = split(url)
    try:
        return int(client(settings).head_object(Bucket=bucket, Key=key)["ContentLength"])
    except StorageError:
        raise
    except Exception as exc:
        raise _explain(exc, url, settings) from None


def read(url: str, first: int | None = None, last: int | None = None, settings: S3Settings | None = None,
         chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """The object's bytes ``first``..``last`` (inclusive; all of it without them), ``chunk`` at a
    time. The request is made before the first chunk is asked for, so a missing object or a refused
    read raises here, not half way through an answer."""
    settings = settings or active()
    bucket, key = split(url)
    extra = {} if first is None else {"Range": f"bytes={first}-{'' if last is None else last}"}
    try:
        body = client(settings).get_object(Bucket=bucket, Key=key, **extra)["Body"]
    except StorageError:
        raise
    except Exception as exc:
        raise _explain(exc, url, settings) from None
    return _chunks(body, chunk)


def _chunks(body: Any, chunk: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk)
    finally:
        body.close()
