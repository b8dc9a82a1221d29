"""Ids in URLs: the one id rule (cities, layers, districts, projects; the web gets it through
the OpenAPI document) and the error for an id that is not there (404)."""

from __future__ import annotations

from mcae.inference.errors import NotFoundError

ID = r"[a-z0-9][a-z0-9_-]{0,63}"
ID_PATTERN = f"^{ID}$"


class UnknownId(NotFoundError):
    """A city, layer or district id (or another id the API is given) that is not there."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"unknown {kind} {ident!r}")
        self.kind = kind
        self.ident = ident
