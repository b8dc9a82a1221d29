"""A full disk: map writing, bundle jobs and annotation saves fail clearly and keep the previous state.

Each case runs on a real size-limited tmpfs (``tmpfs``) where this process may mount one (root,
mount permitted: checked at collection) and always with ``ENOSPC`` injected where the writes go
(``injected``), so CI runs at least the second. After the failure the disk is given back and the
same action succeeds.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from annotation_fixtures import build_project, make_settings, seed_database
from downloads_fixtures import CITY, CORNER, build_downloads
from fastapi.testclient import TestClient
from rel_engine_disk import can_mount, enospc, fill, tmpfs
from rel_engine_files import error_line, mcae, snapshot
from rel_engine_project import scene
from rio_cogeo.cogeo import cog_validate

from mcae.platform.app import create_app
from mcae.platform.settings import JobSettings, Settings
from mcae.tiles.settings import TileSettings

MODES = ["tmpfs", "injected"] if can_mount() else ["injected"]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=MODES)
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(mode, folder): a 2 MB tmpfs, or a plain folder whose writes the test makes fail."""
    folder = tmp_path / "disk"
    if request.param == "tmpfs":
        with tmpfs(folder) as mounted:
            yield "tmpfs", mounted
    else:
        folder.mkdir()
        yield "injected", folder


# -- (a) mcae map ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def decided_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-patch project whose every mask is decided (so it maps without a model)."""
    base = tmp_path_factory.mktemp("full_disk_map")
    image, _ = scene(base, size=128, seed=4)
    project = base / "project"
    assert mcae("segment", image, "--project", project, "--patch-size", "64", "--scheduler", "synchronous",
                "-q").exit_code == 0
    groups = pd.read_parquet(project / "groups.parquet")[["neighbourhood", "group"]].drop_duplicates()
    lines = [json.dumps({"target": "group", "neighbourhood": n, "group": g, "class": 3 + i % 5})
             for i, (n, g) in enumerate(groups.itertuples(index=False))]
    (base / "all.jsonl").write_text("\n".join(lines) + "\n")
    assert mcae("label", "--project", project, "--decisions", base / "all.jsonl").exit_code == 0
    return project


