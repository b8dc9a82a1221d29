"""The accuracy report: metrics, their JSON/CSV/PNG files and a terminal summary."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mcae.inference.atomic import write_files

RGB = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class AccuracyReport:
    """Metrics of one map against one reference; per-class arrays follow ``class_ids``.

    Confusion rows are reference classes, columns map classes. NaN marks a metric
    whose denominator is zero (serialised as null).
    """

    scheme: str
    class_ids: list[int]
    class_names: list[str]
    class_colors: list[RGB]
    confusion: np.ndarray
    overall_accuracy: float
    kappa: float
    precision: np.ndarray  # user's accuracy
    recall: np.ndarray  # producer's accuracy
    f1: np.ndarray
    iou: np.ndarray
    support: np.ndarray  # reference pixels per class
    predicted: np.ndarray  # map pixels per class
    mean_f1: float  # over classes present in the reference
    miou: float  # over classes present in the reference
    n_scored: int  # pixels in the confusion matrix
    n_total: int  # pixels of the map grid
    n_nodata: int = 0  # 0 (or declared nodata) on either side
    n_unknown: int = 0  # an id outside the scheme on either side
    merge: list[tuple[int, ...]] = field(default_factory=list)
    map_path: str | None = None
    reference_path: str | None = None
    reference_resampled: bool = False

    def per_class_frame(self) -> pd.DataFrame:
        """One row per class: id, name, support, predicted, precision, recall, f1, iou."""
        return pd.DataFrame(
            {
                "id": self.class_ids,
                "name": self.class_names,
                "support": self.support,
                "predicted": self.predicted,
                "precision": self.precision,
                "recall": self.recall,
                "f1": self.f1,
                "iou": self.iou,
            }
        )

    def confusion_frame(self) -> pd.DataFrame:
        """The confusion matrix labelled with class names (rows reference, columns map)."""
        frame = pd.DataFrame(self.confusion, index=self.class_names, columns=self.class_names)
        frame.index.name = "reference \\ map"
        return frame

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN becomes None."""
        classes = self.per_class_frame().astype(object)
        return {
            "scheme": self.scheme,
            "map": self.map_path,
            "reference": self.reference_path,
            "reference_resampled": self.reference_resampled,
            "merge": [list(g) for g in self.merge],
            "overall_accuracy": _num(self.overall_accuracy),
            "kappa": _num(self.kappa),
            "mean_f1": _num(self.mean_f1),
            "miou": _num(self.miou),
            "pixels": {
                "total": self.n_total,
                "scored": self.n_scored,
                "nodata": self.n_nodata,
                "unknown": self.n_unknown,
            },
            "classes": [{k: _num(v) for k, v in row.items()} for row in classes.to_dict("records")],
            "confusion": {
                "rows": "reference",
                "columns": "map",
                "class_ids": self.class_ids,
                "matrix": self.confusion.tolist(),
            },
        }

    def summary(self) -> str:
        """A few lines for the terminal: headline metrics and a per-class table."""
        lines = [
            f"OA {_pct(self.overall_accuracy)}  kappa {_fix(self.kappa)}  "
            f"mean F1 {_fix(self.mean_f1)}  mIoU {_fix(self.miou)}",
            f"{self.n_scored:,} px scored of {self.n_total:,} "
            f"({self.n_nodata:,} no data, {self.n_unknown:,} unknown ids)",
        ]
        if self.reference_resampled:
            lines.append("reference resampled onto the map grid (nearest neighbour)")
        width = max(len(n) for n in self.class_names)
        lines.append(f"{'class':<{width}}  {'support':>11}  {'prec':>6}  {'recall':>6}  "
                     f"{'F1':>6}  {'IoU':>6}")
        for i, name in enumerate(self.class_names):
            scores = (self.precision[i], self.recall[i], self.f1[i], self.iou[i])
            lines.append(f"{name:<{width}}  {int(self.support[i]):>11,}  "
                         + "  ".join(_fix(v, 6) for v in scores))
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write accuracy.json, per_class.csv, confusion.csv and confusion.png atomically."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        writers: dict[str, Callable[[Path], object]] = {
            "accuracy.json": lambda p: p.write_text(text, encoding="utf-8"),
            "per_class.csv": lambda p: self.per_class_frame().to_csv(p, index=False),
            "confusion.csv": lambda p: self.confusion_frame().to_csv(p),
            "confusion.png": lambda p: plot_confusion(self, p),
        }
        return write_files(out, writers)


