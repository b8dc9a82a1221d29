"""The comparison report: tables and agreement figures from joint counts, and their files.

Rows are SinoLC-1, columns MCAE. Per harmonised class, "agreement of SinoLC-1" is the
share of SinoLC-1's pixels of the class that MCAE puts in the same class (recall with
SinoLC-1 as the reference) and "agreement of MCAE" the share of MCAE's pixels of the class
that SinoLC-1 agrees with (precision). Metrics come from ``mcae.inference.evaluate``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mcae.inference.atomic import write_files
from mcae.inference.classes import HARMONISED_SCHEME, MCAE, SINOLC1, SINOLC1_TO_MCAE
from mcae.inference.errors import InputError
from mcae.inference.evaluate import metrics_from_confusion
from mcae.inference.report import AccuracyReport, _num, plot_confusion
from mcae.tiles.catalog import CatalogStore, LayerKind
from mcae.tiles.compare import MCAE_H, SINOLC1_H, Comparison, compare_city
from mcae.tiles.csv_safe import safe_frame
from mcae.tiles.errors import NotComputedError

TABLES = ("summary", "per_class", "contingency", "harmonised")
LEVEL_A_IDS = [c for c in MCAE.ids if c != 9]  # Others (and Snow and ice) are excluded


def compare_dir(store: CatalogStore, city_id: str) -> Path:
    """Where a city's comparison report and agreement map live (beside the catalog)."""
    return store.root / "compare" / city_id


def _one_hot(lut: np.ndarray, n: int) -> np.ndarray:
    """256 x n matrix: row v has a 1 in column lut[v]-1 (nothing when lut[v] is 0)."""
    out = np.zeros((256, n), np.int64)
    values = np.flatnonzero(lut)
    out[values, lut[values].astype(int) - 1] = 1
    return out


def harmonised_report(joint: np.ndarray) -> AccuracyReport:
    """Metrics of the 6 x 6 harmonised table (rows SinoLC-1, columns MCAE)."""
    table = _one_hot(SINOLC1_H, 6).T @ joint @ _one_hot(MCAE_H, 6)
    return metrics_from_confusion(table, HARMONISED_SCHEME.ids, HARMONISED_SCHEME)


def level_a_report(joint: np.ndarray) -> AccuracyReport:
    """Metrics of Level A: SinoLC-1 recoded to MCAE ids 1-8, one to one."""
    s_lut = np.zeros(256, np.int64)
    for value, mcae_id in SINOLC1_TO_MCAE.items():
        s_lut[value] = mcae_id if mcae_id in LEVEL_A_IDS else 0
    m_lut = np.zeros(256, np.int64)
    m_lut[LEVEL_A_IDS] = LEVEL_A_IDS
    table = _one_hot(s_lut, 8).T @ joint @ _one_hot(m_lut, 8)
    return metrics_from_confusion(table, LEVEL_A_IDS, MCAE)


def summarise(joint: np.ndarray, scope: str, name: str) -> dict[str, Any]:
    """Everything reported for one scope (the city or a district)."""
    level_b, level_a = harmonised_report(joint), level_a_report(joint)
    nodata = int(joint[0, :].sum() + joint[:, 0].sum() - joint[0, 0])
    both = int(joint[1:, 1:].sum())
    classes = [{"id": cid, "name": level_b.class_names[i], "sinolc1_pixels": int(level_b.support[i]),
                "mcae_pixels": int(level_b.predicted[i]), "agree_pixels": int(level_b.confusion[i, i]),
                "agreement_of_sinolc1": _num(level_b.recall[i]), "agreement_of_mcae": _num(level_b.precision[i])}
               for i, cid in enumerate(level_b.class_ids)]
    return {
        "scope": scope, "name": name,
        "pixels": {"grid": int(joint.sum()), "nodata": nodata, "compared": level_b.n_scored,
                   "excluded": both - level_b.n_scored},
        "overall_agreement": _num(level_b.overall_accuracy), "kappa": _num(level_b.kappa),
        "classes": classes,
        "harmonised": {"rows": "sinolc1", "columns": "mcae", "class_ids": level_b.class_ids,
                       "class_names": level_b.class_names, "counts": level_b.confusion.tolist()},
        "level_a": {"rows": "sinolc1 (as MCAE ids)", "columns": "mcae", "class_ids": level_a.class_ids,
                    "class_names": level_a.class_names, "overall_agreement": _num(level_a.overall_accuracy),
                    "kappa": _num(level_a.kappa), "counts": level_a.confusion.tolist()},
        "contingency": {"rows": "sinolc1", "row_ids": SINOLC1.ids, "row_names": SINOLC1.names,
                        "columns": "mcae", "column_ids": MCAE.ids, "column_names": MCAE.names,
                        "counts": joint[1:12, 1:10].tolist()},
    }


