"""Running per-patch and per-neighbourhood work in parallel through Dask.

``scheduler=None`` starts a local Dask cluster (processes, one thread each);
``"synchronous"`` runs everything in this process (debugging, benchmarks of peak
memory); any other value is the address of a running ``distributed`` scheduler,
whose workers must see the same project folder and image paths.
Results never depend on the number of workers: every task is a pure function of
its inputs and results are returned in input order.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")
R = TypeVar("R")


def progress_bar(quiet: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=quiet, transient=False)


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
    if scheduler == "synchronous" or workers == 0:
        # One thread per library, as on a Dask worker: same results, no oversubscription.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
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
