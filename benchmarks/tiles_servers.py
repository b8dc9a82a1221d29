"""Servers of the tile benchmark, on 127.0.0.1 only, started and stopped by the benchmark.

* ours: ``mcae serve --workers N`` (one uvicorn process per worker, ``SO_REUSEPORT``);
* stock: N processes of ``python -m benchmarks.tiles_stock`` (the same arrangement);
* static: nginx with a configuration of our own in a temporary folder (``daemon off``,
  ``worker_processes N``, ``reuseport``), or N ``python -m http.server`` on
  ``SO_REUSEPORT``-free ports behind nothing if nginx is missing (one process, then).

A server counts as up when N sockets listen on its port (``/proc/net/tcp``) and it
answers; each is started in its own session and stopped by its process id (SIGTERM,
then SIGKILL of its own process group after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._common import REPO
from benchmarks.harness import free_port

HOST = "127.0.0.1"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@dataclass
class Server:
    """A running server: its base URL, its processes (each with its own children) and a name."""

    url: str
    procs: list[subprocess.Popen] = field(default_factory=list)
    name: str = ""

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds used so far by the server's processes and their children."""
        try:
            import psutil
        except ImportError:
            return None
        total = 0.0
        for proc in self.procs:
            try:
                top = psutil.Process(proc.pid)
                for p in [top, *top.children(recursive=True)]:
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        return total




def listeners(port: int) -> int:
    """How many sockets listen on 127.0.0.1:port (each SO_REUSEPORT worker has its own)."""
    wanted = f"0100007F:{port:04X}"
    count = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":
                count += 1
    return count


def _wait_up(proc: subprocess.Popen, port: int, sockets: int, probe: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        if listeners(port) >= sockets:
            try:
                if httpx.get(f"http://{HOST}:{port}{probe}", timeout=5).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not up after {timeout:.0f} s: {log.read_text()[-2000:]}")


def _stop(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
            proc.wait(5)


def _popen(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


@contextlib.contextmanager
def ours(catalog: Path, workers: int, work: Path, env: dict[str, str]) -> Iterator[Server]:
    """``mcae serve --workers N``."""
    port = free_port()
    log = work / "ours.log"
    mcae = Path(sys.executable).with_name("mcae")
    cmd = [str(mcae) if mcae.exists() else sys.executable, *([] if mcae.exists() else ["-m", "mcae.platform.cli"]),
           "serve", "--catalog", str(catalog), "--host", HOST, "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]
    proc = _popen(cmd, env, log)
    try:
        _wait_up(proc, port, workers, "/healthz", 120, log)
        yield Server(f"http://{HOST}:{port}", [proc], "mcae serve")
    finally:
        _stop([proc])


@contextlib.contextmanager
def stock(workers: int, work: Path, env: dict[str, str]) -> Iterator[Server]:
    """N stock titiler.core processes on one SO_REUSEPORT port."""
    port = free_port()
    log = work / "stock.log"
    cmd = [sys.executable, "-m", "benchmarks.tiles_stock", "--host", HOST, "--port", str(port),
           "--parent", str(os.getpid())]
    procs = [_popen(cmd, env, log) for _ in range(workers)]
    try:
        for proc in procs:
            _wait_up(proc, port, workers, "/healthz", 120, log)
        yield Server(f"http://{HOST}:{port}", procs, "stock titiler.core")
    finally:
        _stop(procs)


NGINX_CONF = """
daemon off;
master_process on;
worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ image/png png; image/webp webp; }}
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 60;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    server {{
        listen {host}:{port} reuseport;
        root {root};
        etag on;
        add_header Cache-Control "public, max-age=86400";
    }}
}}
"""


@contextlib.contextmanager
def static(root: Path, workers: int, work: Path, probe: str) -> Iterator[Server]:
    """nginx serving ``root`` (or ``python -m http.server``)."""
    port = free_port()
    if NGINX:
        folder = Path(tempfile.mkdtemp(prefix="nginx-", dir=work))
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, work=folder, host=HOST, port=port, root=root))
        log = folder / "nginx.out"
        user = ["-g", "user root;"] if os.geteuid() == 0 else []  # the tiles are readable by us
        proc = _popen([NGINX, "-p", str(folder), "-c", str(conf), *user], dict(os.environ), log)
        procs, sockets, name = [proc], workers, f"nginx ({workers} workers)"
    else:
        log = work / "http-server.log"
        proc = _popen([sys.executable, "-m", "http.server", "--bind", HOST, str(port), "-d", str(root)],
                      dict(os.environ), log)
        procs, sockets, name = [proc], 1, "python -m http.server (1 process; nginx not installed)"
    try:
        _wait_up(proc, port, sockets, probe, 30, log)
        yield Server(f"http://{HOST}:{port}", procs, name)
    finally:
        _stop(procs)