def test_map_on_a_full_disk_keeps_the_old_map(disk: tuple[str, Path], decided_project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    mode, folder = disk
    out = folder / "map.tif"
    assert mcae("map", "--project", decided_project, "--out", out).exit_code == 0
    old = out.read_bytes()
    out.write_bytes(old)  # the old map: the same project's, so its bytes tell any change
    if mode == "tmpfs":
        filler = fill(folder, leave=8192)
    else:
        import mcae.inference.cog as cog

        def half_written(src: Any, dst: str | Path, **_: Any) -> None:
            Path(dst).write_bytes(b"II*\x00" + b"\0" * 1000)
            raise enospc(dst)

        monkeypatch.setattr(cog, "translate_to_cog", half_written)
    before = snapshot(folder)
    result = mcae("map", "--project", decided_project, "--out", out)
    line = error_line(result)
    assert result.exit_code == 2 and "no space left" in line and "map.tif" in line, result.output
    assert snapshot(folder) == before, "a failed map left files or changed the old map"
    assert out.read_bytes() == old and cog_validate(str(out), quiet=True)[0]
    # space again: the same command works
    if mode == "tmpfs":
        filler.unlink()
    else:
        monkeypatch.undo()
    assert mcae("map", "--project", decided_project, "--out", out).exit_code == 0
    assert cog_validate(str(out), quiet=True)[0]


# -- (b) a bundle job ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_downloads(tmp_path_factory.mktemp("full_disk_bundles")).catalog


D = 0.004
BUNDLE = {"format": "zip", "bbox": [CORNER.x - D, CORNER.y - D, CORNER.x + D, CORNER.y + D],
          "minzoom": 12, "maxzoom": 17}
BUNDLES = f"/api/cities/{CITY}/layers/mcae/bundles"


def _finish(client: TestClient, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while job["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def test_bundle_job_on_a_full_disk_fails_clearly(disk: tuple[str, Path], catalog: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    mode, folder = disk
    jobs = folder / "jobs"
    settings = Settings(tiles=TileSettings(catalog_path=catalog), jobs=JobSettings(dir=jobs))
    with TestClient(create_app(settings)) as client:
        jobs.mkdir(exist_ok=True)
        if mode == "tmpfs":
            filler = fill(folder, leave=48 * 1024)  # room for the job's records, not its tiles
        else:
            import zipfile

            real = zipfile.ZipFile.writestr
            calls = {"n": 0}

            def full_after_a_few(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
                calls["n"] += 1
                if calls["n"] > 5:
                    raise enospc(self.filename)
                real(self, *args, **kwargs)

            monkeypatch.setattr(zipfile.ZipFile, "writestr", full_after_a_few)
        started = client.post(BUNDLES, json=BUNDLE)
        assert started.status_code == 202, started.text
        job = _finish(client, started.json())
        assert job["state"] == "failed" and "no space left" in job["error"], job
        assert "/" not in job["error"].split("writing")[-1], job["error"]  # names no server path
        download = client.get(f"/api/jobs/{job['id']}/download")
        assert download.status_code == 409 and "no space left" in download.json()["detail"]
        # the job's record only (jobs/keys/ holds the ids of requests already made, no bundle)
        assert sorted(p.suffix for p in jobs.iterdir() if p.is_file()) == [".json"], "a half-written bundle is kept"
        # a disk so full that not even the job's record fits: 507, no job
        if mode == "tmpfs":
            fill(folder, leave=0)
        else:
            import mcae.platform.jobs as registry

            def no_record(path: Path, data: Any) -> None:
                raise enospc(path)

            monkeypatch.setattr(registry, "write_json", no_record)
        other = client.post(BUNDLES, json={**BUNDLE, "maxzoom": 16})
        assert other.status_code == 507 and "no space left" in other.json()["detail"], other.text
        assert "/" not in other.json()["detail"].split("writing")[-1]
        # space again: the first bundle is made
        if mode == "tmpfs":
            filler.unlink()
        else:
            monkeypatch.undo()
        again = _finish(client, client.post(BUNDLES, json=BUNDLE).json())
        assert again["state"] == "done", again
        assert client.get(f"/api/jobs/{again['id']}/download").status_code == 200


# -- (c) an annotation save ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("full_disk_annotation"), size=(192, 192), patch=96)


def test_annotation_save_on_a_full_disk_is_a_507_and_saves_nothing(
        disk: tuple[str, Path], small_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mode, folder = disk
    url = f"sqlite:///{folder / 'annotation.db'}"
    tokens = seed_database(url, small_project)
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    with TestClient(create_app(make_settings(tmp_path, url))) as client:
        hoods = client.get("/api/projects/demo/neighbourhoods", headers=auth).json()["items"]
        base = f"/api/projects/demo/neighbourhoods/{hoods[0]['name']}/groups"
        group = client.get(base, headers=auth).json()[0]
        group_url = f"{base}/{group['key']}"
        history = client.get(f"{group_url}/history", headers=auth)
        if mode == "tmpfs":
            filler = fill(folder, leave=0)
        else:
            from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

            real = SQLiteDialect_pysqlite.do_execute

            def full(self: Any, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
                if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
                    raise sqlite3.OperationalError("database or disk is full")
                real(self, cursor, statement, parameters, context)

            monkeypatch.setattr(SQLiteDialect_pysqlite, "do_execute", full)
        answer = client.post(f"{group_url}/decisions", headers=auth,
                             json={"class": "Tree", "version": group["version"]})
        assert answer.status_code == 507, answer.text
        assert "no space left" in answer.json()["detail"] and "/" not in answer.json()["detail"]
        if mode == "tmpfs":
            filler.unlink()
        else:
            monkeypatch.undo()
        after = client.get(group_url, headers=auth).json()
        assert (after["version"], after["decided"]) == (group["version"], group["decided"]), "a partial save"
        assert client.get(f"{group_url}/history", headers=auth).json() == history.json()
        saved = client.post(f"{group_url}/decisions", headers=auth, json={"class": "Tree", "version": group["version"]})
        assert saved.status_code == 201, saved.text
