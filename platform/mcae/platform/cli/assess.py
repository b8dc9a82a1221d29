"""``mcae assess``: map accuracy assessment by good practice (Olofsson et al. 2014).

design (a stratified random sample of a published layer), import (a sample labelled
elsewhere), label (from a reference raster: tests and benchmarks only), report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mcae.inference.errors import InputError
from mcae.platform.cli._common import console, friendly_errors, open_store
from mcae.platform.cli._store import DatabaseOpt, StoreCatalogOpt

if TYPE_CHECKING:
    from mcae.platform.annotation.db import Database

app = typer.Typer(help="Map accuracy: stratified samples, blind labels, accuracy and areas with 95 % intervals.",
                  no_args_is_help=True)

SampleOpt = Annotated[int, typer.Option("--sample", help="The sample's id.")]


def _db(catalog: Path | None, database: str | None) -> Database:
    from mcae.platform.cli._common import command_database

    return command_database(catalog, database)


def _expected(values: list[str]) -> dict[int, float]:
    out = {}
    for item in values:
        key, _, value = item.partition("=")
        try:
            out[int(key)] = float(value)
        except ValueError:
            raise InputError(f"--expected-ua takes CLASS=VALUE (e.g. 3=0.8), not {item!r}") from None
        if not 0 < out[int(key)] <= 1:
            raise InputError(f"--expected-ua {item}: a user's accuracy is a proportion in (0, 1]")
    return out


@app.command()
@friendly_errors
def design(
    city: Annotated[str, typer.Option(help="Catalog city.")],
    layer: Annotated[str, typer.Option(help="Catalog layer (a map of classes).")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed on the same map version gives the same sample.")],
    points: Annotated[int | None, typer.Option(help="Sample size.")] = None,
    target_se: Annotated[float | None, typer.Option(help="Target standard error of overall accuracy.")] = None,
    min_per_class: Annotated[int, typer.Option(help="Minimum points per class.")] = 50,
    expected_ua: Annotated[list[str] | None, typer.Option(help="CLASS=VALUE expected user's accuracy.")] = None,
    second_share: Annotated[float, typer.Option(help="Share of points for a second expert.")] = 0.1,
    out: Annotated[Path | None, typer.Option(help="Write design.json and sample.csv here.")] = None,
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Draw a stratified random sample (strata: the map's classes) from the published layer."""
    from mcae.platform.annotation import assess_design
    from mcae.platform.annotation.importer import system_user

    if (points is None) == (target_se is None):
        raise InputError("give --points N or --target-se SE")
    store = open_store(catalog)
    db = _db(catalog, database)
    try:
        with db.session() as session:
            sample, rows = assess_design.draw(session, store, city, layer, seed=seed, points=points,
                                              target_se=target_se, min_per_class=min_per_class,
                                              expected_ua=_expected(expected_ua or []), second_share=second_share,
                                              user_id=system_user(session).id)
            session.flush()
            ident, version = sample.id, sample.map_version
            files = assess_design.write_design(out, sample, rows) if out else []
    finally:
        db.dispose()
    typer.echo(f"sample {ident}: {len(rows)} points from {city}/{layer} version {version}")
    for f in files:
        console.print(f"wrote {f}")


@app.command(name="import")
@friendly_errors
def import_(
    city: Annotated[str, typer.Option(help="Catalog city.")],
    layer: Annotated[str, typer.Option(help="Catalog layer.")],
    design_file: Annotated[Path, typer.Option("--design", help="design.json: map_version and strata sizes.")],
    points_file: Annotated[Path, typer.Option("--points", help="CSV or GeoJSON of the points (and labels).")],
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Import a sample labelled elsewhere (column/property ``reference``), with its design stated."""
    from mcae.platform.annotation import assess_design
    from mcae.platform.annotation.importer import system_user

    try:
        stated = json.loads(design_file.read_text())
        data = points_file.read_bytes()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the design or the points: {exc}") from None
    db = _db(catalog, database)
    try:
        with db.session() as session:
            sample = assess_design.import_sample(session, city=city, layer=layer, design=stated,
                                                 points=assess_design.read_points(points_file.name, data),
                                                 user_id=system_user(session).id)
            session.flush()
            typer.echo(f"sample {sample.id}: {sample.points_total} points imported, {sample.labelled} labelled")
    finally:
        db.dispose()


@app.command()
@friendly_errors
def label(
    sample: SampleOpt,
    reference: Annotated[Path, typer.Option(help="A reference raster of classes.")],
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Label the unlabelled points from a reference raster: a SIMULATED response, for tests and
    benchmarks only (the report says so)."""
    from mcae.inference.assessment.response import reference_classes
    from mcae.platform.annotation.assess_service import label_from_reference, sample_locations
    from mcae.platform.annotation.importer import system_user

    if not reference.is_file():
        raise InputError(f"{reference.name}: no such reference raster")
    db = _db(catalog, database)
    try:
        with db.reader() as session:
            locations = sample_locations(session, sample)
        if not locations:
            raise InputError(f"assessment sample {sample} has no point")
        classes = reference_classes(str(reference), locations)  # read with no write lock held
        with db.session() as session:
            added = label_from_reference(session, sample, classes, system_user(session).id)
    finally:
        db.dispose()
    typer.echo(f"sample {sample}: {added} points labelled from {reference.name} (simulated response: tests and "
               "benchmarks only)")


@app.command()
@friendly_errors
def report(
    sample: SampleOpt,
    out: Annotated[Path | None, typer.Option(help="Write report.json, report.csv and PNG figures here.")] = None,
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Error matrix, overall/user's/producer's accuracy and class areas with 95 % intervals."""
    from mcae.platform.annotation.assess_service import sample_report

    db = _db(catalog, database)
    try:
        with db.reader() as session:
            result = sample_report(session, sample)
    finally:
        db.dispose()
    oa = result["overall_accuracy"]
    if oa["estimate"] is None:
        typer.echo(f"sample {sample}: no labelled point yet")
    else:
        typer.echo(f"sample {sample} (version {result['version']}): OA {100 * oa['estimate']:.1f} % ± "
                   f"{100 * oa['ci95']:.1f} (95 % CI), {result['n']} points, {result['cant_tell']} can't tell"
                   + (" - SIMULATED response from a reference raster" if result["simulated"] else "")
                   + ("" if result["sample"]["independent"] else " - NOT independent: draw a new sample"))
    from mcae.platform.annotation.assess_service import published_figures
    from mcae.tiles.assessments import record_figures

    store = open_store(catalog)
    if result["n"] and result["version"]:
        sample_info = result["sample"]
        record_figures(store.root, sample_info["city"], sample_info["layer"], result["version"],
                       published_figures(result))  # the STAC item of that version carries them
    if out is not None:
        from mcae.inference.assessment.report import write_report
        from mcae.inference.classes import MCAE

        names = {c.id: c.name for c in MCAE}
        for f in write_report(result, out, names):
            console.print(f"wrote {f}")
    else:
        typer.echo(json.dumps({k: result[k] for k in ("overall_accuracy", "n", "cant_tell", "version")}))
