"""The annotation service inside the app: its state on ``app.state`` and its routers."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI

from mcae.platform.annotation.auth import TokenCache
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.routes_assess import create_assess_router, create_layer_assessment_router
from mcae.platform.annotation.routes_browse import create_browse_router
from mcae.platform.annotation.routes_dataset import create_dataset_router
from mcae.platform.annotation.routes_manage import create_manage_router
from mcae.platform.annotation.routes_publish import create_publish_router
from mcae.platform.annotation.routes_write import create_write_router
from mcae.platform.annotation.throttle import AuthGuard
from mcae.platform.annotation.thumbnails import warm_up
from mcae.tiles.http_cache import ByteCache

IMAGE_CACHE_BYTES = 64 * 1024 * 1024


def add_annotation(app: FastAPI, settings: Any) -> None:
    """Mount the service; the database is opened lazily and checked in ``start_annotation``."""
    state = app.state
    state.database = Database(settings.database_url(), settings.database.busy_timeout_s)
    state.token_cache = TokenCache(settings.auth.verified_cache_s)
    state.auth_guard = AuthGuard.from_settings(settings.auth)
    state.patch_images = {}
    state.images_lock = threading.Lock()
    state.image_cache = ByteCache(IMAGE_CACHE_BYTES)
    app.include_router(create_browse_router())
    app.include_router(create_write_router())
    app.include_router(create_manage_router())
    app.include_router(create_assess_router())
    app.include_router(create_layer_assessment_router())
    app.include_router(create_publish_router())
    app.include_router(create_dataset_router())


def start_annotation(app: FastAPI) -> None:
    """At start-up: SQLite migrates itself; another database must be at the newest revision; the
    image libraries' one-time costs are paid (not by the first thumbnail)."""
    app.state.database.require_current(migrate_sqlite=True)
    warm_up()


def stop_annotation(app: FastAPI) -> None:
    app.state.database.dispose()