def _num(value: Any) -> Any:
    """numpy scalars to Python ones, NaN to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _fix(value: float, width: int = 0) -> str:
    return f"{value:>{width}.3f}" if not math.isnan(value) else f"{'-':>{width}}"


def _pct(value: float) -> str:
    return f"{value:.2%}" if not math.isnan(value) else "-"


def _compact(count: int) -> str:
    """1234 -> '1234', 56789 -> '56.8k', 1234567 -> '1.23M'."""
    if count < 10_000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1e3:.1f}k"
    if count < 1_000_000_000:
        return f"{count / 1e6:.3g}M"
    return f"{count / 1e9:.3g}G"


def plot_confusion(report: AccuracyReport, path: str | Path, *,
                   axes: tuple[str, str] = ("Reference", "Map"),
                   title: str = "Confusion matrix", score: str = "OA") -> None:
    """PNG of the row-normalised confusion matrix with counts, shares and class colours.

    ``axes`` names the rows and the columns; ``title`` and ``score`` head the plot.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # Agg canvas, no pyplot global state
    from matplotlib.ticker import PercentFormatter
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    cm = report.confusion
    n = len(report.class_ids)
    rows = cm.sum(axis=1, keepdims=True).astype(float)
    share = np.divide(cm, rows, out=np.full(cm.shape, np.nan), where=rows > 0)

    side = 2.5 + 0.75 * n
    fig = Figure(figsize=(side + 1.0, side), dpi=130)
    ax = fig.add_subplot()
    cmap = colormaps["Blues"].with_extremes(bad="#e6e6e6")  # reference class absent: grey row
    im = ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0.0, vmax=1.0)
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
    ax.set_title(
        f"{title} ({report.scheme}), row-normalised\n"
        f"{score} {_pct(report.overall_accuracy)}   κ {_fix(report.kappa)}   "
        f"mIoU {_fix(report.miou)}   {report.n_scored:,} px",
        fontsize=10,
    )
    fontsize = 8 if n <= 6 else 6.5
    for i in range(n):
        for j in range(n):
            if cm[i, j] == 0:
                continue
            colour = "white" if share[i, j] > 0.55 else "#1a1a1a"
            ax.text(j, i, f"{_compact(int(cm[i, j]))}\n{share[i, j]:.1%}", ha="center",
                    va="center", fontsize=fontsize, color=colour)

    # Colour chips of the palette beside the tick labels, then the colour bar.
    divider = make_axes_locatable(ax)
    left = divider.append_axes("left", size=0.2, pad=0.05)
    bottom = divider.append_axes("bottom", size=0.2, pad=0.05)
    cax = divider.append_axes("right", size=0.18, pad=0.12)
    colours = np.array(report.class_colors, dtype=float) / 255.0
    ticks, edges = np.arange(n), np.arange(n + 1) - 0.5
    left.imshow(colours[:, None, :], aspect="auto")
    left.set_xticks([])
    left.set_yticks(ticks, report.class_names, fontsize=8)
    left.set_ylabel(axes[0])
    bottom.imshow(colours[None, :, :], aspect="auto")
    bottom.set_yticks([])
    bottom.set_xticks(ticks, report.class_names, fontsize=8, rotation=40, ha="right")
    bottom.set_xlabel(axes[1])
    for chips, lines in ((left, left.axhline), (bottom, bottom.axvline)):
        chips.tick_params(length=0)
        for edge in edges[1:-1]:
            lines(edge, color="#808080", linewidth=0.6)
    row_name = "reference" if axes[0] == "Reference" else axes[0]
    fig.colorbar(im, cax=cax, format=PercentFormatter(1.0), label=f"share of {row_name} class")
    fig.savefig(path, format="png", bbox_inches="tight")
