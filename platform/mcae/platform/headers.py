"""Security headers on every answer (pages, API, files, errors): applied once, by ``create_app``.

The content security policy allows the app's own scripts, styles, images and connections only:
no inline or evaluated script, no script or style from another origin, images also as
``data:``/``blob:`` URLs (MapLibre's canvases), workers also from ``blob:`` (MapLibre starts
its worker so), no framing. Inline *styles* are allowed (``style-src 'unsafe-inline'``):
MapLibre and the tools position elements with style attributes, which a strict ``style-src``
refuses (the browser tests run under this policy and fail on any violation). ``nosniff``,
``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer`` go with it (tokens live in this
origin's storage; nothing leaks in a Referer). ``/docs`` (off unless
``docs_assets`` names a local Swagger UI folder) is served under the same policy. A configured
basemap (``Settings.basemap``, off by default) adds its origins to ``img-src`` and ``connect-src``
(``csp(origins)``), and nothing else.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def csp(origins: list[str] | tuple[str, ...] = ()) -> str:
    """The policy; ``origins`` (a basemap's) may also be fetched from and shown as images."""
    more = "".join(f" {o}" for o in origins)
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{more}; font-src 'self' data:; connect-src 'self'{more}; "
            "worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


CSP = csp()
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware: the ``HEADERS`` on every HTTP answer (a route's own values win)."""

    def __init__(self, app: ASGIApp, origins: list[str] | tuple[str, ...] = ()) -> None:
        self.app = app
        headers = {**HEADERS, "Content-Security-Policy": csp(origins)}
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

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
    which a middleware added with ``add_middleware`` (always inside it) cannot give.
    ``csp_origins``: other origins the page may fetch from and show (a configured basemap's)."""

    csp_origins: tuple[str, ...] = ()

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), origins=self.csp_origins)
