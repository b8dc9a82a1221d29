"""``mcae groups``: the groups an expert labels, as a table (top level: the root merges this app
without a name)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mcae.platform.cli._common import ProjectOpt, console, friendly_errors, stdout
from mcae.platform.cli._store import DatabaseOpt, DecisionStore, StoreCatalogOpt

app = typer.Typer(help="The groups an expert labels.")


@app.command()
@friendly_errors
def groups(
    project: ProjectOpt,
    neighbourhood: Annotated[str | None, typer.Option(help="Only this neighbourhood.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (0: all of them).", min=0)] = 30,
    show_all: Annotated[bool, typer.Option("--all", help="Show every group (same as --limit 0).")] = False,
    catalog: StoreCatalogOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Show the groups an expert labels, as `index/of, (score range), {class mix}`.

    The table goes to stdout (so `| head` and `> file` work); notes go to stderr."""
    from mcae.inference.decisions import iter_decisions, mask_labels
    from mcae.inference.groups import describe_group, group_summary
    from mcae.inference.project import Project

    proj = Project.open(project)
    with DecisionStore(proj, catalog, database) as store:  # open while its decisions are read
        held = store.decisions()
        labels = mask_labels(iter_decisions(proj) if held is None else held)["class_id"]
    summary = group_summary(proj.groups(), labels)
    if neighbourhood:
        summary = summary[summary["neighbourhood"] == neighbourhood]
    shown = summary if show_all or limit == 0 else summary.head(limit)
    table = Table("neighbourhood", "group", "masks", "decided", "view")
    for _, row in shown.iterrows():
        table.add_row(row["neighbourhood"], row["group"], str(row["size"]), str(row["decided"]),
                      describe_group(row))
    stdout.print(table)
    if len(shown) < len(summary):
        console.print(f"showing the first {len(shown)} of {len(summary)} groups: --limit N or --all for more")
    console.print(f"{len(summary)} groups; group x-y is cluster x split by the class y predicted when it was "
                  "made (0 = Unknown: no model then); retraining keeps groups, it updates predictions")
