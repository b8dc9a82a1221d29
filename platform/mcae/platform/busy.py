"""A concurrency limit on the CPU-heavy anonymous routes: applied once, by ``create_app``.

Clips, statistics, bundle estimates, ``compare.png`` and the STAC documents cost real CPU and
need no token. At most ``heavy.per_client`` of them run at once per client address (one more
is a 429) and ``heavy.concurrency`` in all per server process (one more is a 503), both with
``Retry-After``: the request is refused at once, before any work, never queued. The same limits
stand in ``docker/nginx.conf`` as ``limit_conn``/``limit_req`` (tests/test_security_limits.py
checks the two agree).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mcae.tiles.errors import NO_STORE

# the CPU-heavy anonymous routes (the same list as nginx's `location` of them)
HEAVY = re.compile(r"^/api/cities/[^/]+/layers/[^/]+/(clip|statistics|bundles/estimate)$"
                   r"|^/api/cities/[^/]+/compare\.png$|^/api/stac(/.*)?$")
# whole-file downloads (maps, district maps, sidecars; ``downloads`` settings): bounded the same way
FILES = re.compile(r"^/api/cities/[^/]+/layers/[^/]+/files/[^/]+/[^/]+$")


class HeavyRouteLimit:
    """ASGI middleware: 429 past ``per_client`` heavy requests of one address, 503 past
    ``concurrency`` in all; both with ``Retry-After: retry_after_s``."""

    def __init__(self, app: ASGIApp, concurrency: int, per_client: int, retry_after_s: int = 1,
                 pattern: re.Pattern[str] = HEAVY, what: str = "") -> None:
        self.app = app
        self.concurrency, self.per_client, self.retry_after_s = concurrency, per_client, retry_after_s
        self.pattern, self.what = pattern, what  # what: the routes, in the refusals (default: the heavy ones)
        self.running = 0  # the event loop's own counters: no lock (one thread changes them)
        self.by_client: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.pattern.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if self.by_client[client] >= self.per_client:
            what, setting = (f"{self.what} requests", "downloads") if self.what else (
                "clip, statistics, estimate, comparison or STAC requests", "heavy")
            await self._refuse(send, 429, f"at most {self.per_client} {what} at a time per client "
                                          f"({setting}.per_client)")
            return
        if self.running >= self.concurrency:
            what, setting = (f"{self.what} requests", "downloads") if self.what else (
                "clip, statistics, estimate, comparison or STAC requests", "heavy")
            await self._refuse(send, 503, f"the server is busy with {what} ({setting}.concurrency); "
                                          "try again shortly")
            return
        self.running += 1
        self.by_client[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1
            self.by_client[client] -= 1
            if self.by_client[client] <= 0:
                del self.by_client[client]

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                              (b"retry-after", str(self.retry_after_s).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in NO_STORE.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
