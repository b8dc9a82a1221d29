"""Per-patch imagery and mask rasters of one project, read once and kept in a small LRU.

The annotation pages show dozens of thumbnails of masks that sit in a few patches;
:class:`PatchImages` reads each patch (imagery on the working grid and its mask-id
raster) once and keeps the last ``max_patches`` in memory (about 8 MB per 1024 px
patch). It is thread-safe: FastAPI runs sync routes in a thread pool, and two
requests for the same cold patch share one read. Keep one instance per project.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from mcae.inference.grid import Patch
from mcae.inference.project import Project
from mcae.inference.segment import read_mask_raster


class UnknownPatch(LookupError):
    """No such patch in the project's grid, or the patch is not segmented yet (404)."""


class UnknownMask(LookupError):
    """No mask with this id in the patch (404)."""


@dataclass(frozen=True)
class PatchData:
    """One patch in memory: imagery, mask ids and the box of every mask."""

    patch: Patch
    rgb: np.ndarray  # uint8 (h, w, 3), invalid pixels black
    image: Image.Image  # the same imagery as a Pillow RGB image (crops pad with black)
    raster: np.ndarray  # int32 (h, w) mask ids, 0 = no mask
    boxes: list[tuple[slice, slice] | None]  # boxes[i]: rows, cols of mask i + 1
    version: str  # changes when the patch's mask raster is rewritten

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.raster.shape[0]), int(self.raster.shape[1])

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
        scene = self.project.scene()  # one reader per load: readers are not thread-safe
        try:
            image, valid = scene.read(patch.window)
        finally:
            scene.close()
        rgb = np.ascontiguousarray(np.moveaxis(image[:3], 0, -1))
        rgb[~valid] = 0
        if rgb.shape[:2] != raster.shape:
            raise UnknownPatch(f"patch {patch_id}: mask raster {raster.shape} does not match "
                               f"its window {rgb.shape[:2]}")
        boxes = ndimage.find_objects(raster) if raster.size else []
        return PatchData(patch, rgb, Image.fromarray(rgb), raster, list(boxes), version)
