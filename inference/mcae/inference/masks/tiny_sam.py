"""A tiny, randomly initialised SAM to smoke-test the SAM path without real weights."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

PATCH_SIZE = 16
EMBED_DIM = 32  # channels of the image embedding (256 in the released models)


def build_tiny_sam(seed: int = 0, img_size: int = 256) -> Sam:
    """A seeded SAM with a 2-block ViT and a 1-layer decoder, in eval mode."""
    if img_size % PATCH_SIZE or img_size < 2 * PATCH_SIZE:
        raise ValueError(f"img_size must be a multiple of {PATCH_SIZE}, at least 32")
    grid = img_size // PATCH_SIZE
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = Sam(
            image_encoder=ImageEncoderViT(
                img_size=img_size, patch_size=PATCH_SIZE, embed_dim=32, depth=2, num_heads=2,
                mlp_ratio=2.0, out_chans=EMBED_DIM, qkv_bias=True,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
                window_size=4, global_attn_indexes=(1,),
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=EMBED_DIM, image_embedding_size=(grid, grid),
                input_image_size=(img_size, img_size), mask_in_chans=8,
            ),
            mask_decoder=MaskDecoder(
                transformer_dim=EMBED_DIM,
                transformer=TwoWayTransformer(depth=1, embedding_dim=EMBED_DIM, mlp_dim=64,
                                              num_heads=2),
                num_multimask_outputs=3, iou_head_depth=2, iou_head_hidden_dim=32,
            ),
            pixel_mean=[123.675, 116.28, 103.53],
            pixel_std=[58.395, 57.12, 57.375],
        )
    _calibrate(sam)
    return sam.eval()


@torch.no_grad()
def _calibrate(sam: Sam) -> None:
    """Scores like a trained model's: IoU predictions near 0.5, non-zero stability."""
    sam.mask_decoder.iou_prediction_head.layers[-1].bias.add_(0.8)
    for mlp in sam.mask_decoder.output_hypernetworks_mlps:
        mlp.layers[-1].weight.mul_(30.0)
        mlp.layers[-1].bias.mul_(30.0)


def save_sam_checkpoint(model: Sam, path: str | Path) -> Path:
    """Write ``model``'s state_dict where a SAM checkpoint is expected."""
    path = Path(path)
    torch.save(model.state_dict(), path)
    return path


def load_tiny_sam(checkpoint: str | Path) -> Sam:
    """Rebuild a tiny SAM from a checkpoint written by :func:`save_sam_checkpoint`."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    pos_embed = state.get("image_encoder.pos_embed") if isinstance(state, dict) else None
    if pos_embed is None:
        raise ValueError("not a SAM state_dict (no image_encoder.pos_embed)")
    sam = build_tiny_sam(img_size=int(pos_embed.shape[1]) * PATCH_SIZE)
    sam.load_state_dict(state)
    return sam.eval()
