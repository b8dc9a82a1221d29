"""Per-patch imagery and mask rasters of one project, read once and kept in a small LRU.

The annotation pages show dozens of thumbnails of masks that sit in a few patches;
:class:`PatchImages` reads each patch (imagery on the working grid and its mask-id
raster) once and keeps the last ``max_patches`` in memory (about 8 MB per 1024 px
patch). It is thread-safe: FastAPI runs sync routes in a thread pool, and two
requests for the same cold patch share one read. Keep one instance per project.

The imagery is read when first needed, not with the raster: the classification and
"mask at" need only the raster, and the first thumbnails of a cold patch (``SQUARES``)
read only their own squares of the scene (a few kB instead of the 1024 px window, about
half of a cold patch's time: a group's masks are spread over many patches, a few on each);
the next one reads the patch's whole imagery, which the rest share.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from mcae.inference.grid import Patch
from mcae.inference.masks.base import PixelWindow
from mcae.inference.project import Project
from mcae.inference.segment import read_mask_raster

SQUARES = 4  # thumbnails of a patch read as their own squares before its whole imagery is read


class UnknownPatch(LookupError):
    """No such patch in the project's grid, or the patch is not segmented yet (404)."""


class UnknownMask(LookupError):
    """No mask with this id in the patch (404)."""


@dataclass
class PatchData:
    """One patch in memory: mask ids and the box of every mask; its imagery when first needed."""

    patch: Patch
    raster: np.ndarray  # int32 (h, w) mask ids, 0 = no mask
    boxes: list[tuple[slice, slice] | None]  # boxes[i]: rows, cols of mask i + 1
    version: str  # changes when the patch's mask raster is rewritten
    read_imagery: Callable[[PixelWindow], tuple[np.ndarray, np.ndarray]]  # (bands, h, w) uint8, validity
    _rgb: np.ndarray | None = field(default=None, repr=False)
    _image: Image.Image | None = field(default=None, repr=False)
    _crops: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.raster.shape[0]), int(self.raster.shape[1])

    @property
    def rgb(self) -> np.ndarray:
        """uint8 (h, w, 3) imagery, invalid pixels black (read on first use)."""
        with self._lock:
            if self._rgb is None:
                self._rgb = self._read(0, 0, *self.shape)
                self._image = Image.fromarray(self._rgb)
            return self._rgb

    @property
    def image(self) -> Image.Image:
        """The same imagery as a Pillow RGB image (crops pad with black)."""
        self.rgb  # noqa: B018 - read on first use
        assert self._image is not None
        return self._image

    def crop(self, left: int, top: int, side: int) -> Image.Image:
        """The imagery of a ``side`` px square at patch pixel (``left``, ``top``), black past the
        patch: from the whole imagery once read, else (the patch's first ``SQUARES`` crops) a
        read of the square alone."""
        with self._lock:
            own = self._rgb is None and self._crops < SQUARES
            self._crops += 1
        if not own:
            return self.image.crop((left, top, left + side, top + side))
        height, width = self.shape
        out = np.zeros((side, side, 3), np.uint8)
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + side, height), min(left + side, width)
        if r1 > r0 and c1 > c0:
            out[r0 - top:r1 - top, c0 - left:c1 - left] = self._read(r0, c0, r1 - r0, c1 - c0)
        return Image.fromarray(out)

    def _read(self, row: int, col: int, height: int, width: int) -> np.ndarray:
        window = self.patch.window
        image, valid = self.read_imagery(PixelWindow(row_off=window.row_off + row, col_off=window.col_off + col,
                                                     height=height, width=width))
        rgb = np.ascontiguousarray(np.moveaxis(image[:3], 0, -1))
        rgb[~valid] = 0
        if rgb.shape[:2] != (height, width):
            raise UnknownPatch(f"patch {self.patch.id}: its imagery {rgb.shape[:2]} does not match "
                               f"the window {(height, width)}")
        return rgb

    def bbox(self, mask_id: int) -> tuple[int, int, int, int]:
        """``(row0, col0, row1, col1)`` of a mask in patch pixels, end exclusive."""
        box = self.boxes[mask_id - 1] if 1 <= mask_id <= len(self.boxes) else None
        if box is None:
            raise UnknownMask(f"patch {self.patch.id} has no mask {mask_id}")
        return box[0].start, box[1].start, box[0].stop, box[1].stop


class PatchImages:
    """Imagery and mask rasters of the patches of one project, with a bounded LRU."""

    def __init__(self, root: str | Path, max_patches: int = 8) -> None:
        if max_patches < 1:
            raise ValueError("the cache holds at least one patch")
        self.project = Project.open(root)
        self.grid = self.project.grid
        self.max_patches = max_patches
        self._cache: OrderedDict[str, PatchData] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.reads = 0  # patches read from disk so far (for tests and metrics)

    def patch(self, patch_id: str) -> Patch:
        """The grid patch ``patch_id`` (:class:`UnknownPatch` if outside the grid)."""
        try:
            return self.grid.patch_by_id(patch_id)
        except LookupError as exc:
            raise UnknownPatch(str(exc)) from None

    def version(self, patch_id: str) -> str:
        """A token that changes when the patch's mask raster is rewritten (for ETags)."""
        self.patch(patch_id)
        try:
            st = self.project.patch_raster(patch_id).stat()
        except FileNotFoundError:
            raise UnknownPatch(f"patch {patch_id} is not segmented yet") from None
        return f"{st.st_mtime_ns:x}-{st.st_size:x}"

    def get(self, patch_id: str) -> PatchData:
        """The patch in memory, read on first use (or after its raster changed)."""
        version = self.version(patch_id)
        with self._lock:
            data = self._cached(patch_id, version)
            if data is not None:
                return data
            loading = self._loading.setdefault(patch_id, threading.Lock())
        with loading:  # one read per patch, even for concurrent requests
            with self._lock:
                data = self._cached(patch_id, version)
            if data is None:
                data = self._load(patch_id, version)
                with self._lock:
                    self._cache[patch_id] = data
                    self._cache.move_to_end(patch_id)
                    while len(self._cache) > self.max_patches:
                        self._cache.popitem(last=False)
                    self.reads += 1
        with self._lock:
            self._loading.pop(patch_id, None)
        return data

    def clear(self) -> None:
        """Forget every cached patch."""
        with self._lock:
            self._cache.clear()

    def cached(self) -> list[str]:
        """Ids of the patches in memory, least recently used first."""
        with self._lock:
            return list(self._cache)

    def _cached(self, patch_id: str, version: str) -> PatchData | None:
        data = self._cache.get(patch_id)
        if data is None or data.version != version:
            return None
        self._cache.move_to_end(patch_id)
        return data

    def _load(self, patch_id: str, version: str) -> PatchData:
        patch = self.patch(patch_id)
        raster = read_mask_raster(self.project, patch_id)
        if raster.shape != (patch.window.height, patch.window.width):
            raise UnknownPatch(f"patch {patch_id}: mask raster {raster.shape} does not match "
                               f"its window {(patch.window.height, patch.window.width)}")
        boxes = ndimage.find_objects(raster) if raster.size else []
        return PatchData(patch, raster, list(boxes), version, self._read_imagery)

    def _read_imagery(self, window: PixelWindow) -> tuple[np.ndarray, np.ndarray]:
        scene = self.project.scene()  # one reader per read: readers are not thread-safe
        try:
            return scene.read(window)
        finally:
            scene.close()
