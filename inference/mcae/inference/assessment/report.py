"""An assessment's report: the estimates of a labelled sample in the shape of issue 16.

``report.json``: ``overall_accuracy``, ``users_accuracy``, ``producers_accuracy`` (each
``{"estimate", "ci95"}``, ``ci95`` the 95 % half-width), ``area_m2`` (``{"map",
"estimate", "ci95"}``), ``n``, ``cant_tell``, ``version``, classes keyed by their id as a
string; besides those, the error matrix (counts and area proportions), ha, the design,
the experts' agreement. ``write_report`` adds ``report.csv`` and two PNG figures.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mcae.inference.assessment.estimators import Z95, error_matrix, stratified_estimates


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _ci(estimate: float, se: float) -> dict[str, float | None]:
    return {"estimate": _num(estimate), "ci95": _num(Z95 * se)}


def build_report(strata: dict[int, dict[str, float]], labels: list[tuple[int, int]], *, cant_tell: int,
                 version: str | None, **extra: Any) -> dict[str, Any]:
    """Estimates from ``labels`` [(stratum, reference class)] and the strata sizes
    (``{class: {"pixels", "area_m2"}}``); ``extra`` keys (design, agreement ...) are added."""
    classes = sorted(set(strata) | {r for _, r in labels})
    mapped = np.array([float(strata.get(c, {}).get("area_m2", 0.0)) for c in classes])
    counts = error_matrix(np.array([s for s, _ in labels], dtype=int), np.array([r for _, r in labels], dtype=int),
                          classes) if labels else np.zeros((len(classes), len(classes)), dtype=int)
    est = stratified_estimates(counts, mapped, classes)
    keys = [str(c) for c in classes]
    n_i = counts.sum(axis=1)
    unsampled = [k for k, a, n in zip(keys, mapped, n_i, strict=True) if a > 0 and n == 0]
    report: dict[str, Any] = {
        "overall_accuracy": _ci(est.overall, est.overall_se) if labels else {"estimate": None, "ci95": None},
        "users_accuracy": {k: _ci(est.users[i], est.users_se[i]) for i, k in enumerate(keys)},
        "producers_accuracy": {k: _ci(est.producers[i], est.producers_se[i]) for i, k in enumerate(keys)},
        "area_m2": {k: {"map": float(mapped[i]), "estimate": _num(est.area[i]) if labels else None,
                        "ci95": _num(Z95 * est.area_se[i]) if labels else None} for i, k in enumerate(keys)},
        "area_ha": {k: {"map": float(mapped[i]) / 1e4, "estimate": _num(est.area[i] / 1e4) if labels else None,
                        "ci95": _num(Z95 * est.area_se[i] / 1e4) if labels else None} for i, k in enumerate(keys)},
        "n": len(labels),
        "cant_tell": int(cant_tell),
        "version": version,
        "classes": keys,
        "error_matrix": {"counts": counts.tolist(), "area_proportions": est.proportions.round(6).tolist(),
                         "rows": "map class (stratum)", "columns": "reference class"},
        "strata_without_labels": unsampled,
    }
    report.update(extra)
    return report


def write_report(report: dict[str, Any], out: Path, names: dict[int, str] | None = None) -> list[Path]:
    """``report.json``, ``report.csv`` (one row per class) and the two figures, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    with (out / "report.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["class", "name", "users_accuracy", "users_ci95", "producers_accuracy", "producers_ci95",
                         "map_area_m2", "estimated_area_m2", "area_ci95_m2", "estimated_area_ha", "area_ci95_ha"])
        for key in report["classes"]:
            ua, pa, area = report["users_accuracy"][key], report["producers_accuracy"][key], report["area_m2"][key]
            ha = report["area_ha"][key]
            writer.writerow([key, (names or {}).get(int(key), key), ua["estimate"], ua["ci95"], pa["estimate"],
                             pa["ci95"], area["map"], area["estimate"], area["ci95"], ha["estimate"], ha["ci95"]])
        oa = report["overall_accuracy"]
        writer.writerow(["overall", "overall accuracy", oa["estimate"], oa["ci95"], "", "", "", "", "", "", ""])
    return [out / "report.json", out / "report.csv", *_figures(report, out, names or {})]


def _figures(report: dict[str, Any], out: Path, names: dict[int, str]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = report["classes"]
    labels = [names.get(int(k), k) for k in keys]
    counts = np.array(report["error_matrix"]["counts"])
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(keys), 1.0 + 0.6 * len(keys)))
    ax.imshow(np.array(report["error_matrix"]["area_proportions"]), cmap="Blues")
    for i in range(len(keys)):
        for j in range(len(keys)):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(keys)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(keys)), labels, fontsize=8)
    ax.set_xlabel("reference class")
    ax.set_ylabel("map class (stratum)")
    oa = report["overall_accuracy"]
    title = (f"OA {100 * oa['estimate']:.1f} % ± {100 * oa['ci95']:.1f}"
             if oa["estimate"] is not None and oa["ci95"] is not None else "no labels")
    ax.set_title(f"Error matrix (counts; shade: area proportion) - {title}", fontsize=9)
    fig.tight_layout()
    matrix = out / "error_matrix.png"
    fig.savefig(matrix, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(keys), 3.5))
    x = np.arange(len(keys))
    mapped = [report["area_ha"][k]["map"] for k in keys]
    est = [report["area_ha"][k]["estimate"] or 0.0 for k in keys]
    err = [report["area_ha"][k]["ci95"] or 0.0 for k in keys]
    ax.bar(x - 0.2, mapped, 0.4, label="map (pixel count)", color="#bbbbbb")
    ax.bar(x + 0.2, est, 0.4, yerr=err, capsize=3, label="estimated, 95 % CI", color="#4a7fb5")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("area (ha)")
    ax.legend(fontsize=8)
    ax.set_title("Class areas adjusted for the map's errors", fontsize=9)
    fig.tight_layout()
    areas = out / "class_areas.png"
    fig.savefig(areas, dpi=100)
    plt.close(fig)
    return [matrix, areas]
