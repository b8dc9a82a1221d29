"""The anchor of the tile benchmark: a stock titiler.core app, one process per worker.

``TilerFactory()`` with its defaults (the file is named by ``?url=``, rendered by
titiler's own ``render_image``), plus titiler's exception handlers and a ``/healthz``
route used only to know when a worker is up. Each worker is one uvicorn process on its
own ``SO_REUSEPORT`` socket made by ``mcae serve``'s ``listening_socket`` (``IPPROTO_TCP``,
so ``TCP_NODELAY`` is set), with the same uvicorn settings as ``mcae serve``'s workers:
the same arrangement as ours, only the app differs.

    python -m benchmarks.tiles_stock --port 8123 [--parent PID]   # one worker; start N of them
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def create_stock_app() -> Any:
    from fastapi import FastAPI
    from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
    from titiler.core.factory import TilerFactory

    app = FastAPI(title="stock titiler.core")
    app.include_router(TilerFactory().router)
    add_exception_handlers(app, DEFAULT_STATUS_CODES)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()

    import uvicorn

    from mcae.platform.cli.serve import KEEP_ALIVE_S, listening_socket

    sock = listening_socket(args.host, args.port, reuse_port=True)
    config = uvicorn.Config(create_stock_app(), log_level=args.log_level, timeout_keep_alive=KEEP_ALIVE_S,
                            server_header=False)
    server = uvicorn.Server(config)
    if args.parent is not None:
        def watch() -> None:
            while os.getppid() == args.parent:
                time.sleep(1.0)
            server.should_exit = True

        threading.Thread(target=watch, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