def report_document(result: Comparison) -> dict[str, Any]:
    """The JSON report of a comparison."""
    names = {d.id: d.name for d in result.city.districts.values()}
    return {
        "city": result.city.id, "city_name": result.city.name,
        "provenance": "synthetic" if result.synthetic else "real",
        "layers": {"mcae": result.mcae.id, "sinolc1": result.sinolc1.id, "agreement": "agreement"},
        "grid": result.grid,
        "method": "MCAE resampled onto the SinoLC-1 grid by mode (majority); pixel counts on that "
                  "grid; no data (0) on either side and MCAE Others / SinoLC-1 Snow and ice excluded "
                  "from agreement; rows SinoLC-1, columns MCAE",
        "summary": summarise(result.counts["city"], "city", result.city.name),
        "districts": [summarise(counts, scope, names.get(scope, scope))
                      for scope, counts in result.counts.items() if scope != "city"],
    }


def _scopes(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [document["summary"], *document["districts"]]


def tables(document: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The report's CSV tables (one row per scope, class or class pair)."""
    summary, per_class, contingency, harmonised = [], [], [], []
    for scope in _scopes(document):
        key = {"scope": scope["scope"], "name": scope["name"]}
        summary.append({**key, **{f"pixels_{k}": v for k, v in scope["pixels"].items()},
                        "overall_agreement": scope["overall_agreement"], "kappa": scope["kappa"],
                        "level_a_overall_agreement": scope["level_a"]["overall_agreement"],
                        "level_a_kappa": scope["level_a"]["kappa"]})
        per_class += [{**key, **{("class_id" if k == "id" else "class" if k == "name" else k): v
                                 for k, v in row.items()}} for row in scope["classes"]]
        table = scope["contingency"]
        for i, (sid, sname) in enumerate(zip(table["row_ids"], table["row_names"], strict=True)):
            for j, (mid, mname) in enumerate(zip(table["column_ids"], table["column_names"], strict=True)):
                contingency.append({**key, "sinolc1_value": sid, "sinolc1_class": sname, "mcae_id": mid,
                                    "mcae_class": mname, "pixels": table["counts"][i][j]})
        h = scope["harmonised"]
        for i, sname in enumerate(h["class_names"]):
            for j, mname in enumerate(h["class_names"]):
                harmonised.append({**key, "sinolc1_class": sname, "mcae_class": mname,
                                   "pixels": h["counts"][i][j]})
    frames = [summary, per_class, contingency, harmonised]
    return {name: pd.DataFrame(rows) for name, rows in zip(TABLES, frames, strict=True)}


def write_report(result: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """compare.json, the four CSV tables and compare.png (harmonised table), atomically."""
    out = Path(out_dir)
    document = report_document(result)
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    writers: dict[str, Callable[[Path], object]] = {"compare.json": lambda p: p.write_text(text)}
    for name, frame in tables(document).items():
        writers[f"{name}.csv"] = lambda p, f=frame: safe_frame(f).to_csv(p, index=False)  # type: ignore[misc]
    writers["compare.png"] = lambda p: plot_confusion(
        harmonised_report(result.counts["city"]), p, axes=("SinoLC-1", "MCAE"),
        title=f"{result.city.name}: MCAE vs SinoLC-1", score="agreement")
    return write_files(out, writers)


def run_comparison(store: CatalogStore, city_id: str, *, mcae_layer: str | None = None,
                   sinolc1_layer: str | None = None) -> tuple[Comparison, dict[str, Path]]:
    """Compare a city's MCAE and SinoLC-1 layers, write the report, add layer ``agreement``."""
    from mcae.tiles.layers import layer_from_file
    from mcae.tiles.whole_files import put_with_files

    out = compare_dir(store, city_id)
    result = compare_city(store, city_id, out / "agreement.tif", mcae_layer=mcae_layer,
                          sinolc1_layer=sinolc1_layer)
    paths = write_report(result, out)
    paths["agreement.tif"] = out / "agreement.tif"
    provenance = "synthetic" if result.synthetic else "real"
    put_with_files(store, city_id, layer_from_file(
        store, paths["agreement.tif"], kind=LayerKind.agreement, layer_id="agreement",
        title="Agreement MCAE / SinoLC-1", provenance=provenance,
        description=f"{result.mcae.id} vs {result.sinolc1.id} on the six harmonised classes "
                    "(MCAE resampled by mode onto the SinoLC-1 grid)"))
    return result, paths


def read_report(store: CatalogStore, city_id: str, name: str = "compare.json") -> Path:
    """A file of the city's stored report; NotComputedError when ``mcae compare`` has not run."""
    store.city(city_id)  # 404 for an unknown city first
    path = compare_dir(store, city_id) / name
    if not path.is_file():
        raise NotComputedError(f"no comparison for city {city_id!r} yet: run `mcae compare --city {city_id}`")
    return path


def table_name(table: str) -> str:
    if table not in TABLES:
        raise InputError(f"unknown table {table!r}; one of {', '.join(TABLES)}")
    return f"{table}.csv"
