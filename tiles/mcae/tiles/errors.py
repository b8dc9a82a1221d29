"""Exceptions tiles code raises for requests that cannot be served as asked.

They map to HTTP statuses in the platform's one exception table (``mcae.platform.errors``):
``TooLarge`` (and ``CapExceeded``) 413, ``NotComputedError`` 404. ``details`` is
merged into the JSON body of the error response.
"""

from __future__ import annotations

from typing import Any

from mcae.inference.errors import MCAEError

NO_STORE = {"Cache-Control": "no-store"}  # what errors and per-request answers carry


class TooLarge(MCAEError):
    """A request asks for more pixels or tiles than allowed."""

    details: dict[str, Any]


class CapExceeded(TooLarge):
    """The one cap-exceeded error (413): a request over ``max_image_pixels`` (statistics,
    clips), ``max_bundle_tiles`` (bundles), the vertex cap (polygons) or the body cap; the
    message and the body say both numbers (``count``, ``cap``)."""

    def __init__(self, count: int, cap: int, *, what: str = "area", unit: str = "pixels",
                 setting: str = "max_image_pixels", advice: str = "ask for a smaller area") -> None:
        super().__init__(f"the {what} would hold {count:,} {unit}; the cap is {cap:,} ({setting}): {advice}")
        self.details = {"count": count, "cap": cap}


class NotComputedError(MCAEError):
    """A result (for example a comparison report) that no command has produced yet."""
