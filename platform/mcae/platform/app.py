"""The platform's web application: catalog, tiles and analysis APIs in one FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mcae.tiles.catalog import CatalogStore
from mcae.tiles.errors import add_exception_handlers
from mcae.tiles.gdal import configure_gdal
from mcae.tiles.identify import create_identify_router
from mcae.tiles.readers import POOL
from mcae.tiles.routes_analysis import create_analysis_router
from mcae.tiles.routes_catalog import create_catalog_router
from mcae.tiles.routes_downloads import create_downloads_router
from mcae.tiles.routes_legend import create_legend_router
from mcae.tiles.routes_stac import create_stac_router
from mcae.tiles.routes_tiles import add_tile_routes
from mcae.tiles.settings import TileSettings


def create_app(settings: TileSettings | None = None) -> FastAPI:
    """Build the app for ``settings`` (no import-time globals)."""
    settings = settings or TileSettings()
    app = FastAPI(title="MCAE", version="0.1.0",
                  description="Land-cover maps of whole cities: catalog, tiles, statistics, "
                              "comparisons and downloads.")
    app.state.settings = settings
    app.state.store = CatalogStore(settings.catalog_path)
    app.state.gdal_options = configure_gdal(settings)  # before any dataset is opened
    POOL.resize(settings.dataset_cache_size)
    add_exception_handlers(app)
    app.include_router(create_catalog_router())
    app.include_router(create_legend_router())
    app.include_router(create_identify_router())
    add_tile_routes(app, settings)
    app.include_router(create_analysis_router())
    app.include_router(create_stac_router())
    app.include_router(create_downloads_router())

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # the web viewer last, so that every API route above wins over a file of the same path
    if settings.web_dist.is_dir():
        app.mount("/", StaticFiles(directory=settings.web_dist, html=True), name="web")
    return app
