"""``mcae demo``: a synthetic city through the whole pipeline, start to finish.

Writes into one folder (every file says it is synthetic)::

    imagery.tif        RGB COG of the synthetic city (0.6 m, UTM 50N near Nanjing)
    reference.tif      its true land cover (MCAE ids, paletted COG)
    mcae.tif           the MCAE map made by the pipeline with a simulated expert
    mcae_<district>.tif  the same map per district
    sinolc1.tif        a SinoLC-1-format stand-in at 1 m (EPSG:4326, SinoLC-1 palette)
    districts.geojson  district boundaries (EPSG:4326)
    city.json          what is where, with provenance
    preview.png        imagery, MCAE map and SinoLC-1 stand-in side by side
    evaluation/        accuracy of mcae.tif against reference.tif (JSON, CSV, PNG)
    project/           the MCAE project folder (masks, groups, decisions, model)
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcae.inference.atomic import write_json
from mcae.inference.compute import executor
from mcae.inference.decisions import iter_decisions, iter_resolved, mask_labels, record_decisions
from mcae.inference.demo.city_cogs import write_city_cogs
from mcae.inference.demo.city_geo import CITY, CRS_UTM50, GSD, SYNTHETIC
from mcae.inference.demo.preview import write_preview
from mcae.inference.demo.tiled import write_city
from mcae.inference.districts import clip_districts
from mcae.inference.evaluate import evaluate_rasters
from mcae.inference.expert import COLUMNS as EXPERT_COLUMNS
from mcae.inference.expert import SimulatedExpert
from mcae.inference.groups import build_groups
from mcae.inference.mapping import write_map
from mcae.inference.reference import reference_per_mask
from mcae.inference.segment import SegmentOptions, prepare_project, segment_patches
from mcae.inference.train import train


@dataclass
class DemoOptions:
    out: Path = Path("demo-output")
    size: int = 2048
    seed: int = 7
    budget: int | None = None  # expert actions; default one per 10 masks
    rounds: int = 3
    scheduler: str | None = None
    workers: int | None = None
    quiet: bool = False


def run_demo(options: DemoOptions, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Build the city, run segment, label/train rounds, map, compare; return a summary."""
    start = time.perf_counter()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    districts = _scene(out, options, log)

    seg = SegmentOptions(generator="superpixel")
    project = prepare_project(out / "imagery.tif", out / "project", seg)
    project.manifest["synthetic"] = SYNTHETIC
    project.save()
    log("mask generator: superpixel (embedded; the demo has no Segment Anything checkpoint)")
    with executor(options.scheduler, options.workers, options.quiet) as run:
        masks = segment_patches(project, run)
        groups = build_groups(project, run)
        reference = reference_per_mask(project, out / "reference.tif", run)
        budget = options.budget or max(1, groups.masks // 10)
        project.decisions_path.unlink(missing_ok=True)  # a resumed demo's expert starts over
        spent = 0
        for round_no in range(1, options.rounds + 1):
            share = math.ceil(budget * round_no / options.rounds) - spent
            expert = SimulatedExpert(budget=share)
            decided = mask_labels(iter_decisions(project))
            table = project.groups(columns=list(EXPERT_COLUMNS))
            # taken, resolved and written a decision at a time: never a list of a city's decisions
            record_decisions(project, iter_resolved(expert.iter_decide(table, reference, decided), table))
            del table, decided
            spent += expert.actions_
            last = round_no == options.rounds
            report = train(project, run, compare_baseline=last, holdout=last)
            log(f"round {round_no}: {expert.actions_} expert actions ({spent}/{budget}), "
                f"classifier trained on {report.n_masks} masks")
    project.record_step("demo", masks=masks, actions=spent, budget=budget)
    mcae_map = write_map(project, out / "mcae.tif")
    district_maps = clip_districts(mcae_map, out / "districts.geojson", out)
    accuracy = evaluate_rasters(mcae_map, out / "reference.tif")
    accuracy.write(out / "evaluation")
    log(accuracy.summary())
    summary = {
        "city": CITY, "provenance": SYNTHETIC, "crs": CRS_UTM50.to_string(),
        "size_px": options.size, "gsd_m": GSD, "masks": masks,
        "expert_actions": spent, "overall_accuracy": accuracy.overall_accuracy,
        "kappa": accuracy.kappa, "districts": districts,
        "layers": {"imagery": "imagery.tif", "mcae": mcae_map.name,
                   "sinolc1": "sinolc1.tif", "reference": "reference.tif"},
        "district_maps": [p.name for p in district_maps],
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_preview(out, out / "preview.png")
    write_json(out / "city.json", summary)
    (out / "README.txt").write_text(f"{CITY}\n\nEverything in this folder is {SYNTHETIC}.\n"
                                    f"{run_demo.__module__} wrote it; see city.json.\n")
    return summary


SCENE_FILES = ("imagery.tif", "reference.tif", "sinolc1.tif", "districts.geojson")


def _scene(out: Path, options: DemoOptions, log: Callable[[str], Any]) -> list[str]:
    """Build the city's scene, or reuse the one an earlier run of the same size and seed finished
    (``scene.json``, written last, says so): a city of 40,960 px takes most of an hour to draw.
    Returns the districts' names."""
    stamp = {"size": options.size, "seed": options.seed, "synthetic": SYNTHETIC}
    done = out / "scene.json"
    if done.is_file() and all((out / name).is_file() for name in SCENE_FILES):
        kept = json.loads(done.read_text())
        if {k: kept.get(k) for k in stamp} == stamp:
            log(f"the synthetic city of {options.size} x {options.size} px (seed {options.seed}) is built "
                "already: reused (remove scene.json to draw it again)")
            shutil.rmtree(out / ".scene", ignore_errors=True)
            return list(kept["districts"])
    done.unlink(missing_ok=True)
    log(f"building a synthetic city of {options.size} x {options.size} px at {GSD} m ...")
    tags = {"MCAE_SYNTHETIC": SYNTHETIC, "MCAE_CITY": CITY}
    raw = out / ".scene"  # the scene, window by window (any size fits); rows kept if stopped part way
    districts = list(write_city(raw, options.size, seed=options.seed, sinolc1=True,
                                quiet=options.quiet)["districts"])
    log("writing the scene's Cloud-Optimized GeoTIFFs ...")
    write_city_cogs(raw, out, tags)
    os.replace(raw / "districts.geojson", out / "districts.geojson")
    write_json(done, {**stamp, "districts": districts})
    shutil.rmtree(raw, ignore_errors=True)
    return districts
