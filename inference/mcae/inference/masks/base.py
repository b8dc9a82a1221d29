"""The mask generator interface: one patch in, a non-overlapping mask-id raster out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

# Columns every generator's records carry (one row per mask id, ascending).
RECORD_COLUMNS = (
    "mask_id",  # 1..N, matches the raster
    "area",  # pixels inside the patch
    "row0",  # bounding box in patch pixels, end exclusive
    "col0",
    "row1",
    "col1",
    "score",  # generator confidence in [0, 1] (SAM: predicted IoU; superpixel: 1.0)
    "stability",  # SAM stability score; superpixel: 1.0
    "source",  # which pass made it: "fine", "coarse", "fill" or "superpixel"
)


@dataclass(frozen=True)
class PixelWindow:
    """A window on the scene's working grid (target GSD), in pixels."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def row_end(self) -> int:
        return self.row_off + self.height

    @property
    def col_end(self) -> int:
        return self.col_off + self.width


class SceneReader(Protocol):
    """Reads any window of a scene, at the working GSD or a finer one.

    ``scale`` 2.0 reads the same ground area at half the GSD (twice the pixels).
    Reads are boundless: outside the scene the image is 0 and ``valid`` False.
    """

    @property
    def height(self) -> int: ...

    @property
    def width(self) -> int: ...

    @property
    def band_names(self) -> tuple[str, ...]: ...

    def read(self, window: PixelWindow, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(image, valid)``: uint8 ``(bands, h, w)`` and bool ``(h, w)``."""
        ...


@dataclass
class MaskResult:
    """Masks of one patch.

    ``labels`` is int32 ``(h, w)``: 0 where the scene has no valid data, else the id
    (1..N) of the one mask that owns the pixel. ``records`` has one row per id with
    :data:`RECORD_COLUMNS`. ``embedding`` is optional ``(N, D)`` float32, row i for
    mask i + 1 (SAM's image embedding pooled over the mask).
    """

    labels: np.ndarray
    records: pd.DataFrame
    embedding: np.ndarray | None = None

    @property
    def n_masks(self) -> int:
        return len(self.records)


class MaskGenerator(ABC):
    """Cuts one patch of a scene into non-overlapping masks.

    Implementations must be deterministic: the same scene and window give the same
    result in any process, in any order.
    """

    name: str = "base"

    @abstractmethod
    def generate(self, scene: SceneReader, window: PixelWindow) -> MaskResult:
        """Masks for ``window`` of ``scene``."""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Every setting that influences the result (logged in the project)."""


class ArrayScene:
    """A :class:`SceneReader` over an in-memory array (tests, small images)."""

    def __init__(self, image: np.ndarray, valid: np.ndarray | None = None,
                 band_names: tuple[str, ...] | None = None) -> None:
        if image.ndim != 3:
            raise ValueError("image must be (bands, height, width)")
        self.image = image.astype(np.uint8, copy=False)
        self.valid = np.ones(image.shape[1:], bool) if valid is None else valid.astype(bool)
        self._band_names = band_names or ("red", "green", "blue", "nir")[: image.shape[0]]

    @property
    def height(self) -> int:
        return int(self.image.shape[1])

    @property
    def width(self) -> int:
        return int(self.image.shape[2])

    @property
    def band_names(self) -> tuple[str, ...]:
        return self._band_names

    def read(self, window: PixelWindow, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        bands = self.image.shape[0]
        image = np.zeros((bands, window.height, window.width), np.uint8)
        valid = np.zeros((window.height, window.width), bool)
        r0, c0 = max(window.row_off, 0), max(window.col_off, 0)
        r1, c1 = min(window.row_end, self.height), min(window.col_end, self.width)
        if r1 > r0 and c1 > c0:
            dst = (slice(r0 - window.row_off, r1 - window.row_off),
                   slice(c0 - window.col_off, c1 - window.col_off))
            image[(slice(None), *dst)] = self.image[:, r0:r1, c0:c1]
            valid[dst] = self.valid[r0:r1, c0:c1]
        if scale != 1.0:
            image, valid = upsample(image, valid, scale)
        return image, valid


def upsample(image: np.ndarray, valid: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample a read to ``scale`` times the pixels (bilinear image, nearest validity)."""
    from skimage.transform import resize

    h, w = valid.shape
    shape = (round(h * scale), round(w * scale))
    out = np.stack([
        resize(band, shape, order=1, preserve_range=True, anti_aliasing=scale < 1)
        for band in image
    ]).round().astype(np.uint8)
    return out, resize(valid, shape, order=0, preserve_range=True).astype(bool)


def records_from_labels(labels: np.ndarray, scores: np.ndarray | None = None,
                        stabilities: np.ndarray | None = None,
                        sources: list[str] | str = "superpixel") -> pd.DataFrame:
    """Build the records table of a label raster whose ids are exactly 1..N."""
    from scipy import ndimage

    n = int(labels.max()) if labels.size else 0
    ids = np.arange(1, n + 1)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    boxes = ndimage.find_objects(labels, max_label=n)
    if any(b is None for b in boxes):
        raise ValueError("mask ids must be contiguous 1..N")
    bbox = np.array([[b[0].start, b[1].start, b[0].stop, b[1].stop] for b in boxes],
                    dtype=np.int32).reshape(-1, 4)
    return pd.DataFrame({
        "mask_id": ids.astype(np.int32),
        "area": area.astype(np.int64),
        "row0": bbox[:, 0], "col0": bbox[:, 1], "row1": bbox[:, 2], "col1": bbox[:, 3],
        "score": np.ones(n, np.float32) if scores is None else scores.astype(np.float32),
        "stability": (np.ones(n, np.float32) if stabilities is None
                      else stabilities.astype(np.float32)),
        "source": sources if isinstance(sources, str) else list(sources),
    })
