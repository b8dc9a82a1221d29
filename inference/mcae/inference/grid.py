"""The patch grid: 1024 px patches named ``row-col`` and neighbourhoods of patches."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mcae.inference.errors import NotFoundError
from mcae.inference.masks.base import PixelWindow


@dataclass(frozen=True)
class Patch:
    """One patch: its read window (may reach past the scene) and its core.

    Cores tile the scene exactly: every scene pixel belongs to one patch's core,
    which is where that patch's masks are used in the map.
    """

    row: int
    col: int
    window: PixelWindow
    core: PixelWindow
    neighbourhood: str

    @property
    def id(self) -> str:
        return f"{self.row}-{self.col}"


@dataclass(frozen=True)
class PatchGrid:
    """Patches of ``patch_size`` px with ``overlap`` px shared between neighbours.

    Neighbourhoods are blocks of ``neighbourhood`` x ``neighbourhood`` adjacent
    patches, named by their centre patch.
    """

    height: int
    width: int
    patch_size: int = 1024
    overlap: int = 0
    neighbourhood: int = 3

    def __post_init__(self) -> None:
        if self.patch_size < 16:
            raise ValueError("patch size must be at least 16 px")
        if not 0 <= self.overlap < self.patch_size // 2:
            raise ValueError("overlap must be between 0 and half the patch size")
        if self.neighbourhood < 1:
            raise ValueError("a neighbourhood holds at least one patch")

    @property
    def stride(self) -> int:
        return self.patch_size - self.overlap

    @property
    def n_rows(self) -> int:
        return max(1, math.ceil((self.height - self.overlap) / self.stride))

    @property
    def n_cols(self) -> int:
        return max(1, math.ceil((self.width - self.overlap) / self.stride))

    def __len__(self) -> int:
        return self.n_rows * self.n_cols

    def patches(self) -> list[Patch]:
        return [self.patch(r, c) for r in range(self.n_rows) for c in range(self.n_cols)]

    def patch(self, row: int, col: int) -> Patch:
        if not (0 <= row < self.n_rows and 0 <= col < self.n_cols):
            raise NotFoundError(f"patch {row}-{col} is outside the {self.n_rows} x {self.n_cols} grid")
        window = PixelWindow(row * self.stride, col * self.stride, self.patch_size,
                             self.patch_size)
        r0, r1 = self._core_span(row, self.n_rows, self.height)
        c0, c1 = self._core_span(col, self.n_cols, self.width)
        core = PixelWindow(r0, c0, r1 - r0, c1 - c0)
        return Patch(row, col, window, core, self.neighbourhood_of(row, col))

    def patch_by_id(self, patch_id: str) -> Patch:
        try:
            row, col = (int(v) for v in patch_id.split("-"))
        except ValueError:
            raise NotFoundError(f"{patch_id!r} is not a patch id (row-col)") from None
        return self.patch(row, col)

    def _core_span(self, index: int, count: int, size: int) -> tuple[int, int]:
        half = self.overlap // 2
        start = 0 if index == 0 else index * self.stride + half
        end = size if index == count - 1 else (index + 1) * self.stride + half
        return start, min(end, size)

    def neighbourhood_of(self, row: int, col: int) -> str:
        """Name of the neighbourhood holding patch ``row-col``: its centre patch."""
        k = self.neighbourhood
        rows = range((row // k) * k, min((row // k + 1) * k, self.n_rows))
        cols = range((col // k) * k, min((col // k + 1) * k, self.n_cols))
        return f"{(rows[0] + rows[-1]) // 2}-{(cols[0] + cols[-1]) // 2}"

    def neighbourhoods(self) -> dict[str, list[str]]:
        """Neighbourhood name -> ids of its patches, in grid order."""
        out: dict[str, list[str]] = {}
        for p in self.patches():
            out.setdefault(p.neighbourhood, []).append(p.id)
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
