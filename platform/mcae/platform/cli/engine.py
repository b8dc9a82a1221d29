"""``mcae segment | train | map | export-dataset | info``: the engine's steps on a project folder.

Top-level commands: the root merges this app without a name (``label``, ``groups``, ``evaluate``
and ``demo`` have modules of their own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mcae.platform.cli._common import (
    ProjectOpt,
    QuietOpt,
    SchedulerOpt,
    WorkersOpt,
    console,
    executor,
    friendly_errors,
    open_store,
)
from mcae.platform.cli._store import DatabaseOpt, DecisionStore, StoreCatalogOpt
from mcae.platform.settings import get_settings

app = typer.Typer(help="The engine's steps, from imagery to a map.")


@app.command()
@friendly_errors
def segment(
    image: Annotated[Path, typer.Argument(help="GeoTIFF (RGB, RGBA, RGB+NIR; any CRS) or plain image.")],
    project: ProjectOpt,
    gsd: Annotated[float | None, typer.Option(
        help="Ground sampling distance of the input in metres (needed without georeferencing).")] = None,
    target_gsd: Annotated[float | None, typer.Option(help="Working GSD in metres [0.6].")] = None,
    generator: Annotated[str | None, typer.Option(
        help="Mask generator: sam or superpixel. Default: sam with a checkpoint, else superpixel.")] = None,
    sam_checkpoint: Annotated[Path | None, typer.Option(help="Segment Anything checkpoint file.")] = None,
    sam_model: Annotated[str | None, typer.Option(help="vit_b, vit_l or vit_h (matching the checkpoint).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto (for SAM).")] = None,
    points_per_side: Annotated[int, typer.Option(help="SAM prompt grid per crop side.")] = 32,
    sam_option: Annotated[list[str] | None, typer.Option(
        help="Any other SAM generator setting as KEY=VALUE (repeatable), e.g. pred_iou_thresh=0.8, "
             "stability_score_thresh=0.9, min_mask_region_area=100, crop_size=1024, fine=false.")] = None,
    patch_size: Annotated[int | None, typer.Option(help="Patch size in px [1024].")] = None,
    overlap: Annotated[int | None, typer.Option(help="Overlap of neighbouring patches in px [0].")] = None,
    neighbourhood: Annotated[int | None, typer.Option(help="Neighbourhood = N x N patches [3].")] = None,
    bands: Annotated[str | None, typer.Option(
        help="Band names in file order, e.g. red,green,blue,nir or red,green,blue,alpha.")] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Cut an image into patches and masks, describe and cluster them into groups."""
    from mcae.inference.groups import build_groups
    from mcae.inference.segment import SegmentOptions, discard_new_project, prepare_project, segment_patches

    settings = get_settings()
    name = generator or ("sam" if sam_checkpoint else "superpixel")
    gen_options: dict[str, object] = {}
    if name == "sam":
        if sam_checkpoint is None:
            raise typer.BadParameter("the sam generator needs --sam-checkpoint", param_hint="--generator")
        gen_options = {"checkpoint": str(sam_checkpoint.resolve()),
                       "model_type": sam_model or settings.sam_model_type,
                       "device": device or settings.sam_device, "points_per_side": points_per_side,
                       **_parse_options(sam_option or [])}
        console.print(f"mask generator: [bold]Segment Anything[/] ({gen_options['model_type']}, "
                      f"{sam_checkpoint})")
    elif name == "superpixel":
        console.print("mask generator: [bold]superpixel[/] (embedded; give --sam-checkpoint "
                      "to use Segment Anything)")
    options = SegmentOptions(
        gsd=gsd, target_gsd=target_gsd or settings.target_gsd,
        patch_size=patch_size or settings.patch_size,
        overlap=settings.overlap if overlap is None else overlap,
        neighbourhood=neighbourhood or settings.neighbourhood, generator=name,
        generator_options=gen_options, band_names=bands.split(",") if bands else None)
    with discard_new_project(project):
        proj = prepare_project(image, project, options)
        grid, info = proj.grid, proj.scene_info
        console.print(f"{Path(info.path).name}: {info.width} x {info.height} px at {info.gsd} m "
                      f"({', '.join(info.band_names)}), {len(grid)} patches of {grid.patch_size} px, "
                      f"{len(grid.neighbourhoods())} neighbourhoods")
        with executor(scheduler, workers, quiet) as run:
            masks = segment_patches(proj, run)
            groups = build_groups(proj, run)
            n_workers = run.n_workers
    proj.record_step("segment", masks=masks, groups=groups.groups, workers=n_workers)
    console.print(f"[green]done:[/] {masks} masks, {groups.groups} groups in {project}")


