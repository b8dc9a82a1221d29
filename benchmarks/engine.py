"""Engine benchmark: seconds per patch of every stage, and peak memory against scene size.

Run from the repository root::

    .venv/bin/python -m benchmarks.engine            # or: .venv/bin/python benchmarks/engine.py

1. Stage timings. The real pipeline (``prepare_project``, ``segment_patches``,
   ``build_groups``, one simulated-expert round, ``train``, ``write_map``) runs on
   ``oem_koeln_50.tif`` with the synchronous scheduler, while the engine's own functions
   are wrapped with timers (exclusive time: a stage never counts the stages it calls).
   The expert labels from a *pseudo* reference made from mask colours: it only gives the
   classifier a realistic number of labelled masks and classes to fit, not an accuracy.
   One untimed warm-up run comes first (imports, caches); then ``--repeats`` runs in
   fresh projects, and the median per stage is reported, divided by the patch count.
2. Peak memory. The scene and k x k mosaics of it (k = 2: 4x the pixels; k = 3: 9x; same
   CRS, contiguous transform) are written alike into a temporary folder; the whole
   ``segment`` step (``prepare_project`` + ``segment_patches`` + ``build_groups``,
   synchronous) runs on each in a fresh subprocess whose own peak RSS (``VmHWM``) is
   reported, also after the imports and after each patch. Target: peak(4x) / peak(1x)
   <= 1.2, i.e. memory bounded by the window, not the scene.

Results: printed, and written to ``benchmarks/results/engine.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    limit_threads,
    machine_info,
    require_data,
    set_thread_env,
    shared_data_dir,
    write_results,
)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_IMAGE = "imagery/oem_koeln_50.tif"
MEMORY_TARGET = 1.2
LABEL_SHARE = 0.1  # expert actions per mask in the timed labelling round

# (key, label); "masks" is the stage every other one is compared with.
STAGES: list[tuple[str, str]] = [
    ("read", "read (window read + resample)"),
    ("masks", "mask generation (superpixel)"),
    ("features", "features"),
    ("patch_write", "patch raster + table write"),
    ("segment_other", "segment bookkeeping (tables, index)"),
    ("clustering", "clustering (per neighbourhood)"),
    ("groups_io", "groups: read tables, write groups"),
    ("training", "classifier training (final fit)"),
    ("holdout", "hold-out check (one more fit, train default)"),
    ("prediction", "prediction (refresh every group)"),
    ("map", "map writing (COG)"),
]


# -- timing -------------------------------------------------------------------------------

class StageTimer:
    """Exclusive wall time per stage: a timed call's time minus that of timed calls inside."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._children: list[float] = []

    def wrap(self, stage: str, fn: F) -> F:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._children.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._children.pop()
                self.seconds[stage] += elapsed - inner
                self.calls[stage] += 1
                if self._children:
                    self._children[-1] += elapsed

        return timed  # type: ignore[return-value]


@contextmanager
def instrumented(timer: StageTimer) -> Iterator[None]:
    """Wrap the engine's stage functions with ``timer`` (synchronous scheduler only)."""
    from mcae.inference import groups, mapping, segment, train
    from mcae.inference.clustering import NeighbourhoodClusterer
    from mcae.inference.imagery import RasterScene
    from mcae.inference.masks.superpixel import SuperpixelMaskGenerator

    targets: list[tuple[Any, str, str]] = [
        (RasterScene, "read_source", "read"),
        (SuperpixelMaskGenerator, "generate", "masks"),
        (segment, "compute_features", "features"),
        (segment, "_write_mask_raster", "patch_write"),
        (segment, "_write_table", "patch_write"),
        (segment, "process_patch", "segment_other"),
        (segment, "write_parquet_stream", "segment_other"),
        (NeighbourhoodClusterer, "fit", "clustering"),
        (groups, "build_groups", "groups_io"),
        (train, "train", "training"),
        (train, "_holdout", "holdout"),
        (train, "refresh_predictions", "prediction"),
        (mapping, "write_map", "map"),
    ]
    with ExitStack() as stack:
        for owner, name, stage in targets:
            stack.enter_context(mock.patch.object(owner, name,
                                                  timer.wrap(stage, getattr(owner, name))))
        yield


