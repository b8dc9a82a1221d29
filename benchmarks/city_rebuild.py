"""One publishing rebuild of a city's project, the work of the API's ``rebuild`` job, in its own process.

``python -m benchmarks.city_rebuild CATALOG DATABASE_URL [PROJECT]``: the project's publish
policy set to "any" (the simulated expert's decisions are not reviewed), then retrain on
them, re-predict, map, publish the next version of the project's layer (its serving copy
and whole files) and re-import the new predictions, exactly as
``POST /api/projects/{project}/rebuild`` runs it (``mcae.platform.annotation.rebuild.run_rebuild``),
without the HTTP around it. Prints each step with its time.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update

from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Project
from mcae.platform.annotation.rebuild import run_rebuild
from mcae.platform.settings import get_settings
from mcae.tiles.catalog import CatalogStore
from mcae.tiles.gdal import Sources


def main(catalog: str, url: str, project: str = "city") -> dict[str, Any]:
    settings = get_settings(catalog=Path(catalog), database=url)
    database = Database(settings.database_url(), settings.database.busy_timeout_s)
    store = CatalogStore(settings.tiles.catalog_path, Sources.from_settings(settings.tiles))
    start = time.perf_counter()

    steps: list[tuple[float, str]] = []

    def progress(done: int, total: int, what: str = "") -> None:
        steps.append((time.perf_counter() - start, what))
        print(f"{steps[-1][0]:8.1f} s  {done}/{total} {what}", flush=True)

    with database.session() as session:  # the simulated expert's decisions are not reviewed: publish them all
        session.execute(update(Project).where(Project.id == project).values(publish_policy="any"))
    try:
        result = run_rebuild(database, store, project, None, progress, user_name="benchmark")
    finally:
        database.dispose()
    print(result, flush=True)
    # last, so that the benchmark's tail of the output keeps it: seconds each step took
    print("steps:", "; ".join(f"{what or 'start'} {later[0] - at:.0f} s"
                              for (at, what), later in itertools.pairwise(steps)), flush=True)
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
