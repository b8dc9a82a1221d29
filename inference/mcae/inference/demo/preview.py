"""A picture of the demo: imagery, MCAE map and SinoLC-1 stand-in, with legends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from rasterio.enums import Resampling

from mcae.inference.classes import MCAE, SINOLC1, ClassScheme


def _read(path: Path, size: int) -> np.ndarray:
    with rasterio.open(path) as src:
        scale = max(src.width, src.height) / size
        shape = (src.count, max(1, int(src.height / scale)), max(1, int(src.width / scale)))
        return np.asarray(src.read(out_shape=shape, resampling=Resampling.nearest))


def _colour(ids: np.ndarray, scheme: ClassScheme) -> np.ndarray:
    lut = np.ones((256, 3))
    for c in scheme:
        lut[c.id] = np.array(c.rgb) / 255
    return lut[ids]


def write_preview(folder: Path, out: Path, size: int = 700) -> Path:
    """Three panels side by side, each with its class legend, as a PNG."""
    fig = Figure(figsize=(15, 6.2), dpi=100)
    axes = fig.subplots(1, 3)
    image = _read(folder / "imagery.tif", size)
    axes[0].imshow(np.moveaxis(image[:3], 0, -1))
    axes[0].set_title("Imagery (synthetic, 0.6 m)")
    for ax, name, scheme, title in ((axes[1], "mcae.tif", MCAE, "MCAE map"),
                                    (axes[2], "sinolc1.tif", SINOLC1, "SinoLC-1 stand-in (1 m)")):
        ids = _read(folder / name, size)[0]
        ax.imshow(_colour(ids, scheme))
        ax.set_title(title)
        present = set(np.unique(ids).tolist())
        handles = [Patch(facecolor=(c.rgb[0] / 255, c.rgb[1] / 255, c.rgb[2] / 255), edgecolor="0.4", label=c.name)
                   for c in scheme if c.id in present]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3,
                  fontsize=8, frameon=False)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("MCAE demo city: everything shown is synthetic", fontsize=13)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.16, wspace=0.04)
    fig.savefig(out)
    return out
