"""Anonymous requests cannot exhaust the jobs: caps per client and in all (429 + Retry-After),
files that expire by age and by a size cap (oldest first), rebuilds on their own worker,
random ids, and owners and error texts shown only to their owner and admins, never a path.
Every wait here is on an event the test sets, never on the clock."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from annotation_fixtures import copy_project, make_settings, seed_database
from downloads_fixtures import CITY, CORNER, Downloads, downloads  # noqa: F401
from fastapi.testclient import TestClient

import mcae.tiles.bundles as bundles
from mcae.inference.errors import InputError
from mcae.platform.app import create_app
from mcae.platform.errors import TooManyRequests
from mcae.platform.jobs import JOB_ID_PATTERN, Caps, JobRegistry
from mcae.platform.settings import JobSettings, Settings
from mcae.tiles.catalog import UnknownId
from mcae.tiles.settings import TileSettings

BUNDLES = f"/api/cities/{CITY}/layers/mcae/bundles"


def bbox(i: int) -> list[float]:
    """A slightly different small area for each ``i`` (the nudged-bbox loop)."""
    d = 0.001 + i * 0.00001
    return [CORNER.x - d, CORNER.y - d, CORNER.x + d, CORNER.y + d]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[JobRegistry]:
    jobs = JobRegistry(tmp_path / "jobs", workers=1, pools={"rebuild": 1},
                       caps={"bundle": Caps(per_client=2, total=3)}, prune_every_s=1e9)
    yield jobs
    jobs.shutdown(wait=False)


def blocked(gate: threading.Event, started: threading.Event | None = None) -> Any:
    def work(ctx: Any) -> dict[str, Any]:
        if started is not None:
            started.set()
        assert gate.wait(30)
        ctx.out_path.write_bytes(b"x" * 10)
        return {}
    return work


def test_bundle_caps_per_client_and_in_all(registry: JobRegistry) -> None:
    gate = threading.Event()
    try:
        for i in range(2):
            registry.submit("bundle", {"i": i}, 1, blocked(gate), client="198.51.100.1", suffix=".zip")
        with pytest.raises(TooManyRequests) as caught:  # a third nudged area from the same client
            registry.submit("bundle", {"i": 2}, 1, blocked(gate), client="198.51.100.1", suffix=".zip")
        assert caught.value.headers["Retry-After"] and "jobs.bundles_per_client" in str(caught.value.details)
        again, started = registry.submit("bundle", {"i": 0}, 1, blocked(gate), client="198.51.100.1")
        assert not started  # the same area is the same job, not a new one: no cap for it
        registry.submit("bundle", {"i": 3}, 1, blocked(gate), client="198.51.100.2", suffix=".zip")
        with pytest.raises(TooManyRequests) as caught:  # a fourth client: the server's cap
            registry.submit("bundle", {"i": 4}, 1, blocked(gate), client="198.51.100.3", suffix=".zip")
        assert "jobs.bundles_total" in str(caught.value.details)
        _, started = registry.submit("export", {"i": 5}, 1, lambda ctx: None, client="198.51.100.3")
        assert started  # other kinds are not bundles
    finally:
        gate.set()
    registry.wait(again.id)
    registry.submit("bundle", {"i": 6}, 1, lambda ctx: None, client="198.51.100.1")  # finished: room again


def test_rebuilds_never_wait_behind_bundles(registry: JobRegistry) -> None:
    gate, started = threading.Event(), threading.Event()
    try:
        first, _ = registry.submit("bundle", {"i": 0}, 1, blocked(gate, started), client="a", suffix=".zip")
        queued, _ = registry.submit("bundle", {"i": 1}, 1, blocked(gate), client="b", suffix=".zip")
        assert started.wait(30)  # the one bundle worker is busy, a second bundle waits
        rebuild, _ = registry.submit("rebuild", {"project": "p"}, 1, lambda ctx: {"ok": True}, owner="rita")
        assert registry.wait(rebuild.id, timeout=30).state == "done"
        assert registry.get(first.id).state == "running" and registry.get(queued.id).state == "queued"
    finally:
        gate.set()


def test_job_ids_are_random_not_derived(registry: JobRegistry) -> None:
    spec = {"project": "demo", "state": "12:34"}
    record, _ = registry.submit("rebuild", spec, 1, lambda ctx: None, owner="rita")
    derived = hashlib.sha256(json.dumps({"kind": "rebuild", "spec": spec}, sort_keys=True).encode()).hexdigest()
    assert record.id not in (derived[:24], derived[:32]) and record.id not in json.dumps(spec)
    assert re.fullmatch(JOB_ID_PATTERN, record.id)
    registry.wait(record.id)
    other = JobRegistry(registry.root.parent / "elsewhere")
    try:
        twin, _ = other.submit("rebuild", spec, 1, lambda ctx: None, owner="rita")
        assert twin.id != record.id  # the same public values, another id
        other.wait(twin.id)
    finally:
        other.shutdown()


def test_error_texts_never_hold_a_server_path(registry: JobRegistry, tmp_path: Path) -> None:
    def broken(ctx: Any) -> None:
        raise InputError(f"cannot read {tmp_path}/secret/layer.tif: no such file")

    record, _ = registry.submit("export", {"x": 1}, 1, broken)
    error = registry.wait(record.id).error or ""
    assert "cannot read" in error and str(tmp_path) not in error and "/secret/" not in error


def test_files_expire_by_age_and_by_size_oldest_first(tmp_path: Path) -> None:
    jobs = JobRegistry(tmp_path / "jobs", workers=2, max_age_s=3600, prune_every_s=1e9)
    try:
        made = []
        for i in range(4):
            def work(ctx: Any) -> None:
                ctx.out_path.write_bytes(b"x" * 1000)
            record, _ = jobs.submit("bundle", {"i": i}, 1, work, suffix=".zip")
            made.append(jobs.wait(record.id))
        gate = threading.Event()
        running, _ = jobs.submit("bundle", {"i": 9}, 1, blocked(gate), suffix=".zip")
        finished = [r.finished or 0 for r in made]

        def size(r: Any) -> int:
            return sum(p.stat().st_size for p in (jobs.record_path(r.id), jobs.file_path(r), jobs.key_path(r.key)))

        # size: a cap that holds the two newest jobs (and the running one's record): the oldest go first
        jobs.max_total_bytes = size(made[2]) + size(made[3]) + 2 * jobs.record_path(running.id).stat().st_size
        result = jobs.prune(now=max(finished) + 1)
        assert result is not None and result.kept_bytes <= jobs.max_total_bytes and result.removed_jobs == 2
        gone = [not jobs.file_path(r).exists() for r in made]
        assert gone == [True, True, False, False]
        with pytest.raises(UnknownId):
            jobs.get(made[0].id)
        # age: an hour later every finished job is gone, the running one stays
        jobs.prune(now=max(finished) + 3601)
        assert not any(jobs.file_path(r).exists() for r in made)
        assert jobs.get(running.id).state in ("queued", "running")
        gate.set()
        assert jobs.wait(running.id).state == "done"
        # the same area asked again after expiry is a new job, not a dangling key
        again, started = jobs.submit("bundle", {"i": 0}, 1, lambda ctx: None, suffix=".zip")
        assert started and again.id != made[0].id
        jobs.wait(again.id)
    finally:
        jobs.shutdown()


# -- through the app -----------------------------------------------------------------------

@pytest.fixture
def app_world(downloads: Downloads, template_project: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:  # noqa: F811
    url = f"sqlite:///{tmp_path / 'annotation.db'}"
    tokens = seed_database(url, copy_project(template_project, tmp_path / "city"))
    base = make_settings(tmp_path, url)
    settings = Settings(tiles=TileSettings(catalog_path=downloads.catalog), database=base.database, auth=base.auth,
                        jobs=JobSettings(dir=tmp_path / "jobs", bundles_per_client=1, bundles_total=2))
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.1", 1)) as one, TestClient(app, client=("203.0.113.2", 1)) as two:
        yield {"one": one, "two": two, "tokens": tokens, "app": app}


def test_a_nudged_bbox_loop_is_refused_with_retry_after(app_world: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = bundles.render_tile

    def slow(*args: Any, **kwargs: Any) -> Any:
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(bundles, "render_tile", slow)
    one, two = app_world["one"], app_world["two"]
    try:
        first = one.post(BUNDLES, json={"format": "zip", "bbox": bbox(0), "minzoom": 12, "maxzoom": 12})
        assert first.status_code == 202
        refused = [one.post(BUNDLES, json={"format": "zip", "bbox": bbox(i), "minzoom": 12, "maxzoom": 12})
                   for i in range(1, 20)]
        assert {r.status_code for r in refused} == {429}
        assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
        assert two.post(BUNDLES, json={"format": "zip", "bbox": bbox(50), "minzoom": 12,
                                       "maxzoom": 12}).status_code == 202
        jobs_dir = app_world["app"].state.settings.jobs_dir
        assert len(list(jobs_dir.glob("*.json"))) == 2  # 21 asks, 2 jobs
    finally:
        gate.set()


def test_owner_and_error_are_shown_to_the_owner_and_admins_only(app_world: dict[str, Any]) -> None:
    app, one, two, tokens = app_world["app"], app_world["one"], app_world["two"], app_world["tokens"]

    def broken(ctx: Any) -> None:
        raise InputError("the rebuild found nothing to learn")

    record, _ = app.state.jobs.submit("rebuild", {"project": "demo", "state": "1"}, 1, broken, owner="rita")
    app.state.jobs.wait(record.id)

    def seen(client: TestClient, user: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
        answer = client.get(f"/api/jobs/{record.id}", headers=headers)
        assert answer.status_code == 200
        return answer.json()

    for user in (None, "alice", "vera"):
        body = seen(one, user)
        assert body["state"] == "failed" and body["owner"] is None and body["error"] is None
        download = one.get(f"/api/jobs/{record.id}/download",
                           headers={"Authorization": f"Bearer {tokens[user]}"} if user else {})
        assert "nothing to learn" not in download.text
    for user in ("rita", "admin"):
        body = seen(one, user)
        assert body["owner"] == "rita" and body["error"] == "the rebuild found nothing to learn"
    assert one.get(f"/api/jobs/{record.id}", headers={"Authorization": "Bearer mcae_0123456789ab_no"}
                   ).status_code == 401
    # an anonymous bundle's error: the client that asked sees it, another does not
    bundle, _ = app.state.jobs.submit("bundle", {"i": 1}, 1, broken, client="203.0.113.1")
    app.state.jobs.wait(bundle.id)
    assert one.get(f"/api/jobs/{bundle.id}").json()["error"] == "the rebuild found nothing to learn"
    assert two.get(f"/api/jobs/{bundle.id}").json()["error"] is None


def test_a_running_job_has_an_eta(registry: JobRegistry) -> None:
    """The ETA is the rate so far applied to what is left: none before work and after the end."""
    gate, started = threading.Event(), threading.Event()

    def work(ctx: Any) -> dict[str, Any]:
        ctx.progress(1, 4, "one of four steps")
        started.set()  # after the progress: the test reads it without polling
        assert gate.wait(30)
        return {}

    record, _ = registry.submit("rebuild", {"project": "eta"}, 4, work, owner="rita")
    assert started.wait(30)
    shown = registry.get(record.id)
    assert shown.done == 1 and shown.started is not None
    assert shown.public(now=shown.started + 10)["eta_s"] == 30.0  # 10 s for a quarter: 30 s for the rest
    gate.set()
    registry.wait(record.id)
    assert registry.get(record.id).public()["eta_s"] is None
