"""Annotation benchmark: map accuracy against expert actions on the labelled Dubai images.

Run from the repository root::

    .venv/bin/python -m benchmarks.annotation            # or: .venv/bin/python benchmarks/annotation.py

Every image of ``labelled/dubai`` (5 tiles x 9 parts; ``--parts N`` keeps the first N
parts of each tile) is its own MCAE project: its colour mask becomes a reference raster of
MCAE ids (Building 8, Bareland 1, Road 4, Vegetation 5, Water 6, the rest 0 = ignored),
then ``segment`` runs (superpixel masks, ``--gsd 0.6`` = the target GSD, so no resampling;
patch 1024 px) with ``build_groups`` and ``reference_per_mask``.

For each budget ratio r (actions per mask) an image gets ``ceil(r * masks)`` actions:

* **MCAE**: ``--rounds`` rounds of the simulated expert (each takes its share of the
  budget: group labels, then single-mask corrections), each followed by ``train``
  (MLP; its hold-out comparison is switched off, it does not change the model), then
  ``write_map`` and ``evaluate_rasters`` with Tree and Rangeland merged.
* **random**: as many actions as MCAE spent, each labelling one randomly chosen mask
  (seeded) with its true majority class; then ``train`` and ``write_map``.
* **ceiling**: every mask painted with its true majority class (``ref_class``): the best
  any mask-level labelling of these masks can score.

Between budgets a project is reset: ``decisions.jsonl`` and ``models/`` are deleted and
the ``groups.parquet`` written by ``build_groups`` before any model existed is restored
(the same file ``build_groups`` would write again: clustering is seeded and, without a
model, every predicted class is 0).

Accuracy is pixel-weighted over all images (their confusion matrices are summed);
actions per mask = all actions / all masks. Results: a printed table,
``benchmarks/results/annotation.json`` and ``benchmarks/results/annotation.png``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    RESULTS_DIR,
    limit_threads,
    machine_info,
    require_data,
    set_thread_env,
    shared_data_dir,
    write_results,
)

DUBAI = "labelled/dubai"
# Mask colour (RGB) -> MCAE id, from ../shared/data/PROVENANCE.md; anything else is 0.
COLOUR_TO_CLASS: dict[tuple[int, int, int], int] = {
    (60, 16, 152): 8,  # Building
    (132, 41, 246): 1,  # Land (unpaved area) -> Bareland
    (110, 193, 228): 4,  # Road
    (254, 221, 58): 5,  # Vegetation -> Tree (scored together with Rangeland)
    (226, 169, 41): 6,  # Water
}
MERGE: list[tuple[int, ...]] = [(2, 5)]  # Rangeland + Tree
DEFAULT_RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2)
TARGET_SHARE = 0.9  # of the ceiling ...
TARGET_RATIO = 0.1  # ... at this many actions per mask or fewer
GSD = 0.6


@dataclass(frozen=True)
class ImageJob:
    index: int
    tile: str
    part: str
    image: Path
    mask: Path

    @property
    def name(self) -> str:
        return f"{self.tile}/{self.part}"


@dataclass
class BudgetResult:
    ratio: float
    budget: int
    actions: int
    mcae: list[list[int]]  # confusion matrices (rows reference, columns map)
    random: list[list[int]]


@dataclass
class ImageResult:
    name: str
    width: int
    height: int
    masks: int
    ceiling: list[list[int]]
    budgets: list[BudgetResult] = field(default_factory=list)
    seconds: float = 0.0


# -- inputs --------------------------------------------------------------------------------

def find_images(root: Path, parts: int | None) -> list[ImageJob]:
    """The Dubai images with their masks, tile by tile, the first ``parts`` of each tile."""
    jobs: list[ImageJob] = []
    for tile in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted((tile / "images").glob("*.jpg"))[:parts]
        for image in images:
            mask = tile / "masks" / f"{image.stem}.png"
            if mask.is_file():
                jobs.append(ImageJob(len(jobs), tile.name, image.stem, image, mask))
    return jobs


def colour_mask_to_ids(rgb: np.ndarray) -> np.ndarray:
    """An RGB colour mask (h, w, 3) as MCAE ids (uint8, 0 for unknown colours)."""
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) \
        | rgb[..., 2].astype(np.uint32)
    out = np.zeros(rgb.shape[:2], np.uint8)
    for (r, g, b), class_id in COLOUR_TO_CLASS.items():
        out[packed == ((r << 16) | (g << 8) | b)] = class_id
    return out


def write_reference(mask_png: Path, out: Path) -> Path:
    """The mask as a single-band GeoTIFF of MCAE ids without georeferencing."""
    import rasterio
    from PIL import Image

    with Image.open(mask_png) as img:
        ids = colour_mask_to_ids(np.asarray(img.convert("RGB")))
    profile = {"driver": "GTiff", "width": ids.shape[1], "height": ids.shape[0], "count": 1,
               "dtype": "uint8", "compress": "deflate"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NotGeoreferencedWarning
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(ids, 1)
    return out


# -- one project ---------------------------------------------------------------------------

def segment_image(job: ImageJob, workdir: Path, run: Any) -> tuple[Any, Any, Path]:
    """Project, per-mask reference and reference raster of one image (reused if present)."""
    import pandas as pd

    from mcae.inference.groups import build_groups
    from mcae.inference.reference import reference_per_mask
    from mcae.inference.segment import SegmentOptions, prepare_project, segment_patches

    reference = write_reference(job.mask, workdir / "reference.tif")
    options = SegmentOptions(gsd=GSD, target_gsd=GSD, patch_size=1024, generator="superpixel")
    project = prepare_project(job.image, workdir / "project", options)
    segment_patches(project, run)
    pristine = workdir / "groups.pristine.parquet"
    if not pristine.is_file():
        reset_project(project, None)
        build_groups(project, run)
        shutil.copyfile(project.groups_path, pristine)
    per_mask = workdir / "reference_per_mask.parquet"
    if not per_mask.is_file():
        reference_per_mask(project, reference, run).to_parquet(per_mask)
    return project, pd.read_parquet(per_mask), reference


def reset_project(project: Any, pristine: Path | None) -> None:
    """Forget decisions and model; restore the groups of before any model."""
    project.decisions_path.unlink(missing_ok=True)
    shutil.rmtree(project.classifier_path.parent, ignore_errors=True)
    if pristine is not None:
        shutil.copyfile(pristine, project.groups_path)


def map_confusion(project: Any, reference: Path, out: Path) -> list[list[int]]:
    """Write the project's map and score it against the reference (Tree + Rangeland)."""
    from mcae.inference.evaluate import evaluate_rasters
    from mcae.inference.mapping import write_map

    path = write_map(project, out)
    report = evaluate_rasters(path, reference, merge=MERGE)
    path.unlink()
    return report.confusion.tolist()