@app.command()
@friendly_errors
def train(
    project: ProjectOpt,
    classifier: Annotated[str, typer.Option(help="mlp (torch) or baseline (scikit-learn).")] = "mlp",
    compare_baseline: Annotated[bool, typer.Option(
        help="Also score the scikit-learn baseline on the same hold-out split.")] = False,
    max_masks: Annotated[int | None, typer.Option(
        min=100, help="Training budget: at most this many decided masks are sampled, class-balanced, to fit "
                      "the model [MCAE_TRAIN_MAX_MASKS or 250000].")] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Train the classifier on decided masks and refresh every group's predicted class.

    Reads the decisions from the annotation database for a project it holds, else from the
    project's decisions file. Beyond 2,000 decided masks, whole neighbourhoods (or patches) are
    held out and the rest sampled class-balanced to the budget: one fit, bounded time and memory.
    Progress with an ETA; interrupted, it starts over (the model is written once, atomically).
    Runs in this process unless --scheduler or --workers (or their settings) ask for Dask, which then
    re-predicts the groups neighbourhood by neighbourhood."""
    from mcae.inference.project import Project
    from mcae.inference.train import train as train_step

    proj = Project.open(project)
    if "train" in proj.manifest.get("running", {}):
        console.print(f"an earlier training (started {proj.manifest['running']['train'].get('started')}) did not "
                      "finish; training starts over (the model is written once, when the fit ends)")
    settings = get_settings()
    budget = max_masks or settings.train_max_masks
    if (scheduler, workers, settings.scheduler, settings.workers) == (None, None, None, None):
        scheduler = "synchronous"  # no cluster's processes beside the model's: the tree stays small
    with DecisionStore(proj, catalog, database) as store:  # the database, if any: opened once
        held = store.decisions()
        with executor(scheduler, workers, quiet) as run:
            report = train_step(proj, run, classifier, compare_baseline=compare_baseline, decisions=held,
                                max_masks=budget)
        if held is not None:
            store.after_training(report, len(held))
    scores = ", ".join(f"{k} {v:.1%}" for k, v in report.holdout_accuracy.items()) or "not scored"
    scored = report.holdout
    console.print(f"[green]trained[/] {classifier} on {report.n_masks:,} masks of {len(report.classes)} classes "
                  f"({report.n_labelled:,} labelled, {report.n_sampled:,} sampled: {report.n_masks:,} fit on, "
                  f"{report.n_holdout:,} held out by {scored.get('split', 'masks')}; budget {budget:,})")
    console.print(f"hold-out accuracy: {scores}")
    if scored.get("ece") is not None:
        console.print(f"calibration on held-out masks: ECE {scored['ece_uncalibrated']:.3f} raw, "
                      f"{scored['ece']:.3f} after temperature {scored['temperature']:.2f} "
                      f"(reliability diagram: {proj.root / scored['figure']})")
    if scored.get("reason"):
        console.print(f"hold-out: {scored['reason']}")


@app.command("map")
@friendly_errors
def map_(
    project: ProjectOpt,
    out: Annotated[str, typer.Option("--out", "-o", help=(
        "Output COG path (.tif), or s3://bucket/key.tif: written and validated locally, then uploaded to "
        "the object store of the MCAE_S3_* settings."))],
    districts: Annotated[Path | None, typer.Option(
        help="GeoJSON of district boundaries: also writes one COG per district.")] = None,
    district_field: Annotated[str, typer.Option(help="Property naming each district.")] = "name",
    publish: Annotated[str | None, typer.Option(
        help="Also publish the map as layer `mcae` of this city in the catalog (with its districts and "
             "serving copy), ready for `mcae serve`.")] = None,
    catalog: Annotated[Path | None, typer.Option(
        help="Catalog for --publish (and the annotation database beside it) [MCAE_TILES__CATALOG_PATH or "
             "demo-output/catalog.json].")] = None,
    database: DatabaseOpt = None,
    quiet: QuietOpt = False,
    bounds: Annotated[str | None, typer.Option(
        help="WEST,SOUTH,EAST,NORTH of a plain image (segmented with --gsd, no georeferencing), in --crs: "
             "georeferences the map so the viewer can show it.")] = None,
    crs: Annotated[str, typer.Option(help="CRS of --bounds.")] = "EPSG:4326",
) -> None:
    """Write the land-cover map as a Cloud-Optimized GeoTIFF with the MCAE palette.

    Progress with an ETA, patch by patch; written atomically, so an interrupted map leaves the old
    file (or none) in place. Interrupted, run it again: the windows and district maps already made
    from the same inputs are kept, the rest are made."""
    from mcae.inference.mapping import write_map
    from mcae.inference.project import Project

    proj = Project.open(project)
    box = _bounds(bounds) if bounds is not None else None
    with DecisionStore(proj, catalog, database) as decisions:  # open while its decisions are read
        held = decisions.decisions()
        if out.startswith("s3://"):
            from mcae.platform.cli.publish import map_to_object_store

            map_to_object_store(proj, out, decisions=held, districts=districts, district_field=district_field,
                                publish_city=publish, catalog=catalog)
            return
        path = write_map(proj, Path(out), decisions=held, bounds=box, crs=crs, quiet=quiet, districts=districts,
                         district_field=district_field)
    step = proj.manifest["steps"]["map"]
    if step.get("kept_map"):
        console.print(f"[green]map kept:[/] {path} (an interrupted run had finished it from the same inputs)")
    else:
        resumed = f"; {step['resumed_windows']} windows kept from an interrupted run" if step.get(
            "resumed_windows") else ""
        console.print(f"[green]map written:[/] {path}{resumed}")
    for name in step.get("districts", []):
        console.print(f"  district map: {path.parent / name}")
    if publish is not None:
        from mcae.tiles.catalog import LayerKind, make_id
        from mcae.tiles.layers import publish_layer

        store = open_store(catalog)
        with console.status("publishing: writing the serving copy"):
            layer = publish_layer(store, publish, path, kind=LayerKind.mcae, layer_id="mcae",
                                  title="MCAE land cover", districts=districts, district_field=district_field,
                                  description=f"MCAE map of project {proj.root.name}")
        console.print(f"[green]published[/] as {make_id(publish)}/{layer.id} in {store.path}; "
                      f"serve it with `mcae serve --catalog {store.path}`")


def _bounds(text: str) -> tuple[float, float, float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise typer.BadParameter(f"{text!r} is not WEST,SOUTH,EAST,NORTH", param_hint="--bounds")
    return values[0], values[1], values[2], values[3]


def _parse_options(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE strings to typed values (int, float, bool or str)."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--sam-option")
        value: object = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    continue
        out[key.strip()] = value
    return out


@app.command("export-dataset")
@friendly_errors
def export_dataset(
    project: ProjectOpt,
    out: Annotated[Path | None, typer.Option("--out", "-o", help=(
        "Output folder [the project's dataset/ folder, which the server offers for download at "
        "/api/projects/{id}/dataset.zip]."))] = None,
    mode: Annotated[str, typer.Option(help="dense, sparse or both.")] = "both",
    quiet: QuietOpt = False,
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Export 1024 px image/label pairs (dense and/or sparse) with a georeferenced manifest.

    Streamed pair by pair with a progress bar and its ETA; interrupted, run it again: the pairs
    already written from the same decisions and model are kept, the rest are written.

    For a project in the annotation database: dense pairs from the patches marked fully
    checked, sparse pairs from every labelled mask."""
    from mcae.inference.dataset import MODES
    from mcae.inference.dataset import export_dataset as export
    from mcae.inference.project import Project

    modes = MODES if mode == "both" else (mode,)
    if any(m not in MODES for m in modes):
        raise typer.BadParameter("mode must be dense, sparse or both", param_hint="--mode")
    proj = Project.open(project)
    if out is None:
        from mcae.platform.annotation.routes_dataset import DATASET_DIR

        out = proj.root / DATASET_DIR
    with DecisionStore(proj, catalog, database) as store:  # the database, if any: opened once, open while read
        held, checked = store.decisions(), store.checked_patches()
        manifest = export(proj, out, modes, quiet=quiet, decisions=held, dense_patches=checked)
    skipped = f"; {manifest['resumed']} finished by an interrupted earlier run, kept" if manifest["resumed"] else ""
    console.print(f"[green]exported[/] {len(manifest['items'])} pairs ({', '.join(modes)}) to {out}{skipped}")


@app.command()
@friendly_errors
def info(project: ProjectOpt) -> None:
    """Show a project's image, grid, generator and the steps run so far."""
    from mcae.inference.project import Project

    manifest = Project.open(project).manifest
    image = manifest["image"]
    typer.echo(f"image:     {image['path']} ({', '.join(image['band_names'])})")
    typer.echo(f"grid:      {image['width']} x {image['height']} px at {image['gsd']} m, "
               f"patches of {manifest['grid']['patch_size']} px, overlap {manifest['grid']['overlap']}")
    typer.echo(f"generator: {manifest['generator']['name']}")
    typer.echo("steps:")
    for name, step in manifest["steps"].items():
        typer.echo(f"  {name}: {json.dumps(step)}")
    done, remaining = _progress_of(Project.open(project))
    typer.echo("done:      " + ("; ".join(done) or "nothing yet"))
    typer.echo("remaining: " + ("; ".join(remaining) or "nothing: every step has run"))


def _progress_of(project: Any) -> tuple[list[str], list[str]]:
    """What of the pipeline a project folder holds, and what is left (for long runs that resume)."""
    from mcae.inference.dataset import NOTES

    total = len(project.grid)
    segmented = sum(1 for p in project.grid.patches() if project.patch_table(p.id).is_file())
    done, remaining = [], []
    if segmented:
        done.append(f"segment {segmented}/{total} patches")
    if segmented < total:
        remaining.append(f"segment {total - segmented} patches (`mcae segment` resumes where it stopped)")
    elif not project.groups_path.is_file():
        remaining.append("groups (`mcae segment` again: its patches are done, it clusters)")
    else:
        done.append("groups")
    steps = project.manifest.get("steps", {})
    store = project.manifest.get("decisions_store")
    if "label" in steps or store:
        done.append("decisions " + ("in the annotation database" if store else f"{steps['label'].get('decisions')}"))
    else:
        remaining.append("label (`mcae label`, or import with `mcae projects add` and label in the web tools)")
    running = project.running
    if "train" in running:
        remaining.append(f"train: the one started {running['train'].get('started')} did not finish; `mcae train` "
                         "starts over (the model is written once, when the fit ends)")
    if project.has_model():
        trained = steps.get("train", {})
        done.append(f"train ({trained.get('masks', '?')} masks fit on of {trained.get('labelled', '?')} labelled, "
                    f"{trained.get('held_out', '?')} held out)")
    elif "train" not in running:
        remaining.append("train (`mcae train`; it starts over if interrupted: one model, written atomically)")
    if "map" in running:
        remaining.append(_map_left(running["map"]))
    elif "map" in steps:
        done.append(f"map ({steps['map'].get('out')})")
    if "export-dataset" in running:
        info = running["export-dataset"]
        kept = len(list(Path(info.get("out", "")).joinpath(NOTES).glob("*.json"))) if info.get("out") else 0
        remaining.append(f"export-dataset to {info.get('out')}: interrupted after {kept} of {info.get('pairs', '?')} "
                         "pairs; the same command resumes (finished pairs are kept)")
    elif "export-dataset" in steps:
        exported = steps["export-dataset"]
        done.append(f"export-dataset ({exported.get('pairs')} pairs in {exported.get('out')})")
    remaining.append("map / export-dataset again whenever the decisions or the model change")
    return done, remaining


def _map_left(info: dict[str, Any]) -> str:
    """What an interrupted ``mcae map`` left to do (its saved windows, its district maps)."""
    from mcae.inference.map_parts import MapParts, parts_folder
    from mcae.inference.mapping import map_inputs

    out = Path(str(info.get("out", "")))
    folder = parts_folder(out)
    saved = sum(1 for _ in folder.glob("*.part")) if MapParts.saved_digest(folder) == info.get("digest") else 0
    if info.get("digest") and map_inputs(out) == info.get("digest"):
        where = f"its city map is written, district maps from {info.get('districts')} remain"
    else:
        where = f"{saved} of {info.get('windows', '?')} windows done"
    return (f"map {out}: interrupted ({where}); the same `mcae map` resumes (what is done from the same "
            "decisions and model is kept)")
