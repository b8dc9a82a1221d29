"""``mcae label``: record expert decisions, from a file or a simulated expert (top level: the root
merges this app without a name)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

import typer

from mcae.platform.cli._common import ProjectOpt, QuietOpt, SchedulerOpt, WorkersOpt, console, executor, friendly_errors
from mcae.platform.cli._store import DatabaseOpt, DecisionStore, StoreCatalogOpt

if TYPE_CHECKING:
    from mcae.inference.decisions import Decision

T = TypeVar("T")
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
    from mcae.inference.decided_count import DecidedCount
    from mcae.inference.decisions import iter_decisions, mask_labels, record_decisions
    from mcae.inference.decisions_file import CheckedDecisions
    from mcae.inference.expert import SimulatedExpert
    from mcae.inference.project import Project
    from mcae.inference.reference import reference_classes

    if (reference is None) == (decisions is None):
        raise typer.BadParameter("give exactly one of --reference and --decisions")
    proj = Project.open(project)
    with DecisionStore(proj, catalog, database) as store:  # the database, if any: opened once
        expert = None
        if decisions is not None:
            # checked against groups.parquet a batch at a time, then streamed from the file again
            new: Iterable[Decision] = CheckedDecisions(decisions, proj.require(proj.groups_path, "mcae segment"))
            n_masks = _rows(proj.groups_path)
        else:
            assert reference is not None
            with executor(scheduler, workers, quiet) as run:
                ref = reference_classes(proj, reference, run)  # a byte per mask
            n_masks = _rows(proj.require(proj.groups_path, "mcae segment"))
            expert = SimulatedExpert(budget=budget)
            before = mask_labels(store.iter_decisions() if store.in_database else iter_decisions(proj))
            # a decision at a time: taken with its masks, written; groups.parquet read a batch at a
            # time, a few bytes kept per mask (never a frame of the city's masks)
            new = expert.iter_decide_project(proj, ref, before)
            del before
        source = "file" if decisions is not None else "simulated"
        counted = Counted(new)
        tally = DecidedCount()
        if store.in_database:
            store.record(counted, source)
            in_force = Counted(store.iter_decisions())
            for d in in_force:
                tally.add(d)
            everything = in_force.count
        else:
            everything = record_decisions(proj, counted, seen=tally.add)
        decided = tally.count()
    actions = expert.actions_ if expert is not None else counted.count
    proj.record_step("label", new_decisions=counted.count, decisions=everything, decided_masks=decided)
    console.print(f"[green]recorded[/] {counted.count} decisions ({actions} actions); "
                  f"{decided} of {n_masks} masks decided")


def _rows(path: Path) -> int:
    """Rows of a parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


class Counted(Generic[T]):
    """An iterable that counts the items that went through it (``count``)."""

    def __init__(self, items: Iterable[T]) -> None:
        self.items, self.count = items, 0

    def __iter__(self) -> Iterator[T]:
        for item in self.items:
            self.count += 1
            yield item
