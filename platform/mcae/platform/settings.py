"""The one settings tree of the platform, read from the environment or a ``.env`` file.

``MCAE_*`` variables set the engine defaults (``MCAE_WORKERS=4``); nested parts use ``__``:
``MCAE_TILES__CATALOG_PATH``, ``MCAE_DATABASE__URL``, ``MCAE_AUTH__LEASE_SECONDS``,
``MCAE_JOBS__WORKERS``, ``MCAE_HEAVY__CONCURRENCY``, ``MCAE_BASEMAP__URL``,
``MCAE_DOWNLOADS__DATASET_ROLES='["reviewer","admin"]'``. The tiles layer's own ``MCAE_TILES_*`` variables
(``MCAE_TILES_CATALOG_PATH``) still work; the ``__`` form wins where both are set.
Object storage (``tiles.s3``, also ``Settings.s3``) reads ``MCAE_S3_*``: ``MCAE_S3_ENABLED``,
``MCAE_S3_ENDPOINT``, ``MCAE_S3_REGION``, ``MCAE_S3_HTTPS``, ``MCAE_S3_VIRTUAL_HOSTING`` and,
optionally, ``MCAE_S3_ACCESS_KEY_ID`` / ``MCAE_S3_SECRET_ACCESS_KEY`` (else ``AWS_*`` as usual).
Invalid values are a :class:`SettingsError` naming the setting, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcae.inference.errors import InputError
from mcae.inference.object_store import S3Settings
from mcae.tiles.settings import TileSettings


class SettingsError(InputError):
    """A setting (an ``MCAE_*`` variable or ``.env`` line) has a value that cannot be used."""


class DatabaseSettings(BaseModel):
    """The annotation database."""

    url: str | None = None  # None: SQLite file annotation.db beside the catalog file
    busy_timeout_s: float = 30.0

    @field_validator("url")
    @classmethod
    def _a_database_we_speak(cls, value: str | None) -> str | None:
        # the message never repeats the URL: it may hold a password
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL: sqlite:///FILE or postgresql://USER@HOST/NAME") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"{backend} is not supported: sqlite:///FILE or postgresql://USER@HOST/NAME")
        return value


class AuthSettings(BaseModel):
    """Tokens, password hashing and edit leases."""

    lease_seconds: int = 300
    token_bytes: int = 32
    scrypt_n: int = 16384
    scrypt_r: int = 8
    scrypt_p: int = 1
    # guessing tokens (mcae.platform.annotation.throttle); per server process
    failures_allowed: int = Field(default=10, ge=1)  # failed authentications per address / token id ...
    failure_window_s: float = Field(default=60.0, gt=0)  # ... within this window, before backing off
    backoff_base_s: float = Field(default=1.0, gt=0)  # the first wait; doubles with each further failure
    backoff_max_s: float = Field(default=300.0, gt=0)  # the longest wait
    failure_memory_s: float = Field(default=60.0, ge=0)  # a token that failed fails again without a scrypt
    max_concurrent_verifications: int = Field(default=2, ge=1)  # scrypt runs at once per process ...
    verification_wait_s: float = Field(default=0.5, ge=0)  # ... one more waits this long for a slot, then 503
    # a verified secret skips scrypt this long (its revocation is still read on every request)
    verified_cache_s: float = Field(default=300.0, ge=0)


class JobSettings(BaseModel):
    """Background jobs (bundles, rebuilds)."""

    dir: Path | None = None  # None: jobs/ beside the catalog file
    workers: int = Field(default=1, ge=1)  # bundle (and other) jobs run at the same time per server process
    rebuild_workers: int = Field(default=1, ge=1)  # rebuilds: their own threads, never queued behind bundles
    bundles_per_client: int = Field(default=2, ge=1)  # bundle jobs queued or running per client address (429 beyond)
    bundles_total: int = Field(default=8, ge=1)  # ... and in all, per server process (429 beyond)
    max_age_s: float = Field(default=24 * 3600.0, gt=0)  # finished jobs and their files expire after this
    max_total_bytes: int = Field(default=10 * 1024**3, gt=0)  # the jobs folder's cap: oldest finished jobs go first
    prune_every_s: float = Field(default=60.0, ge=0)  # expiry runs at most this often (when a job is submitted)


class HeavySettings(BaseModel):
    """The CPU-heavy anonymous routes (clip, statistics, bundle estimates, compare.png, STAC):
    how many run at once per server process (``mcae.platform.busy``; docker/nginx.conf agrees)."""

    concurrency: int = Field(default=8, ge=1)  # in all (503 + Retry-After beyond)
    per_client: int = Field(default=4, ge=1)  # per client address (429 + Retry-After beyond): the viewer
    # asks for one layer's statistics per layer shown (up to 4) at once
    retry_after_s: int = Field(default=1, ge=1)


DatasetRole = Literal["viewer", "annotator", "reviewer", "admin"]
DATASET_ROLES: tuple[DatasetRole, ...] = ("reviewer", "admin")


class DownloadSettings(BaseModel):
    """Whole-file downloads (maps, district maps, sidecars; anonymous, like the maps) and the
    dataset export of a project (``/api/projects/{id}/dataset.zip``)."""

    # whole-file requests at once (``mcae.platform.busy.FILES``; docker/nginx.conf agrees): GDAL's
    # /vsicurl/ and QGIS read a COG with a few range requests in parallel
    concurrency: int = Field(default=16, ge=1)  # in all, per server process (503 + Retry-After beyond)
    per_client: int = Field(default=6, ge=1)  # per client address (429 + Retry-After beyond)
    # who may download a project's dataset export (image/label pairs), by role
    dataset_roles: list[DatasetRole] = Field(default_factory=lambda: list(DATASET_ROLES))


class LoadSettings(BaseModel):
    """Caps of Load (``POST .../decisions.jsonl``): a large batch of a real project, no more.

    A Load brings in decisions made elsewhere (the engine's ``mcae label`` file, a Dump of a
    district, an admin's restore). A city of about 5 million masks is labelled by a few tens
    of thousands of group decisions and some hundreds of thousands of mask corrections; a
    Dump line is about 60-200 bytes plus about 14 bytes per mask a group decision lists. The
    write lock (one transaction: all or nothing) grows with the mask labels written
    (``benchmarks.load_lock``, SQLite, a 2-core machine at load average ~19: 20,000 lines with
    417,000 mask labels held it 25 s; 45,000 lines with 932,000 labels 77 s), so 1,000,000
    mask labels bound it to a minute or two on a busy machine, less on a quiet one; a
    whole-city restore is several Loads, each all or nothing.
    """

    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)  # a district's Dump is a few MiB
    max_lines: int = Field(default=200_000, ge=1)  # every mask correction of a district, and more
    max_mask_labels: int = Field(default=1_000_000, ge=1)  # masks the lines label, all together
    max_line_bytes: int = Field(default=1024 * 1024, ge=64)  # one line: the biggest group's mask list
    batch_lines: int = Field(default=2000, ge=1)  # decisions inserted per statement batch


class BasemapSettings(BaseModel):
    """A map drawn under the viewer's layers: off (``url`` None) unless configured, since nothing
    is fetched from outside unless an operator says so. ``MCAE_BASEMAP__URL`` is an XYZ tile
    template (``https://tiles.example.org/{z}/{x}/{y}.png``) or a MapLibre style URL (a JSON
    document); ``MCAE_BASEMAP__ATTRIBUTION`` (required with a URL) is shown under the map and
    in the layer info. The URL's origin (and ``extra_origins``, e.g. a style's tile hosts) is
    added to the page's content security policy."""

    url: str | None = None
    kind: Literal["auto", "xyz", "style"] = "auto"  # auto: xyz when the URL has {z}, else a style
    attribution: str = ""
    title: str = "Basemap"
    maxzoom: int = Field(default=19, ge=0, le=24)  # of an XYZ source (the map over-zooms beyond)
    extra_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checked(self) -> BasemapSettings:
        if self.url is None:
            return self
        parts = urlsplit(self.url)
        if not (self.url.startswith("/") or (parts.scheme in ("http", "https") and parts.netloc)):
            raise ValueError("basemap.url must be an http(s) URL or a path on this server")
        if self.resolved_kind == "xyz" and not all(k in self.url for k in ("{z}", "{x}", "{y}")):
            raise ValueError("an XYZ basemap.url needs {z}, {x} and {y}")
        if not self.attribution.strip():
            raise ValueError("basemap.attribution is required with basemap.url")
        for origin in self.extra_origins:
            found = urlsplit(origin)
            if found.scheme not in ("http", "https") or not found.netloc or found.path not in ("", "/"):
                raise ValueError(f"basemap.extra_origins: {origin!r} is not an http(s) origin")
        return self

    @property
    def resolved_kind(self) -> Literal["xyz", "style"]:
        if self.kind != "auto":
            return self.kind
        return "xyz" if self.url is not None and "{z}" in self.url else "style"

    def origins(self) -> list[str]:
        """The other origins the page must be allowed to fetch from (none while off)."""
        if self.url is None:
            return []
        parts = urlsplit(self.url)
        own = [f"{parts.scheme}://{parts.netloc}"] if parts.netloc else []
        return [*own, *(o.rstrip("/") for o in self.extra_origins)]


