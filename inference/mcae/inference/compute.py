"""Running per-patch and per-neighbourhood work in parallel through Dask.

``scheduler=None`` starts a local Dask cluster (processes, one thread each);
``"synchronous"`` runs everything in this process (debugging, benchmarks of peak
memory); any other value is the address of a running ``distributed`` scheduler,
whose workers must see the same project folder and image paths.
Results never depend on the number of workers: every task is a pure function of
its inputs and results are returned in input order. A worker lost while it runs (or
holds) a task is survived: the scheduler runs that task again elsewhere, which the
tasks allow since they only write their own files, atomically, with the same bytes.
The process that drives the work also runs with one thread per library (BLAS, OpenMP,
torch), as every worker does, so what it computes itself (the classifier's training)
does not depend on the cores of the machine it runs on or on the scheduler chosen.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
R = TypeVar("R")


def progress_bar(quiet: bool = False) -> Progress:
    """Done of total, time so far and the time left (ETA) of a long step."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=quiet, transient=False)


class Executor:
    """Maps a function over items, in order, with a progress bar."""

    def __init__(self, client: Any | None, quiet: bool = False) -> None:
        self.client = client
        self.quiet = quiet

    @property
    def n_workers(self) -> int:
        if self.client is None:
            return 1
        return len(self.client.scheduler_info().get("workers", {})) or 1

    def map(self, fn: Callable[..., R], items: Sequence[T], description: str,
            **kwargs: Any) -> list[R]:
        with progress_bar(self.quiet) as bar:
            task = bar.add_task(description, total=len(items))
            if self.client is None:
                out = []
                for item in items:
                    out.append(fn(item, **kwargs))
                    bar.advance(task)
                return out
            from distributed import as_completed

            futures = self.client.map(fn, list(items), pure=False, **kwargs)
            for _ in as_completed(futures):
                bar.advance(task)
            return list(self.client.gather(futures))


@contextlib.contextmanager
def executor(scheduler: str | None = None, workers: int | None = None,
             quiet: bool = False) -> Iterator[Executor]:
    """An :class:`Executor` for the chosen scheduler (see module docs)."""
    # One thread per library here too, as on a Dask worker: float sums in this process
    # (training) come out the same whatever the scheduler; no oversubscription either.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        if scheduler == "synchronous" or workers == 0:
            yield Executor(None, quiet)
            return
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)
        if scheduler:
            with Client(scheduler) as client:
                yield Executor(client, quiet)
            return
        n = workers or max(1, min(os.cpu_count() or 1, 8))
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield Executor(client, quiet)
