"""A small city benchmark (issue 17, section 7): memory bounded by windows, and the query-plan
rule, at 200,000 masks. Memory is measured, never time: every assertion holds on a busy machine.

* The scene writer (``mcae.inference.demo.tiled``): peak RSS at 2,048 px is at most 1.25 x
  that at 1,024 px (4 x the pixels, in 512 px windows). Issue 17 asks for 2,048 against
  4,096 px: on two shared cores that scene alone takes 2-3 minutes, and segment and train at
  those sizes many more, so CI checks the writer at a quarter of the area and
  ``python -m benchmarks.city`` measures every stage.
* The service leg: a project of 200,000 masks written as engine tables, imported with
  ``mcae projects add`` (its own process tree, peak RSS at most 1.25 x that of 50,000 masks),
  then every route the pages call, once, with the query-plan rule on what they ran.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.city import MCAE, import_rates, measure
from benchmarks.city_routes import route_calls
from benchmarks.city_service import write_service_project
from benchmarks.query_plans import capture, masks_scans

RATIO = 1.25
SERVICE_MASKS = 200_000


def _run(cmd: list[str]) -> dict[str, object]:
    result = measure(cmd, poll_s=0.02)
    assert result["rc"] == 0, result["output"]
    return result


def _peak(cmd: list[str]) -> float:
    return float(_run(cmd)["peak_rss_mb"])  # type: ignore[arg-type]


def test_the_scene_is_written_in_bounded_memory(tmp_path: Path) -> None:
    def scene(size: int) -> float:
        code = ("from mcae.inference.demo.tiled import write_city; "
                f"write_city({str(tmp_path / str(size))!r}, {size}, tile=512)")
        return _peak([sys.executable, "-c", code])

    small, big = scene(1024), scene(2048)
    assert big <= RATIO * small, f"peak RSS {big:.0f} MB at 2048 px against {small:.0f} MB at 1024 px"
    assert (tmp_path / "2048" / "imagery.tif").stat().st_size > 0


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The 200,000-mask project imported into SQLite (and the import's peak against 50,000 masks)."""
    folder = tmp_path_factory.mktemp("city")
    peaks, runs = {}, {}
    for masks in (50_000, SERVICE_MASKS):
        root = folder / f"p{masks}"
        write_service_project(root, masks)
        url = f"sqlite:///{folder / f'{masks}.db'}"
        runs[masks] = _run([MCAE, "projects", "add", str(root), "-q", "--id", "city", "--database", url])
        peaks[masks] = float(runs[masks]["peak_rss_mb"])  # type: ignore[arg-type]
    return {"root": folder / f"p{SERVICE_MASKS}", "url": f"sqlite:///{folder / f'{SERVICE_MASKS}.db'}",
            "peaks": peaks, "run": runs[SERVICE_MASKS]}


def test_the_import_runs_in_bounded_memory(city: dict[str, object]) -> None:
    """4x the masks, at most 1.25x the memory, besides SQLite's page cache: a fixed cap
    (``IMPORT_CACHE_MIB``) that a larger database fills further before it stops growing, so
    the two sizes' peaks may differ by it whatever the machine (it made a 1.254 ratio once)."""
    from mcae.platform.annotation.bulk_load import IMPORT_CACHE_MIB

    peaks = city["peaks"]
    assert isinstance(peaks, dict)
    assert peaks[SERVICE_MASKS] <= RATIO * peaks[50_000] + IMPORT_CACHE_MIB, peaks  # both in MiB


def test_the_import_reports_its_stages_rates(city: dict[str, object]) -> None:
    """The benchmark's import goal reads the masks' own rate from what the command prints."""
    run = city["run"]
    assert isinstance(run, dict)
    rates = import_rates(dict(run), SERVICE_MASKS)
    assert rates["masks_per_s"] and rates["masks_stage_per_s"], run["output"]
    assert rates["masks_per_s_command"] < rates["masks_per_s"] < rates["masks_stage_per_s"]
    assert rates["decisions_per_s"] == 0  # these tables come without decisions


def test_no_route_scans_the_masks_of_a_city(city: dict[str, object], tmp_path: Path) -> None:
    from annotation_fixtures import Service, make_settings, seed_users
    from fastapi.testclient import TestClient

    from mcae.platform.app import create_app

    url = str(city["url"])
    tokens = seed_users(url)  # the imported database is current already: the upgrade does nothing
    with TestClient(create_app(make_settings(tmp_path, url))) as client:
        svc = Service(client, tokens, "city", Path(str(city["root"])), url)
        hoods = svc.get(svc.p("/neighbourhoods")).json()
        assert hoods["total"] >= 9 and sum(h["masks"] for h in hoods["items"]) > 0
        hood = hoods["items"][0]["name"]
        group = next(g for g in svc.get(svc.p(f"/neighbourhoods/{hood}/groups")).json() if g["size"] >= 4)
        masks = svc.get(svc.group_url(group, "/masks"), params={"per_page": 48}).json()["items"]
        engine = client.app.state.database.engine  # type: ignore[attr-defined]
        calls = route_calls(svc, group, masks)
        with capture(engine) as captured:
            for label, call in calls:
                captured.label = label
                call()
        scans = {scan.label for scan in masks_scans(engine, captured)}
    assert not scans, sorted(scans)
