"""The platform's web application: catalog, tiles, analysis, downloads and jobs in one FastAPI app.

``create_app(settings)`` owns the application: the one error table
(``mcae.platform.errors``), the query guard on every route (``mcae.platform.guards``), the
job registry (made and shut down in the lifespan, ``app.state.jobs``) and the web viewer.
What routes read hangs off ``app.state``: ``settings`` (the root ``Settings``),
``tile_settings`` (``settings.tiles``, what tiles' dependencies read), ``sources`` (what
the app may open and its GDAL options), ``store``, ``readers`` (its reader pool, closed with
the app), ``gdal_options``, ``tile_cache`` and, while the app runs, ``jobs``. Nothing here
changes the process: two apps with different settings live side by side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mcae.platform.annotation.mount import add_annotation, start_annotation, stop_annotation
from mcae.platform.busy import FILES, HeavyRouteLimit
from mcae.platform.docs import add_docs
from mcae.platform.errors import add_exception_handlers
from mcae.platform.guards import QueryGuard
from mcae.platform.headers import SecuredApp
from mcae.platform.jobs import Caps, JobRegistry
from mcae.platform.limits import BodyLimit
from mcae.platform.responses import document_errors
from mcae.platform.routes_jobs import create_jobs_router
from mcae.platform.routes_viewer import create_viewer_router
from mcae.platform.settings import Settings, get_settings
from mcae.tiles.catalog import CatalogStore
from mcae.tiles.gdal import Sources
from mcae.tiles.identify import create_identify_router
from mcae.tiles.readers import ReaderPool
from mcae.tiles.routes_analysis import create_analysis_router
from mcae.tiles.routes_catalog import create_catalog_router
from mcae.tiles.routes_downloads import create_downloads_router
from mcae.tiles.routes_files import create_files_router
from mcae.tiles.routes_legend import create_legend_router
from mcae.tiles.routes_stac import create_stac_router
from mcae.tiles.routes_tiles import add_tile_routes


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the job registry and the annotation database with the app, stop them with it."""
    settings: Settings = app.state.settings
    start_annotation(app)  # refuses an unmigrated PostgreSQL, naming `mcae db upgrade`
    limits = settings.jobs
    jobs = JobRegistry(settings.jobs_dir, workers=limits.workers, pools={"rebuild": limits.rebuild_workers},
                       caps={"bundle": Caps(limits.bundles_per_client, limits.bundles_total)},
                       max_age_s=limits.max_age_s, max_total_bytes=limits.max_total_bytes,
                       prune_every_s=limits.prune_every_s)
    app.state.jobs = jobs
    try:
        yield
    finally:
        jobs.shutdown(wait=False)  # queued jobs are cancelled; a running one finishes in its thread
        app.state.jobs = None
        stop_annotation(app)
        app.state.readers.close()  # the app's open datasets and what was computed from them


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (the root tree; no import-time globals)."""
    settings = settings or get_settings()
    tiles = settings.tiles
    # the query guard applies to every API route added to the app, included routers and all
    app = SecuredApp(title="MCAE", version="0.1.0", lifespan=lifespan, dependencies=[QueryGuard],
                    docs_url=None, redoc_url=None,  # no CDN scripts: mcae.platform.docs serves /docs
                    description="Land-cover maps of whole cities: catalog, tiles, statistics, "
                                "comparisons, downloads, and the experts' annotation service.")
    app.state.settings = settings
    app.csp_origins = tuple(settings.basemap.origins())  # a configured basemap's, in the CSP (SecuredApp)
    app.state.tile_settings = tiles
    # what this app may read and how (GDAL options per thread, never the process's), its
    # catalog and its reader pool: another app in the same process has its own
    app.state.sources = sources = Sources.from_settings(tiles)
    app.state.gdal_options = dict(sources.options)
    app.state.store = CatalogStore(tiles.catalog_path, sources)
    app.state.readers = ReaderPool(tiles.dataset_cache_size, sources)
    add_exception_handlers(app)
    app.add_middleware(BodyLimit, cap=settings.max_body_bytes,  # 413 before a body is parsed
                       larger={r"/api/projects/[^/]+/decisions\.jsonl": settings.load.max_bytes})
    app.add_middleware(HeavyRouteLimit, concurrency=settings.heavy.concurrency,  # 429/503 when saturated
                       per_client=settings.heavy.per_client, retry_after_s=settings.heavy.retry_after_s)
    app.add_middleware(HeavyRouteLimit, concurrency=settings.downloads.concurrency,  # whole files, anonymous too
                       per_client=settings.downloads.per_client, retry_after_s=settings.heavy.retry_after_s,
                       pattern=FILES, what="whole-file download")
    app.include_router(create_catalog_router())
    app.include_router(create_legend_router())
    app.include_router(create_identify_router())
    add_tile_routes(app, tiles, app.state.readers)
    app.include_router(create_analysis_router())
    app.include_router(create_stac_router())
    app.include_router(create_downloads_router(scratch=settings.jobs_dir / "clips"))
    app.include_router(create_files_router())
    app.include_router(create_jobs_router(tiles.cache_control))
    app.include_router(create_viewer_router())
    add_annotation(app, settings)
    add_docs(app, settings.docs_assets)
    document_errors(app)  # every route's error answers in the OpenAPI document, derived in one place

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # the web viewer last, so that every API route above wins over a file of the same path
    if tiles.web_dist.is_dir():
        app.mount("/", StaticFiles(directory=tiles.web_dist, html=True), name="web")
    return app
