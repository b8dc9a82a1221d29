"""``mcae serve``: the platform's web app (catalog, tiles, legends, identify ...) over HTTP.

Serving arrangement: one uvicorn process per worker, each with its own listening socket
bound to the same address with ``SO_REUSEPORT``; the Linux kernel spreads new connections
over the sockets. There is no shared pre-bound socket, no uvicorn multiprocess supervisor
and no gunicorn: those hand uvicorn a socket created with ``proto=0``, so asyncio never
sets ``TCP_NODELAY`` on accepted connections and every keep-alive request after the first
waits ~40 ms for the client's delayed ACK (uvicorn issue #3149, ``uvicorn --workers N``
and the gunicorn worker alike). Our sockets are created with ``IPPROTO_TCP``, so asyncio
does set ``TCP_NODELAY``. Measured on 2 cores, one httpx keep-alive client, sequential
requests (mean): ``/healthz`` 0.75 ms with ``--workers 1``, 0.87 ms with ``--workers 2``,
44.8 ms with ``uvicorn --workers 2``; a cached tile 1.3 ms (``--workers 2``) against 44.8 ms;
a rendered 512 px class tile 11 ms against 55 ms.

With ``--workers 1`` (the default) uvicorn runs in this process. With more, this process
only supervises: it restarts a worker that dies and stops them all on Ctrl-C / SIGTERM.
Each worker builds its own app, so caches (open datasets, rendered tiles) are per process.
``--workers`` > 1 needs ``SO_REUSEPORT`` with load balancing (Linux).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mcae.inference.errors import InputError
from mcae.platform.cli._common import console, friendly_errors

app = typer.Typer(help="The web app over HTTP.")

KEEP_ALIVE_S = 30


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A bound, listening TCP socket whose accepted connections get ``TCP_NODELAY``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY when sock.proto is TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return sock


def run_worker(host: str, port: int, reuse_port: bool, log_level: str, parent: int | None = None) -> None:
    """One uvicorn server on its own socket (a worker process, or the only process).

    A worker of a supervisor (``parent``) shuts down when the supervisor is gone.
    """
    import uvicorn

    from mcae.platform.app import create_app
    from mcae.platform.settings import get_settings

    settings = get_settings()
    # GDAL's block cache is the process's, not an app's: this process serves one app
    os.environ.setdefault("GDAL_CACHEMAX", str(settings.tiles.gdal_cachemax_mb))
    sock = listening_socket(host, port, reuse_port=reuse_port)
    config = uvicorn.Config(create_app(settings), log_level=log_level,
                            timeout_keep_alive=KEEP_ALIVE_S, server_header=False)
    # The collector's full passes walk every object the process holds: the imported modules,
    # schemas and routes (about 300,000) took 90-300 ms a pass on 2 loaded cores, the p95 of a
    # route that builds thousands of rows (a patch: 275 -> 67 ms at 4 M masks). They live as long
    # as the process: out of those passes for good (this process serves one app).
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(config)
    if parent is not None:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            server.should_exit = True

        threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    server.run(sockets=[sock])


def _free_port(host: str, port: int) -> int:
    """``port`` if nothing listens there (``0``: a free one), so workers never share by accident."""
    probe = listening_socket(host, port, reuse_port=False)
    found: int = probe.getsockname()[1]
    probe.close()
    return found


def supervise(host: str, port: int, workers: int, log_level: str) -> None:
    """Run ``workers`` worker processes until interrupted, restarting any that dies."""
    ctx = multiprocessing.get_context("spawn")
    # glibc's malloc keeps one arena per thread of the pool, holding freed memory: two arenas
    # halve a save-heavy worker's growth (benchmarks/README.md, load); read at process start
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    args = (host, port, True, log_level, os.getpid())
    procs = [ctx.Process(target=run_worker, args=args, daemon=False) for _ in range(workers)]
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    for proc in procs:
        proc.start()
    console.print(f"workers: {', '.join(str(p.pid) for p in procs)}")
    restarts: list[float] = []
    try:
        while not stopping:
            time.sleep(0.5)
            for i, proc in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                restarts = [t for t in restarts if t > time.monotonic() - 60] + [time.monotonic()]
                if len(restarts) > 5 * workers:
                    console.print("[red]workers keep dying; stopping[/]")
                    stopping = True
                    break
                console.print(f"worker {proc.pid} exited ({proc.exitcode}); restarting")
                procs[i] = ctx.Process(target=run_worker, args=args, daemon=False)
                procs[i].start()
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def warn_slow_layers() -> None:
    """Say which layers' serving copies are stale: their tiles will be read from their own files."""
    from mcae.platform.cli._common import open_store

    store = open_store(None)
    slow = [f"{city.id}/{layer.id}" for city in store.load().cities.values() for layer in city.layers.values()
            if layer.serving_path and store.layer_path(layer).is_file() and store.serving_copy(layer) is None]
    if slow:
        console.print(f"[yellow]{len(slow)} layer(s) with a stale serving copy[/] ({', '.join(slow[:5])}"
                      f"{' ...' if len(slow) > 5 else ''}): their tiles are read from their own files, several "
                      "times slower; `mcae catalog optimize` writes the copies")


def check_database() -> None:
    """Before any worker starts: SQLite is migrated here; an unmigrated PostgreSQL is refused with the
    command that fixes it (one line, exit 3) instead of a traceback per worker."""
    from mcae.platform.annotation.db import open_database, redacted
    from mcae.platform.settings import get_settings

    db = open_database(get_settings())
    try:
        console.print(f"annotation database: {redacted(db.url)}", highlight=False)
    finally:
        db.dispose()


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes (SO_REUSEPORT).")] = 1,
    catalog: Annotated[Path | None, typer.Option(
        help="Catalog file [MCAE_TILES__CATALOG_PATH or demo-output/catalog.json].")] = None,
    log_level: Annotated[str, typer.Option(help="critical, error, warning, info or debug.")] = "info",
) -> None:
    """Serve the catalog, tiles (XYZ, TileJSON, WMTS, OGC tiles), legends and identify."""
    if catalog is not None:
        if not catalog.is_file():
            raise InputError(f"{catalog}: no such catalog")
        os.environ["MCAE_TILES__CATALOG_PATH"] = str(catalog.resolve())  # workers read it too
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise InputError("--workers > 1 needs SO_REUSEPORT (Linux); run one process per port instead")
    port = _free_port(host, port)
    warn_slow_layers()
    check_database()
    from mcae.platform.settings import get_settings

    docs = ("docs at /docs" if get_settings().docs_assets is not None
            else "the API's OpenAPI document at /openapi.json (/docs is off: MCAE_DOCS_ASSETS)")
    console.print(f"serving on http://{host}:{port} with {workers} worker(s); {docs}")
    if workers == 1:
        run_worker(host, port, False, log_level)
    else:
        supervise(host, port, workers, log_level)
