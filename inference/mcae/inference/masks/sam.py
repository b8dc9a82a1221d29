"""Segment Anything masks, multi-scale as in the MCAE paper.

A fine pass reads the scene at half the GSD in crops of ``crop_size`` px, a coarse
pass at the target GSD in crops of ``crop_size`` px, both with 50 % overlap on a
lattice anchored at the scene's origin. Fine masks win over coarse ones; pixels no
mask covers become "fill" masks (see :mod:`mcae.inference.masks.fusion`).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, sam_model_registry
from segment_anything.modeling import Sam

from mcae.inference.errors import InputError
from mcae.inference.masks import register_generator
from mcae.inference.masks.base import (
    MaskGenerator,
    MaskResult,
    PixelWindow,
    SceneReader,
    records_from_labels,
)
from mcae.inference.masks.cleanup import connected_masks
from mcae.inference.masks.fusion import (
    NO_MASK,
    PASSES,
    CropMasks,
    CropSpec,
    FusedMasks,
    crop_masks,
    downsample_masks,
    fuse,
    lattice,
    pool_embeddings,
)
from mcae.inference.masks.tiny_sam import load_tiny_sam

MODEL_TYPES = ("vit_b", "vit_l", "vit_h", "tiny")
FINE_SCALE = 2.0  # the fine pass reads at half the GSD
POINTS_PER_BATCH = 64
BOX_NMS_THRESH = 0.7  # segment-anything's default


class SamCheckpointError(InputError, ValueError):
    """The checkpoint cannot be read, or does not fit the model type."""


class SamCheckpointNotFoundError(InputError, FileNotFoundError):
    """The checkpoint file does not exist."""


def load_sam(checkpoint: str | Path, model_type: str = "vit_b") -> Sam:
    """Build a SAM of ``model_type`` with the weights in ``checkpoint`` (on the CPU)."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"unknown SAM model_type {model_type!r}; known: {list(MODEL_TYPES)}")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise SamCheckpointNotFoundError(
            f"SAM checkpoint not found: {path} (model_type {model_type!r}); download the "
            "checkpoint from the segment-anything releases or use the superpixel generator")
    try:
        if model_type == "tiny":
            return load_tiny_sam(path)
        return sam_model_registry[model_type](checkpoint=str(path))
    except (RuntimeError, OSError, EOFError, KeyError, ValueError, pickle.UnpicklingError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise SamCheckpointError(
            f"cannot load {path} as a {model_type!r} SAM checkpoint; is it the checkpoint of "
            f"that model type? ({type(exc).__name__}: {reason})") from exc


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``cpu``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"invalid device {device!r}: use cpu, cuda, cuda:N or auto") from exc
    return device