@dataclass
class PipelineRun:
    seconds: dict[str, float]
    patches: int
    neighbourhoods: int
    masks: int
    labelled_masks: int
    actions: int
    wall_seconds: float


def pseudo_reference(project: Any) -> Any:
    """A stand-in expert's classes from mask colour (only to give training realistic work)."""
    import numpy as np

    from mcae.inference.segment import read_patch_tables

    table = read_patch_tables(project, [p.id for p in project.grid.patches()])
    exg, lum = table["colour_exg_mean"], table["colour_luminance_mean"]
    blue = table["colour_blue_ratio_mean"]
    classes = np.select([exg > 0.04, blue > 0.36, lum > 150, lum < 80], [5, 6, 8, 4], default=1)
    out = table[["patch", "mask_id"]].copy()
    out["ref_class"] = classes.astype(int)
    return out


def run_pipeline(image: Path, workdir: Path, patch_size: int,
                 timer: StageTimer | None = None) -> PipelineRun:
    """segment -> groups -> one expert round -> train -> map, all in this process."""
    from mcae.inference import groups as groups_mod
    from mcae.inference import mapping, segment
    from mcae.inference import train as train_mod
    from mcae.inference.compute import executor
    from mcae.inference.decisions import mask_labels, record_decisions, resolve
    from mcae.inference.expert import SimulatedExpert

    timer = timer or StageTimer()
    start = time.perf_counter()
    with instrumented(timer), executor("synchronous", quiet=True) as run:
        options = segment.SegmentOptions(patch_size=patch_size, generator="superpixel")
        project = segment.prepare_project(image, workdir / "project", options)
        masks = segment.segment_patches(project, run)
        groups_mod.build_groups(project, run)
        groups = project.groups()
        expert = SimulatedExpert(budget=max(1, math.ceil(LABEL_SHARE * len(groups))))
        decisions = resolve(expert.decide(groups, pseudo_reference(project)), groups)
        labelled = len(mask_labels(record_decisions(project, decisions)))
        train_mod.train(project, run)  # what `mcae train` runs (hold-out check included)
        mapping.write_map(project, workdir / "map.tif")
    return PipelineRun(dict(timer.seconds), len(project.grid), len(project.grid.neighbourhoods()),
                       masks, labelled, expert.actions_, time.perf_counter() - start)


@dataclass
class StageReport:
    image: str
    patch_size: int
    patches: int
    neighbourhoods: int
    masks: int
    labelled_masks: int
    actions: int
    repeats: int
    per_patch_s: dict[str, float]  # median over repeats
    runs_s: list[dict[str, float]] = field(default_factory=list)  # totals of each repeat
    wall_s: list[float] = field(default_factory=list)

    @property
    def others_over_masks(self) -> float:
        others = sum(v for k, v in self.per_patch_s.items() if k != "masks")
        return others / self.per_patch_s["masks"] if self.per_patch_s.get("masks") else math.nan


def time_stages(image: Path, patch_size: int, repeats: int) -> StageReport:
    """A warm-up run, then ``repeats`` timed runs in fresh projects."""
    runs: list[PipelineRun] = []
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(f"{image.name}: warm-up + {repeats} timed runs", total=repeats + 1)
        for i in range(repeats + 1):
            with tempfile.TemporaryDirectory(prefix="mcae-bench-") as tmp:
                result = run_pipeline(image, Path(tmp), patch_size)
            if i > 0:
                runs.append(result)
            bar.advance(task)
    first = runs[0]
    per_patch = {key: statistics.median(r.seconds.get(key, 0.0) for r in runs) / first.patches
                 for key, _ in STAGES}
    return StageReport(
        image=image.name, patch_size=patch_size, patches=first.patches,
        neighbourhoods=first.neighbourhoods, masks=first.masks,
        labelled_masks=first.labelled_masks, actions=first.actions, repeats=repeats,
        per_patch_s=per_patch, runs_s=[r.seconds for r in runs],
        wall_s=[round(r.wall_seconds, 2) for r in runs])


