"""The request body cap: applied once, by ``create_app``, to every route of the app.

A body over the cap is a 413 before the app parses it: at once when ``Content-Length`` says
so, or as soon as a streamed (chunked) body passes the cap while it is read. Routes whose
bodies are larger by nature (the decisions load, ``application/x-ndjson``) name their own,
larger cap by path pattern. (FastAPI's own ``max_body_size`` answers some of these cases in
plain text; this one always answers the app's JSON error.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcae.tiles.errors import NO_STORE, CapExceeded

SETTING = "max_body_bytes"


def body_too_large(count: int, cap: int, *, exact: bool) -> CapExceeded:
    """The 413 of a body of ``count`` bytes (or more, when the body was streamed)."""
    return CapExceeded(count, cap, what="request body", unit="bytes" if exact else "bytes or more",
                       setting=SETTING, advice="send a smaller body")


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``cap`` bytes (``larger``: path regex -> cap)."""

    def __init__(self, app: ASGIApp, cap: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.cap = cap
        self.larger = [(re.compile(pattern), size) for pattern, size in (larger or {}).items()]

    def cap_for(self, path: str) -> int:
        for pattern, size in self.larger:
            if pattern.fullmatch(path):
                return size
        return self.cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _refuse(send, body_too_large(declared, cap, exact=True))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:  # raised into the app while it reads it (FastAPI passes HTTPExceptions on)
                    raise HTTPException(413, str(body_too_large(seen, cap, exact=False)))
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, exc: CapExceeded) -> None:
    body = json.dumps({"detail": str(exc), **exc.details}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                          (b"connection", b"close")]
    headers += [(k.lower().encode(), v.encode()) for k, v in NO_STORE.items()]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