class SamMaskGenerator(MaskGenerator):
    """SAM masks for a patch, the same whichever patch a pixel is computed in.

    Give ``checkpoint`` (and ``model_type``) or an already built ``model``.
    ``min_mask_region_area`` is in pixels at the target GSD; ``crop_size`` must be a
    multiple of 4 (fine crops cover ``crop_size / 2`` target pixels).
    """

    name = "sam"

    def __init__(self, checkpoint: str | Path | None = None, model_type: str = "vit_b",
                 device: str = "cpu", points_per_side: int = 32,
                 pred_iou_thresh: float = 0.86, stability_score_thresh: float = 0.92,
                 min_mask_region_area: int = 100, fine: bool = True, crop_size: int = 1024,
                 model: Sam | None = None) -> None:
        if crop_size < 16 or crop_size % 4:
            raise ValueError(f"crop_size must be a multiple of 4, at least 16; got {crop_size}")
        if points_per_side < 1:
            raise ValueError("points_per_side must be at least 1")
        if model is None:
            if checkpoint is None:
                raise ValueError("the sam generator needs a checkpoint (or a built model)")
            model = load_sam(checkpoint, model_type)
        elif checkpoint is not None:
            raise ValueError("give either a SAM checkpoint or a built model, not both")
        self.checkpoint = None if checkpoint is None else Path(checkpoint).expanduser()
        self.model_type = model_type if checkpoint is not None else "custom"
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.points_per_side = points_per_side
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.min_mask_region_area = min_mask_region_area
        self.fine = fine
        self.crop_size = crop_size
        self._amg = SamAutomaticMaskGenerator(
            self.model, points_per_side=points_per_side, points_per_batch=POINTS_PER_BATCH,
            pred_iou_thresh=pred_iou_thresh, stability_score_thresh=stability_score_thresh,
            box_nms_thresh=BOX_NMS_THRESH, min_mask_region_area=0, output_mode="binary_mask")
        self._checkpoint_sha256: str | None = None

    def settings(self) -> dict[str, Any]:
        return {
            "generator": self.name,
            "model_type": self.model_type,
            "checkpoint": None if self.checkpoint is None else str(self.checkpoint.resolve()),
            "checkpoint_sha256": self._checkpoint_digest(),
            "img_size": int(self.model.image_encoder.img_size),
            "device": self.device,
            "points_per_side": self.points_per_side,
            "points_per_batch": POINTS_PER_BATCH,
            "pred_iou_thresh": self.pred_iou_thresh,
            "stability_score_thresh": self.stability_score_thresh,
            "box_nms_thresh": BOX_NMS_THRESH,
            "min_mask_region_area": self.min_mask_region_area,
            "crop_size": self.crop_size,
            "crop_overlap": 0.5,
            "passes": list(self._passes()),
            "fine_scale": FINE_SCALE,
        }

    def generate(self, scene: SceneReader, window: PixelWindow) -> MaskResult:
        _, valid = scene.read(window)
        crops: list[CropMasks] = []
        embeddings: dict[tuple[int, int], np.ndarray] = {}
        with torch.inference_mode():
            for spec in self._crops(scene, window):
                result = self._run_crop(scene, window, spec)
                if result is not None:
                    crops.append(result[0])
                    if result[1] is not None:
                        embeddings[spec.row, spec.col] = result[1]
        fused = fuse(crops, valid.shape)
        labels, owner = self._partition(fused, valid)
        sources = np.array([PASSES[p] for p in fused.pass_index] + ["fill"])
        records = records_from_labels(labels, scores=np.append(fused.iou, 0.0)[owner],
                                      stabilities=np.append(fused.stability, 0.0)[owner],
                                      sources=sources[owner].tolist())
        embedding = pool_embeddings(labels, window, embeddings, self.crop_size,
                                    self.model.prompt_encoder.embed_dim)
        return MaskResult(labels, records, embedding)

    def _passes(self) -> tuple[str, ...]:
        return PASSES if self.fine else PASSES[1:]

    def _crops(self, scene: SceneReader, window: PixelWindow) -> list[CropSpec]:
        """Fine then coarse lattice crops intersecting ``window``."""
        shape = (scene.height, scene.width)
        return [spec for name in self._passes()
                for spec in lattice(window, shape, PASSES.index(name),
                                    self.crop_size // 2 if name == "fine" else self.crop_size)]

    def _run_crop(self, scene: SceneReader, window: PixelWindow,
                  spec: CropSpec) -> tuple[CropMasks, np.ndarray | None] | None:
        """SAM on one crop: its masks in the patch and, for coarse crops, its embedding."""
        fine = PASSES[spec.pass_index] == "fine"
        image, valid = scene.read(spec.window, scale=FINE_SCALE if fine else 1.0)
        if not valid.any():
            return None
        with self._captured_embedding() as captured:
            anns = self._amg.generate(_to_rgb(image))
        masks = np.zeros((len(anns), *valid.shape), bool)
        for mask, ann in zip(masks, anns, strict=True):
            mask[...] = ann["segmentation"]
        if fine:
            masks = downsample_masks(masks)
        iou = np.clip([a["predicted_iou"] for a in anns], 0.0, 1.0).astype(np.float32)
        stability = np.array([a["stability_score"] for a in anns], np.float32)
        keep = masks.any(axis=(1, 2))  # SAM may return empty masks
        crop = crop_masks(spec, window, masks[keep], iou[keep], stability[keep])
        embedding = None if fine else captured[-1][0].float().cpu().numpy()
        return crop, embedding

    @contextmanager
    def _captured_embedding(self) -> Iterator[list[torch.Tensor]]:
        """Collect the image encoder's output (the automatic generator resets it)."""
        outputs: list[torch.Tensor] = []
        handle = self.model.image_encoder.register_forward_hook(
            lambda _module, _inputs, output: outputs.append(output))
        try:
            yield outputs
        finally:
            handle.remove()

    def _partition(self, fused: FusedMasks, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Connected masks of one winner each, and the rank owning most of each (n: fill)."""
        n = len(fused.iou)
        owner = np.where(fused.rank == NO_MASK, n, fused.rank)
        labels = connected_masks(owner, valid, min_area=self.min_mask_region_area)
        return labels, _majority(labels, owner)

    def _checkpoint_digest(self) -> str | None:
        if self.checkpoint is None:
            return None
        if self._checkpoint_sha256 is None:
            digest = hashlib.sha256()
            with self.checkpoint.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            self._checkpoint_sha256 = digest.hexdigest()
        return self._checkpoint_sha256


@register_generator("sam")
def build_sam_generator(**options: Any) -> MaskGenerator:
    """Builder registered as ``sam`` (options: see :class:`SamMaskGenerator`)."""
    return SamMaskGenerator(**options)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """SAM's input: HWC uint8 from the first three bands (a single band is repeated)."""
    bands = image[:3] if image.shape[0] >= 3 else np.repeat(image[:1], 3, axis=0)
    return np.ascontiguousarray(np.moveaxis(bands, 0, -1))


def _majority(labels: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per mask id 1..N, the owner value of most of its pixels (ties: the smallest)."""
    inside = labels > 0
    if not inside.any():
        return np.zeros(0, np.int64)
    pairs, counts = np.unique(np.stack([labels[inside], owner[inside]]), axis=1,
                              return_counts=True)
    order = np.lexsort((pairs[1], -counts, pairs[0]))
    first = np.concatenate([[True], np.diff(pairs[0][order]) != 0])
    return pairs[1][order][first]
