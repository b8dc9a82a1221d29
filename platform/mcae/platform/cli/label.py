"""``mcae label``: record expert decisions, from a file or a simulated expert (top level: the root
merges this app without a name)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mcae.platform.cli._common import ProjectOpt, QuietOpt, SchedulerOpt, WorkersOpt, console, executor, friendly_errors
from mcae.platform.cli._store import DatabaseOpt, DecisionStore, StoreCatalogOpt

app = typer.Typer(help="Expert decisions.")


@app.command()
@friendly_errors
def label(
    project: ProjectOpt,
    reference: Annotated[Path | None, typer.Option(
        help="Reference raster of MCAE ids (0 ignored) on the image's grid: a simulated "
             "expert labels groups from it.")] = None,
    budget: Annotated[int | None, typer.Option(help="Most actions the simulated expert takes.")] = None,
    decisions: Annotated[Path | None, typer.Option(
        help="Decisions made elsewhere (JSON Lines or a JSON list).")] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Record expert decisions: from a file, or from a simulated expert and a reference.

    For a project in the annotation database the decisions go there, recorded as the API records
    a Load: by the database's `engine` user, at the time they are recorded."""
    from mcae.inference.decisions import (
        load_decisions_file,
        mask_labels,
        read_decisions,
        record_decisions,
        resolve,
    )
    from mcae.inference.expert import COLUMNS, SimulatedExpert
    from mcae.inference.project import Project
    from mcae.inference.reference import reference_per_mask

    if (reference is None) == (decisions is None):
        raise typer.BadParameter("give exactly one of --reference and --decisions")
    proj = Project.open(project)
    groups = proj.groups(columns=list(COLUMNS))  # what the expert and resolve read, not the probabilities
    with DecisionStore(proj, catalog, database) as store:  # the database, if any: opened once
        if decisions is not None:
            new = resolve(load_decisions_file(decisions), groups)
            actions = len(new)
        else:
            assert reference is not None
            with executor(scheduler, workers, quiet) as run:
                ref = reference_per_mask(proj, reference, run)
            expert = SimulatedExpert(budget=budget)
            held = store.decisions()
            before = read_decisions(proj) if held is None else held
            new = resolve(expert.decide(groups, ref, mask_labels(before)), groups)
            actions = expert.actions_
        source = "file" if decisions is not None else "simulated"
        everything = store.record(new, source) if store.in_database else record_decisions(proj, new)
    labels = mask_labels(everything)
    total = len(groups)
    proj.record_step("label", new_decisions=len(new), decisions=len(everything),
                     decided_masks=len(labels))
    console.print(f"[green]recorded[/] {len(new)} decisions ({actions} actions); "
                  f"{len(labels)} of {total} masks decided")
