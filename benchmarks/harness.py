"""What tests and benchmarks share to run servers: a free loopback port, and waiting until a
server answers (``import benchmarks.harness``)."""

from __future__ import annotations

import socket
import time
import urllib.request


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30.0, alive: object = None) -> None:
    """Return once ``url`` answers (any HTTP status); ``TimeoutError`` after ``timeout`` s.
    ``alive``: a ``subprocess.Popen`` whose exit ends the wait early (``RuntimeError``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:  # type: ignore[attr-defined]
            raise RuntimeError(f"the server exited ({alive.returncode}) before {url} answered")  # type: ignore[attr-defined]
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