class Settings(BaseSettings):
    """Defaults every command and the app start from; each command can override its own."""

    model_config = SettingsConfigDict(env_prefix="MCAE_", env_nested_delimiter="__", env_file=".env",
                                      extra="ignore")

    target_gsd: float = 0.6
    patch_size: int = 1024
    overlap: int = 0
    neighbourhood: int = 3
    scheduler: str | None = None  # None: a local Dask cluster; "synchronous"; or an address
    workers: int | None = None  # local cluster size (default: CPU count, at most 8)
    train_max_masks: int = Field(default=250_000, ge=100)  # `mcae train`'s budget: decided masks sampled to fit
    demo_dir: Path = Path("demo-output")
    sam_model_type: str = "vit_b"
    sam_device: str = "auto"
    max_body_bytes: int = 16 * 1024 * 1024  # request bodies (413 beyond; the decisions load has its own cap)

    tiles: TileSettings = Field(default_factory=TileSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    load: LoadSettings = Field(default_factory=LoadSettings)
    heavy: HeavySettings = Field(default_factory=HeavySettings)
    basemap: BasemapSettings = Field(default_factory=BasemapSettings)
    downloads: DownloadSettings = Field(default_factory=DownloadSettings)
    docs_assets: Path | None = None  # a folder with Swagger UI's files: /docs on (no CDN); None: /docs off

    @field_validator("tiles", mode="before")
    @classmethod
    def _tiles_with_their_own_env(cls, value: Any) -> Any:
        # a dict (from MCAE_TILES__* or keyword arguments) goes through TileSettings(), so that
        # the MCAE_TILES_* variables it does not name still apply
        return TileSettings(**value) if isinstance(value, dict) else value

    @property
    def s3(self) -> S3Settings:
        """The object store of ``s3://`` maps and layers (``MCAE_S3_*``)."""
        return self.tiles.s3

    @property
    def catalog_dir(self) -> Path:
        """The folder of the catalog file (absolute): database and jobs live beside it."""
        return self.tiles.catalog_path.resolve().parent

    @property
    def jobs_dir(self) -> Path:
        """Where job records and their files are kept (``jobs/`` beside the catalog)."""
        return self.jobs.dir if self.jobs.dir is not None else self.catalog_dir / "jobs"

    def database_url(self) -> str:
        """The SQLAlchemy URL of the annotation database (``database.url``, else
        ``sqlite:///<folder of the catalog>/annotation.db``)."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.catalog_dir / 'annotation.db'}"


def get_settings(catalog: Path | None = None, database: str | None = None) -> Settings:
    """The settings of the environment, the one way to read them: :class:`SettingsError` (one
    line) for invalid values. ``catalog`` and ``database`` (a command's ``--catalog`` and
    ``--database``) replace ``tiles.catalog_path`` and ``database.url``."""
    _validated(S3Settings, lambda e: f"MCAE_S3_{'.'.join(str(p) for p in e['loc']).upper()}")  # its variables named
    settings = _validated(Settings, lambda e: ".".join(str(p) for p in e["loc"]) or "settings")
    if catalog is not None:
        settings.tiles.catalog_path = catalog
    if database is not None:
        timeout = settings.database.busy_timeout_s
        settings.database = _validated(lambda: DatabaseSettings(url=database, busy_timeout_s=timeout),
                                       lambda e: "database.url")
    return settings


M = TypeVar("M")


def _validated(make: Callable[[], M], name: Callable[[Any], str]) -> M:
    """``make()``, its validation errors as one :class:`SettingsError` line, each named by ``name``."""
    try:
        return make()
    except ValidationError as exc:
        problems = "; ".join(f"{name(e)}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None


__all__ = ["AuthSettings", "BasemapSettings", "DatabaseSettings", "HeavySettings", "JobSettings", "LoadSettings",
           "S3Settings", "Settings", "SettingsError", "TileSettings", "get_settings"]
