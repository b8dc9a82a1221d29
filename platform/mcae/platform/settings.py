"""Platform settings, read from the environment (``MCAE_*``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults every command starts from; each can be overridden per command."""

    model_config = SettingsConfigDict(env_prefix="MCAE_", env_file=".env", extra="ignore")

    target_gsd: float = 0.6
    patch_size: int = 1024
    overlap: int = 0
    neighbourhood: int = 3
    scheduler: str | None = None  # None: a local Dask cluster; "synchronous"; or an address
    workers: int | None = None  # local cluster size (default: CPU count, at most 8)
    demo_dir: Path = Path("demo-output")
    sam_model_type: str = "vit_b"
    sam_device: str = "auto"


def get_settings() -> Settings:
    return Settings()
