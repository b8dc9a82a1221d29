"""Exceptions tiles code raises for requests that cannot be served as asked.

They map to HTTP statuses in the platform's one exception table (``mcae.platform.errors``):
``TooLarge`` (and ``PixelCapExceeded``) 413, ``NotComputedError`` 404. ``details`` is
merged into the JSON body of the error response.
"""

from __future__ import annotations

from typing import Any

from mcae.inference.errors import MCAEError

NO_STORE = {"Cache-Control": "no-store"}  # what errors and per-request answers carry


class TooLarge(MCAEError):
    """A request asks for more pixels or tiles than allowed."""

    details: dict[str, Any]


class PixelCapExceeded(TooLarge):
    """An analysis area covers more pixels than ``max_image_pixels``; says both numbers."""

    def __init__(self, pixels: int, cap: int) -> None:
        super().__init__(f"the area covers {pixels:,} pixels of the layer at full resolution; "
                         f"the cap is {cap:,} (max_image_pixels): ask for a smaller area")
        self.details = {"count": pixels, "cap": cap}


class NotComputedError(MCAEError):
    """A result (for example a comparison report) that no command has produced yet."""
