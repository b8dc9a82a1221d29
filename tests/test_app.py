"""The platform owns the app: one error table, the query guard on every route, one settings
tree, the job registry made in the lifespan."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from downloads_fixtures import CITY, Downloads  # the `downloads` fixture: tests/conftest.py
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from mcae.inference.errors import InputError, MCAEError, ProjectStateError
from mcae.platform.app import create_app
from mcae.platform.errors import Conflict, Forbidden, PreconditionFailed, Unauthenticated
from mcae.platform.jobs import STALE_AFTER_S, JobRegistry
from mcae.platform.settings import JobSettings, Settings
from mcae.tiles.errors import CapExceeded
from mcae.tiles.ids import UnknownId
from mcae.tiles.settings import TileSettings

PATH_VALUES = {"city": CITY, "layer": "mcae", "district": "triangle", "scheme": "mcae",
               "tileMatrixSetId": "WebMercatorQuad", "z": "12", "x": "3400", "y": "1650", "scale": "1",
               "format": "png", "colorMapId": "mcae", "item_file": "mcae.json", "job_id": "0" * 24}


def make_app(downloads: Downloads, tmp_path: Path) -> FastAPI:
    return create_app(Settings(tiles=TileSettings(catalog_path=downloads.catalog, web_dist=tmp_path / "no-web"),
                               jobs=JobSettings(dir=tmp_path / "jobs")))


@pytest.fixture
def app(downloads: Downloads, tmp_path: Path) -> FastAPI:
    return make_app(downloads, tmp_path)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every API route of the app, in the schema or not, those of included
    routers too (recent FastAPI keeps included routers as nested objects)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        return {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
    return {(m, rc.path) for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)
            for m in rc.methods}


def _url(path: str) -> str:
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


def test_every_route_refuses_an_unknown_query_parameter(client: TestClient, app: FastAPI) -> None:
    seen = api_routes(app)
    schema = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    assert schema <= seen  # the schema's routes are all enumerated
    assert {("GET", "/api/cities"), ("GET", "/api/cities/{city}/districts/{district}"),
            ("POST", "/api/cities/{city}/layers/{layer}/bundles"), ("GET", "/api/cities/{city}/layers/{layer}/clip"),
            ("GET", "/api/jobs/{job_id}"), ("GET", "/api/jobs/{job_id}/download"), ("GET", "/healthz")} <= seen
    for method, path in sorted(seen):
        answer = client.request(method, _url(path) + "?bogus=1", json={} if method == "POST" else None)
        assert answer.status_code == 400, (method, path, answer.status_code, answer.text)
        if method != "HEAD":  # a HEAD answer has no body
            assert "bogus" in answer.json()["detail"]
        assert answer.headers["cache-control"] == "no-store"


def test_declared_parameters_still_pass(client: TestClient) -> None:
    assert client.get("/api/cities").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/api/cities/{CITY}/districts/triangle").status_code == 200
    wmts = client.get(f"/cities/{CITY}/layers/mcae/WebMercatorQuad/WMTSCapabilities.xml",
                      params={"SERVICE": "WMTS", "request": "GetCapabilities"})
    assert wmts.status_code == 200, wmts.text


def _raising(app: FastAPI, exc: BaseException) -> str:
    path = f"/raise/{type(exc).__name__.lower()}"

    def endpoint() -> None:
        raise exc

    app.add_api_route(path, endpoint, include_in_schema=False)
    return path


@pytest.mark.parametrize("exc, status", [
    (Unauthenticated(), 401), (Forbidden("reviewers only"), 403),
    (Conflict("the group is leased", details={"holder": "ann", "version": 3}), 409),
    (PreconditionFailed("version 2 is not the current one", details={"current": 3}), 412),
    (CapExceeded(10, 5), 413), (UnknownId("city", "x"), 404), (InputError("bad"), 400),
    (ProjectStateError("not yet"), 409),
])
def test_the_error_table(downloads: Downloads, tmp_path: Path,
                         exc: MCAEError, status: int) -> None:
    app = make_app(downloads, tmp_path)
    path = _raising(app, exc)
    with TestClient(app) as client:
        answer = client.get(path)
    assert answer.status_code == status
    body = answer.json()
    assert body["detail"] == str(exc) and answer.headers["cache-control"] == "no-store"
    for key, value in (getattr(exc, "details", None) or {}).items():
        assert body[key] == value
    if status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"


def test_headers_of_an_exception_are_sent(downloads: Downloads, tmp_path: Path) -> None:
    app = make_app(downloads, tmp_path)
    path = _raising(app, Conflict("busy", headers={"Retry-After": "5"}))
    with TestClient(app) as client:
        answer = client.get(path)
    assert answer.status_code == 409 and answer.headers["retry-after"] == "5"


def test_server_faults_are_500_with_a_logged_request_id(downloads: Downloads, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(downloads, tmp_path)
    path = _raising(app, RuntimeError("/secret/path/catalog.json exploded"))
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get(path)
    assert answer.status_code == 500 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["detail"] == "internal error" and re.fullmatch(r"[0-9a-f]{12}", body["request_id"])
    assert "secret" not in answer.text
    assert any(body["request_id"] in record.getMessage() for record in caplog.records)


# -- settings ---------------------------------------------------------------------------------

def test_settings_tree_defaults(tmp_path: Path) -> None:
    settings = Settings(tiles=TileSettings(catalog_path=tmp_path / "site" / "catalog.json"))
    assert settings.jobs_dir == tmp_path / "site" / "jobs"
    assert settings.database_url() == f"sqlite:///{tmp_path / 'site' / 'annotation.db'}"
    assert settings.database.busy_timeout_s == 30.0
    assert (settings.auth.lease_seconds, settings.auth.token_bytes, settings.auth.scrypt_n,
            settings.auth.scrypt_r, settings.auth.scrypt_p) == (300, 32, 16384, 8, 1)
    assert Settings(database={"url": "postgresql://db/mcae"}).database_url() == "postgresql://db/mcae"


def test_settings_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAE_TILES_CATALOG_PATH", str(tmp_path / "old" / "catalog.json"))
    monkeypatch.setenv("MCAE_TILES_MAX_BUNDLE_TILES", "7")
    assert Settings().tiles.catalog_path == tmp_path / "old" / "catalog.json"
    monkeypatch.setenv("MCAE_TILES__CATALOG_PATH", str(tmp_path / "new" / "catalog.json"))
    monkeypatch.setenv("MCAE_AUTH__LEASE_SECONDS", "60")
    monkeypatch.setenv("MCAE_WORKERS", "3")
    settings = Settings()
    assert settings.tiles.catalog_path == tmp_path / "new" / "catalog.json"
    assert settings.tiles.max_bundle_tiles == 7 and settings.auth.lease_seconds == 60 and settings.workers == 3
    assert settings.jobs_dir == tmp_path / "new" / "jobs"


def test_app_state_holds_the_tree_and_the_lifespan_the_registry(app: FastAPI) -> None:
    assert isinstance(app.state.settings, Settings) and app.state.tile_settings is app.state.settings.tiles
    assert getattr(app.state, "jobs", None) is None
    with TestClient(app):
        assert isinstance(app.state.jobs, JobRegistry)
        assert app.state.jobs.root == app.state.settings.jobs_dir
    assert app.state.jobs is None


# -- jobs of any kind ---------------------------------------------------------------------------

def test_a_job_of_another_kind(client: TestClient, app: FastAPI) -> None:
    jobs: JobRegistry = app.state.jobs
    seen: list[Any] = []

    def rebuild(ctx: Any) -> dict[str, Any]:
        ctx.progress(1, message="training", step="train")
        ctx.progress(2, 3, message="mapping", step="map")
        seen.append(ctx.out_path)
        return {"layer_version": "abc123"}

    record, started = jobs.submit("rebuild", {"project": "nanjing", "decisions": 41}, 4, rebuild, owner="ann")
    assert started and record.kind == "rebuild" and record.owner == "ann"
    done = jobs.wait(record.id, timeout=30)
    assert done.state == "done" and done.result == {"layer_version": "abc123"}
    public = client.get(f"/api/jobs/{record.id}").json()
    assert public["kind"] == "rebuild" and public["state"] == "done" and public["progress"] == 1.0
    assert public["done"] == public["total"] == 3 and public["message"] == "mapping" and public["step"] == "map"
    assert public["result"] == {"layer_version": "abc123"} and public["project"] == "nanjing"
    assert "download" not in public["links"]
    assert client.get(f"/api/jobs/{record.id}/download").status_code == 404  # it made no file
    again, started = jobs.submit("rebuild", {"project": "nanjing", "decisions": 41}, 4, rebuild)
    assert again.id == record.id and not started
    other, _ = jobs.submit("export", {"project": "nanjing", "decisions": 41}, 4, rebuild)
    assert other.id != record.id  # the id hashes the kind too
    jobs.wait(other.id, timeout=30)


def test_a_job_that_makes_a_file(client: TestClient, app: FastAPI) -> None:
    jobs: JobRegistry = app.state.jobs

    def export(ctx: Any) -> None:
        ctx.out_path.write_text("hello")
        ctx.progress(1)

    record, _ = jobs.submit("export", {"what": "text"}, 1, export, suffix=".txt", filename="hello.txt")
    assert jobs.wait(record.id, timeout=30).state == "done"
    public = client.get(f"/api/jobs/{record.id}").json()
    assert public["links"]["download"] == f"/api/jobs/{record.id}/download"
    answer = client.get(public["links"]["download"])
    assert answer.status_code == 200 and answer.text == "hello"
    assert "hello.txt" in answer.headers["content-disposition"] and answer.headers["content-type"].startswith("text/")


def test_failed_and_orphaned_jobs(tmp_path: Path) -> None:
    jobs = JobRegistry(tmp_path)
    try:
        def broken(ctx: Any) -> None:
            raise InputError("nothing to rebuild")

        record, _ = jobs.submit("rebuild", {"p": 1}, 1, broken)
        failed = jobs.wait(record.id, timeout=30)
        assert failed.state == "failed" and failed.error == "nothing to rebuild"
        path = jobs.record_path(record.id)
        stored = json.loads(path.read_text())
        stored.update(state="running", error=None, updated=time.time() - STALE_AFTER_S - 1)
        path.write_text(json.dumps(stored))
        orphan = jobs.get(record.id)
        assert orphan.state == "failed" and "interrupted" in (orphan.error or "")
        with pytest.raises(UnknownId):
            jobs.get("f" * 24)
    finally:
        jobs.shutdown()