def print_stages(report: StageReport) -> None:
    from rich.console import Console
    from rich.table import Table

    total = sum(report.per_patch_s.values())
    masks = report.per_patch_s["masks"]
    table = Table(title=(f"{report.image}: {report.patches} patches of {report.patch_size} px, "
                         f"{report.neighbourhoods} neighbourhood(s), {report.masks} masks, "
                         f"{report.labelled_masks} labelled by {report.actions} actions; "
                         f"median of {report.repeats} runs"))
    table.add_column("stage")
    table.add_column("s / patch", justify="right")
    table.add_column("share", justify="right")
    table.add_column("x masks", justify="right")
    for key, label in STAGES:
        value = report.per_patch_s[key]
        table.add_row(label, f"{value:.3f}", f"{value / total:.1%}",
                      f"{value / masks:.2f}" if masks else "-")
    table.add_row("total", f"{total:.3f}", "100.0%", f"{total / masks:.2f}" if masks else "-")
    console = Console(width=120)
    console.print(table)
    console.print(f"everything else / mask generation = {report.others_over_masks:.2f} "
                  f"({total - masks:.3f} s vs {masks:.3f} s per patch); "
                  f"wall time per run: {', '.join(f'{w:.1f} s' for w in report.wall_s)}")


# -- peak memory ---------------------------------------------------------------------------

def write_mosaic(source: Path, out: Path, tiles: int) -> Path:
    """``tiles`` x ``tiles`` copies of ``source`` side by side: same CRS, contiguous grid."""
    import numpy as np
    import rasterio

    with rasterio.open(source) as src:
        data = src.read()
        profile = {"driver": "GTiff", "dtype": data.dtype.name, "count": src.count,
                   "width": src.width * tiles, "height": src.height * tiles, "crs": src.crs,
                   "transform": src.transform, "nodata": src.nodata, "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "compress": "deflate",
                   "interleave": "pixel"}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.tile(data, (1, tiles, tiles)))
    return out


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this program's own
    address space. ``ru_maxrss`` would do elsewhere, but on Linux it also keeps the RSS of
    the parent's address space that the child had before ``exec`` (a large parent hides a
    small child's peak).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    scale = 1 if sys.platform.startswith("linux") else 1024  # macOS reports bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / scale


def memory_child(image: Path, project_dir: Path, patch_size: int) -> None:
    """Run the ``segment`` step here and print this process's peak RSS (JSON, last line)."""
    from mcae.inference import segment
    from mcae.inference.compute import executor
    from mcae.inference.groups import build_groups
    from mcae.inference.masks import available_generators

    available_generators()  # loads the generator modules (and torch) before the baseline
    baseline = peak_rss_mib()
    after_patch: list[float] = []
    process_patch = segment.process_patch

    def tracked(*args: Any, **kwargs: Any) -> Any:
        result = process_patch(*args, **kwargs)
        after_patch.append(round(peak_rss_mib(), 1))
        return result

    start = time.perf_counter()
    project = segment.prepare_project(image, project_dir,
                                      segment.SegmentOptions(patch_size=patch_size))
    with mock.patch.object(segment, "process_patch", tracked), \
            executor("synchronous", quiet=True) as run:
        masks = segment.segment_patches(project, run)
        after_segment = peak_rss_mib()
        build_groups(project, run)
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak_rss_mib(),
                      "peak_after_patches_mib": after_segment, "peak_after_each_patch": after_patch,
                      "patches": len(project.grid), "masks": masks,
                      "width": project.scene_info.width, "height": project.scene_info.height,
                      "seconds": time.perf_counter() - start}))


