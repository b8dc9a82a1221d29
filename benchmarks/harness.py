"""What tests and benchmarks share to run servers (``import benchmarks.harness``): a free
loopback port, waiting until a server answers, and the two ways to run the app: in a thread of
this process (``app_server``) or as ``mcae serve`` in its own process group (``mcae_serve``)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAIN = "from mcae.platform.cli import main; main()"  # ``mcae`` without relying on the script on PATH


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None,
                  log: Path | None = None) -> None:
    """Return once ``url`` answers 2xx; ``RuntimeError`` when ``proc`` exits first or after
    ``timeout`` seconds (with the tail of ``log``)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before {url} answered{_tail(log)}")
        with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=2) as answer:
            if 200 <= answer.status < 300:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path | None) -> str:
    return f":\n{log.read_text(errors='replace')[-3000:]}" if log is not None and log.is_file() else ""


@contextlib.contextmanager
def app_server(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def mcae_serve(catalog: Path, *, workers: int = 1, cwd: Path | None = None, env: dict[str, str] | None = None,
               log: Path | None = None, code: str = MAIN,
               timeout: float = 60.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mcae serve`` on ``catalog`` on a free loopback port, in its own process group (``code``:
    the Python that runs the command line); yields (base URL, process) once ``/healthz``
    answers, and stops the whole group afterwards (SIGTERM, then SIGKILL)."""
    port = free_port()
    cmd = [sys.executable, "-c", code, "serve", "--catalog", str(catalog), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]  # the child holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz", timeout, proc, log)
        yield base, proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM to ``proc``'s process group, SIGKILL after ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
