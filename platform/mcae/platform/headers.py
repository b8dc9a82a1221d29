"""Security headers on every answer (pages, API, files, errors): applied once, by ``create_app``.

The content security policy allows the app's own scripts, styles, images and connections only:
no inline or evaluated script, no script or style from another origin, images also as
``data:``/``blob:`` URLs (MapLibre's canvases), workers also from ``blob:`` (MapLibre starts
its worker so), no framing. Inline *styles* are allowed (``style-src 'unsafe-inline'``):
MapLibre and the tools position elements with style attributes, which a strict ``style-src``
refuses (the browser tests run under this policy and fail on any violation). ``nosniff``,
``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer`` go with it (tokens live in this
origin's storage; nothing leaks in a Referer). ``/docs`` (off unless
``docs_assets`` names a local Swagger UI folder) is served under the same policy.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware: the ``HEADERS`` on every HTTP answer (a route's own values win)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in self.headers if k not in present]]
            await send(message)

        await self.app(scope, receive, with_headers)


class SecuredApp(FastAPI):
    """A FastAPI app whose whole stack sits inside ``SecurityHeaders``: Starlette's own outermost
    error middleware (the JSON 500 for an unexpected exception) answers with the headers too,
    which a middleware added with ``add_middleware`` (always inside it) cannot give."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())
