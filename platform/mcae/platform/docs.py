"""``/docs``: Swagger UI from a local folder, never from a CDN; off unless ``docs_assets`` is set.

``docs_assets`` (``MCAE_DOCS_ASSETS``) names a folder holding ``swagger-ui-bundle.js`` and
``swagger-ui.css`` (the ``swagger-ui-dist`` npm package's files, or those of the
``swagger-ui-bundle`` Python package). The page has no inline script (the app's CSP forbids
one): its start-up code is a file of its own. ``/openapi.json`` is always served.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

logger = logging.getLogger(__name__)
FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCAE API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script></body></html>
"""
START = ("window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, "
         "presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout'});\n")


def add_docs(app: FastAPI, assets: Path | None) -> bool:
    """Serve ``/docs`` from ``assets`` when it holds Swagger UI's files; whether it does."""
    if assets is None:
        return False
    missing = [name for name in FILES if not (assets / name).is_file()]
    if missing:
        logger.warning("docs_assets lacks %s: /docs is off", ", ".join(missing))
        return False
    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/docs/start.js", include_in_schema=False)
    def start() -> Response:
        return Response(START, media_type="text/javascript")

    return True