def run_mcae(project: Any, per_mask: Any, budget: int, rounds: int, run: Any) -> int:
    """Expert rounds, each followed by training; returns the actions spent."""
    from mcae.inference.decisions import mask_labels, read_decisions, record_decisions, resolve
    from mcae.inference.expert import SimulatedExpert
    from mcae.inference.train import train

    spent = 0
    for round_no in range(1, rounds + 1):
        share = math.ceil(budget * round_no / rounds) - spent
        if share <= 0:
            continue
        groups = project.groups()
        expert = SimulatedExpert(budget=share)
        new = resolve(expert.decide(groups, per_mask, mask_labels(read_decisions(project))),
                      groups)
        if not new:
            continue
        record_decisions(project, new)
        spent += expert.actions_
        train(project, run, compare_baseline=False)
    return spent


def run_random(project: Any, per_mask: Any, actions: int, seed: list[int], run: Any) -> int:
    """Label ``actions`` random masks (with a reference class) one by one, then train once."""
    from mcae.inference.decisions import Decision, record_decisions
    from mcae.inference.train import train

    groups = project.groups()[["patch", "mask_id"]]
    candidates = groups.merge(per_mask[per_mask["ref_class"] > 0], on=["patch", "mask_id"])
    n = min(actions, len(candidates))
    if n == 0:
        return 0
    rng = np.random.default_rng(seed)
    chosen = candidates.iloc[np.sort(rng.choice(len(candidates), size=n, replace=False))]
    record_decisions(project, [
        Decision.model_validate({"target": "mask", "patch": row.patch, "mask": int(row.mask_id),
                                 "class": int(row.ref_class), "source": "random"})
        for row in chosen.itertuples()])
    train(project, run, compare_baseline=False)
    return n


