"""Debian's nginx in front of a server, with ``docker/nginx.conf`` itself (for the caching tests).

The file is the one compose mounts into the nginx image; only its three placeholders
(``${MCAE_UPSTREAM}``, ``${MCAE_LISTEN}``, ``${MCAE_NGINX_CACHE}``) are substituted here, as the
image's envsubst step does. A small main file around it sets what the image's own
``nginx.conf`` sets (pid, logs, temp folders, events, mime types), all in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

# benchmarks/ is a package at the repository root, on sys.path under pytest (pyproject.toml)
from benchmarks import nginx_config
from benchmarks.harness import free_port, mcae_serve
from benchmarks.nginx_config import render  # noqa: F401  (test_rel_nginx_cache uses it from here)

REPO = Path(__file__).resolve().parents[2]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"




def write_config(work: Path, upstream: str, port: int) -> Path:
    """The main file and the rendered ``docker/nginx.conf`` under ``work``; the main file's path."""
    return nginx_config.write_config(work, upstream, f"127.0.0.1:{port}", access_log=True)


def check_config(main: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on the files written by ``write_config``."""
    return subprocess.run([NGINX, "-t", "-p", str(main.parent), "-c", str(main)], capture_output=True, text=True,
                          timeout=30)


@contextmanager
def nginx_in_front(upstream: str, work: Path) -> Iterator[str]:
    """nginx (``daemon off``) proxying to ``upstream`` (host:port): yields its base URL."""
    port = free_port()
    main = write_config(work, upstream, port)
    checked = check_config(main)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {checked.stderr}")
    log = (work / "nginx.out").open("wb")
    proc = subprocess.Popen([NGINX, "-p", str(work), "-c", str(main)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(work / 'nginx.out').read_text()[-2000:]}")
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


# ``mcae serve`` as the platform image runs it: torch, torchvision and segment-anything cannot be
# imported (the image does not have them), so a server that needs them at any point fails here
NO_TORCH_SERVE = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"torch", "torchvision", "segment_anything"}:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the platform image)")
        return None
sys.meta_path.insert(0, NoTorch())
from mcae.platform.cli import main
main()
"""


@contextmanager
def serve_without_torch(catalog: Path, log: Path) -> Iterator[str]:
    """``mcae serve --workers 1`` on ``catalog`` in its own process, torch unimportable: its base URL."""
    with mcae_serve(catalog, cwd=catalog.parent, log=log, code=NO_TORCH_SERVE) as (base, _):
        yield base