def run_memory_child(image: Path, project_dir: Path, patch_size: int) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(image),
               "--child-project", str(project_dir), "--memory-patch-size", str(patch_size)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory run on {image.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory(source: Path, patch_size: int, scales: list[int]) -> dict[str, Any]:
    """Peak RSS of the segment step on ``k`` x ``k`` mosaics of the scene, k in ``scales``."""
    from rich.progress import Progress

    scales = sorted(set(scales) | {1, 2})  # the target compares 2 x 2 with 1 x 1
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mcae-bench-mem-") as tmp, \
            Progress(transient=True) as bar:
        task = bar.add_task("peak memory: segment step per scene size", total=len(scales))
        for k in scales:
            name = f"{k * k}x"
            image = write_mosaic(source, Path(tmp) / f"scene_{name}.tif", k)
            runs[name] = run_memory_child(image, Path(tmp) / f"project_{name}", patch_size)
            bar.advance(task)
    one, four = runs["1x"], runs["4x"]
    above = [r["peak_mib"] - r["baseline_mib"] for r in (one, four)]
    ratio = four["peak_mib"] / one["peak_mib"]
    return {"source": source.name, "patch_size": patch_size, "runs": runs,
            "peak_ratio": ratio, "above_baseline_ratio": above[1] / above[0] if above[0] else None,
            "target": MEMORY_TARGET, "passed": ratio <= MEMORY_TARGET}


def print_memory(memory: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=(f"peak RSS of the segment step (synchronous, patch {memory['patch_size']}"
                         f" px), {memory['source']} and its k x k mosaics"))
    for column in ("scene", "working grid", "patches", "masks", "after imports MiB",
                   "after 1st patch", "after last patch", "peak MiB", "peak - imports",
                   "seconds"):
        table.add_column(column, justify="right")
    for name, run in memory["runs"].items():
        per_patch = run["peak_after_each_patch"]
        table.add_row(name, f"{run['width']} x {run['height']}", str(run["patches"]),
                      str(run["masks"]), f"{run['baseline_mib']:.0f}", f"{per_patch[0]:.0f}",
                      f"{per_patch[-1]:.0f}", f"{run['peak_mib']:.0f}",
                      f"{run['peak_mib'] - run['baseline_mib']:.0f}", f"{run['seconds']:.1f}")
    console = Console(width=120)
    console.print(table)
    verdict = "PASS" if memory["passed"] else "FAIL"
    above = memory["above_baseline_ratio"]
    console.print(f"peak 4x / peak 1x = {memory['peak_ratio']:.2f} (target <= "
                  f"{memory['target']}): [bold]{verdict}[/]; above-imports ratio = "
                  f"{'n/a' if above is None else f'{above:.2f}'}")


# -- main ----------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", action="append", type=Path,
                        help=f"image to time (repeatable; default {DEFAULT_IMAGE} of the shared "
                             "data); relative paths are taken in the shared data folder")
    parser.add_argument("--all-imagery", action="store_true",
                        help="time every imagery/*.tif of the shared data")
    parser.add_argument("--patch-size", type=int, default=512,
                        help="patch size of the timing runs (512: 4 patches on Koeln) [512]")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per image [3]")
    parser.add_argument("--memory-patch-size", type=int, default=1024,
                        help="patch size of the memory runs (the engine's default) [1024]")
    parser.add_argument("--memory-scales", default="1,2,3",
                        help="k of the k x k mosaics whose memory is measured (1 and 2 always) "
                             "[1,2,3]")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP/torch threads (1 = as a Dask worker; 0 = library "
                             "defaults) [1]")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-project", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def resolve_images(args: argparse.Namespace, data: Path) -> list[Path]:
    if args.all_imagery:
        return sorted((data / "imagery").glob("*.tif"))
    images = args.image or [Path(DEFAULT_IMAGE)]
    return [p if p.is_absolute() else data / p for p in images]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    threads = args.threads or None
    if args.memory_child:  # internal: one memory run in this fresh process
        limit_threads(threads)
        memory_child(args.memory_child, args.child_project, args.memory_patch_size)
        return 0
    data = require_data(DEFAULT_IMAGE)
    if threads:
        set_thread_env(threads)  # also for the memory subprocesses
    limit_threads(threads)
    print(f"shared data: {shared_data_dir()}; threads: {threads or 'library defaults'}")
    out: dict[str, Any] = {"machine": machine_info(), "threads": threads, "stages": []}
    if not args.skip_timing:
        for image in resolve_images(args, data):
            report = time_stages(image, args.patch_size, args.repeats)
            print_stages(report)
            out["stages"].append({**asdict(report), "others_over_masks": report.others_over_masks,
                                  "stage_labels": dict(STAGES)})
    if not args.skip_memory:
        scales = [int(k) for k in args.memory_scales.split(",") if k.strip()]
        memory = measure_memory(data / DEFAULT_IMAGE, args.memory_patch_size, scales)
        print_memory(memory)
        out["memory"] = memory
    path = write_results("engine.json", out)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