def ceiling_confusion(project: Any, per_mask: Any, reference: Path) -> list[list[int]]:
    """Every mask painted with its true majority class, scored on the patch cores."""
    from mcae.inference.classes import MCAE
    from mcae.inference.evaluate import confusion_matrix_from_arrays, scored_class_ids
    from mcae.inference.reference import read_reference, reference_scene
    from mcae.inference.segment import read_mask_raster

    class_ids = scored_class_ids(MCAE, MERGE)
    scene = reference_scene(project.scene_info, reference)
    total = np.zeros((len(class_ids), len(class_ids)), np.int64)
    for patch in project.grid.patches():
        labels = read_mask_raster(project, patch.id)
        ref = read_reference(scene, patch.window)
        part = per_mask[per_mask["patch"] == patch.id]
        lut = np.zeros(int(labels.max()) + 1, np.uint8)
        lut[part["mask_id"].to_numpy()] = part["ref_class"].to_numpy()
        r0 = patch.core.row_off - patch.window.row_off
        c0 = patch.core.col_off - patch.window.col_off
        core = (slice(r0, r0 + patch.core.height), slice(c0, c0 + patch.core.width))
        total += confusion_matrix_from_arrays(lut[labels[core]], ref[core], class_ids, MERGE)
    return total.tolist()


def process_image(job: ImageJob, workdir: Path, ratios: list[float], rounds: int,
                  seed: int) -> ImageResult:
    """Everything for one image (runs in a worker process)."""
    from mcae.inference.compute import executor

    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    pristine = workdir / "groups.pristine.parquet"
    with executor("synchronous", quiet=True) as run:
        project, per_mask, reference = segment_image(job, workdir, run)
        info = project.scene_info
        n_masks = len(project.groups())
        result = ImageResult(job.name, info.width, info.height, n_masks,
                             ceiling_confusion(project, per_mask, reference))
        for k, ratio in enumerate(ratios):
            budget = max(1, math.ceil(ratio * n_masks))
            reset_project(project, pristine)
            actions = run_mcae(project, per_mask, budget, rounds, run)
            mcae = map_confusion(project, reference, workdir / "map.tif")
            reset_project(project, pristine)
            run_random(project, per_mask, actions, [seed, job.index, k], run)
            random = map_confusion(project, reference, workdir / "map.tif")
            result.budgets.append(BudgetResult(ratio, budget, actions, mcae, random))
        reset_project(project, pristine)
    result.seconds = time.perf_counter() - start
    return result


def worker_init(threads: int) -> None:
    limit_threads(threads)
    warnings.filterwarnings("ignore")


# -- running and reporting -----------------------------------------------------------------

def run_all(jobs: list[ImageJob], workdir: Path, ratios: list[float], rounds: int, seed: int,
            workers: int) -> list[ImageResult]:
    """Every image, ``workers`` at a time (largest first), with a progress bar."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    order = sorted(jobs, key=lambda j: -j.image.stat().st_size)
    results: list[ImageResult] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("images (segment, budgets, baselines)", total=len(jobs))
        if workers <= 1:
            worker_init(1)
            for job in order:
                results.append(process_image(job, workdir / job.tile / job.part, ratios,
                                             rounds, seed))
                bar.advance(task)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=worker_init,
                                     initargs=(1,)) as pool:
                futures: list[Future[ImageResult]] = [
                    pool.submit(process_image, job, workdir / job.tile / job.part, ratios,
                                rounds, seed) for job in order]
                for future in as_completed(futures):
                    results.append(future.result())
                    bar.advance(task)
    return sorted(results, key=lambda r: r.name)


def accuracy(matrices: list[list[list[int]]]) -> float:
    total = np.sum([np.asarray(m, np.int64) for m in matrices], axis=0)
    return float(np.trace(total) / total.sum()) if total.sum() else math.nan


def summarise(results: list[ImageResult], ratios: list[float]) -> dict[str, Any]:
    """Pixel-weighted accuracies per budget ratio, over all images."""
    masks = sum(r.masks for r in results)
    ceiling = accuracy([r.ceiling for r in results])
    rows = []
    for k, ratio in enumerate(ratios):
        parts = [r.budgets[k] for r in results]
        actions = sum(p.actions for p in parts)
        mcae = accuracy([p.mcae for p in parts])
        rows.append({"ratio": ratio, "budget": sum(p.budget for p in parts), "actions": actions,
                     "actions_per_mask": actions / masks, "mcae": mcae,
                     "random": accuracy([p.random for p in parts]), "ceiling": ceiling,
                     "mcae_over_ceiling": mcae / ceiling})
    hits = [row for row in rows if row["actions_per_mask"] <= TARGET_RATIO
            and row["mcae_over_ceiling"] >= TARGET_SHARE]
    return {"images": len(results), "masks": masks, "ceiling": ceiling, "rows": rows,
            "target": f">= {TARGET_SHARE:.0%} of the ceiling at <= {TARGET_RATIO} actions per mask",
            "target_met": bool(hits),
            "first_ratio_meeting_target": min((h["actions_per_mask"] for h in hits), default=None)}


def print_summary(summary: dict[str, Any], seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=(f"Dubai: {summary['images']} images, {summary['masks']} masks; "
                         "pixel accuracy, Tree + Rangeland merged"))
    for column in ("budget ratio", "budget", "actions", "actions / mask", "accuracy MCAE",
                   "accuracy random", "ceiling", "MCAE / ceiling"):
        table.add_column(column, justify="right")
    for row in summary["rows"]:
        table.add_row(f"{row['ratio']:g}", str(row["budget"]), str(row["actions"]), f"{row['actions_per_mask']:.3f}",
                      f"{row['mcae']:.2%}", f"{row['random']:.2%}", f"{row['ceiling']:.2%}",
                      f"{row['mcae_over_ceiling']:.1%}")
    console = Console(width=120)
    console.print(table)
    console.print("budget: sum of ceil(ratio x masks) over the images; actions: what the "
                  "simulated expert spent (it stops when no action gains a pixel)")
    if summary["target_met"]:
        verdict = (f"[bold]YES[/]: first reached at {summary['first_ratio_meeting_target']:.3f} "
                   "actions per mask")
    else:
        verdict = "[bold]NO[/] at the budgets tried"
    console.print(f"MCAE {summary['target']}: {verdict} ({seconds / 60:.1f} min)")


def plot(summary: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["rows"]
    x = [r["actions_per_mask"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 5.2))
    ax.plot(x, [100 * r["mcae"] for r in rows], "o-", label="MCAE (groups + corrections)")
    ax.plot(x, [100 * r["random"] for r in rows], "s--", label="random single masks")
    ax.axhline(100 * summary["ceiling"], color="k", lw=1, label="ceiling (true class per mask)")
    ax.axhline(100 * TARGET_SHARE * summary["ceiling"], color="grey", lw=1, ls=":",
               label=f"{TARGET_SHARE:.0%} of the ceiling")
    ax.axvline(TARGET_RATIO, color="grey", lw=1, ls="-.",
               label=f"{TARGET_RATIO} actions per mask")
    ax.set_xscale("log")
    ax.set_xlabel("expert actions per mask")
    ax.set_ylabel("pixel accuracy (%)")
    ax.set_title(f"Dubai, {summary['images']} images, {summary['masks']} masks "
                 "(Tree + Rangeland merged)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=None,
                        help="first N parts of each of the 5 tiles [all 9: 45 images]")
    parser.add_argument("--ratios", default=",".join(f"{r:g}" for r in DEFAULT_RATIOS),
                        help="budgets as actions per mask [%(default)s]")
    parser.add_argument("--rounds", type=int, default=3, help="expert/train rounds [3]")
    parser.add_argument("--workers", type=int, default=min(2, multiprocessing.cpu_count()),
                        help="images processed at once, one process each [2]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random baseline [0]")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the projects here (segmentation is reused on a rerun); "
                             "default: a temporary folder, removed at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = require_data(DUBAI)
    jobs = find_images(data / DUBAI, args.parts)
    if not jobs:
        print(f"no images found under {data / DUBAI}")
        return 0
    ratios = sorted(float(r) for r in args.ratios.split(",") if r.strip())
    set_thread_env(1)  # one thread per worker process, as a Dask worker has
    print(f"shared data: {shared_data_dir()}; {len(jobs)} images; budget ratios {ratios}; "
          f"{args.rounds} rounds; {args.workers} worker(s)")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mcae-bench-dubai-") as tmp:
        workdir = args.workdir or Path(tmp)
        results = run_all(jobs, workdir, ratios, args.rounds, args.seed, args.workers)
    seconds = time.perf_counter() - start
    summary = summarise(results, ratios)
    print_summary(summary, seconds)
    png = plot(summary, RESULTS_DIR / "annotation.png")
    path = write_results("annotation.json", {
        "machine": machine_info(), "settings": {**vars(args), "ratios": ratios, "gsd": GSD,
                                                "patch_size": 1024, "generator": "superpixel",
                                                "merge": MERGE},
        "seconds": seconds, "summary": summary, "images": [asdict(r) for r in results]})
    print(f"results: {path}, plot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
