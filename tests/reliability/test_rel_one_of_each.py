"""One of each: one bbox check, one cap-exceeded error, one id rule, and an error table that
keeps 4xx for the client's faults while a fault of the server is a logged 500.

These were written twice or more (two bbox parsers with their own messages, three
cap-exceeded classes, the id regex in four files, ``RioTilerError`` mapped to 400
wholesale); the tests prove that each now has one home and that every route answers alike.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rio_tiler.errors as rio_errors
from fastapi.testclient import TestClient
from rel_corpus import polygon_text
from rel_world import PROJECT, World, make_world
from tiles_data import CITY

from mcae.platform.errors import status_of
from mcae.tiles import geometry
from mcae.tiles.errors import CapExceeded, TooLarge
from mcae.tiles.ids import ID, ID_PATTERN

REPO = Path(__file__).resolve().parents[2]
LAYER = f"/api/cities/{CITY}/layers/mcae"
TILE = f"/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/18/217566/106391"
CAP_MESSAGE = re.compile(r"^the [a-z ]+ would hold [\d,]+ [a-z ,]+; the cap is [\d,]+ \([a-z_ ]+\): [a-z ,]+$")
# rio-tiler's errors a client can cause, and their status; every other one is the server's fault
CLIENT_FAULTS = {"TileOutsideBounds": 404, "PointOutsideBounds": 404, "InvalidBandName": 404,
                 "InvalidAssetName": 404, "MaxArraySizeError": 413, "InvalidBufferSize": 400, "InvalidFormat": 400,
                 "InvalidColorFormat": 400, "InvalidColorMapName": 400, "InvalidExpression": 400,
                 "InvalidMosaicMethod": 400, "InvalidBounds": 400, "MissingBands": 400, "MissingAssets": 400,
                 "AssetAsBandError": 400}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, template_project: Path) -> World:
    return make_world(tmp_path_factory.mktemp("rel-one") / "data", template_project)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app(), raise_server_exceptions=False) as found:
        yield found


# -- one bbox check ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("1,2,3", geometry.BBOX_MALFORMED), ("a,b,c,d", geometry.BBOX_MALFORMED),
    ("nan,0,1,1", geometry.BBOX_NOT_FINITE), ("0,0,inf,1", geometry.BBOX_NOT_FINITE),
    ("119,33,118,32", geometry.BBOX_OUT_OF_RANGE), ("-181,0,1,1", geometry.BBOX_OUT_OF_RANGE)])
def test_every_route_answers_a_bad_bbox_with_the_same_message(client: TestClient, text: str, message: str) -> None:
    answers = {
        "statistics": client.get(f"{LAYER}/statistics", params={"bbox": text}),
        "clip": client.get(f"{LAYER}/clip", params={"bbox": text}),
        "estimate": client.get(f"{LAYER}/bundles/estimate", params={"bbox": text, "minzoom": 1, "maxzoom": 2})}
    values = text.split(",")
    if len(values) == 4 and message != geometry.BBOX_MALFORMED:  # JSON numbers (NaN and Infinity too)
        numbers = ",".join({"nan": "NaN", "inf": "Infinity"}.get(v, v) for v in values)
        raw = f'{{"bbox": [{numbers}], "minzoom": 1, "maxzoom": 2}}'
        answers["bundles"] = client.post(f"{LAYER}/bundles", content=raw,
                                         headers={"Content-Type": "application/json"})
    for route, answer in answers.items():
        assert answer.status_code == 400, (route, answer.text)
        assert answer.json() == {"detail": message}, (route, answer.text)


def test_the_bbox_parser_lives_in_one_place() -> None:
    from mcae.tiles import areas, routes_analysis, routes_downloads

    for module in (areas, routes_analysis, routes_downloads):
        for name in ("parse_bbox", "check_bbox"):
            found = getattr(module, name, None)
            assert found is None or found is getattr(geometry, name), (module.__name__, name)
    assert geometry.parse_bbox(" 1, 2 ,3,4") == (1.0, 2.0, 3.0, 4.0)


# -- one cap-exceeded error ----------------------------------------------------------------------

def test_every_cap_answers_alike(client: TestClient, world: World) -> None:
    w, s, e, n = world.store.layer(CITY, "mcae").bounds
    lon, lat = (w + e) / 2, (s + n) / 2
    answers = {
        "statistics": client.get(f"{LAYER}/statistics"),  # the whole layer: 262,144 px over 100,000
        "clip": client.get(f"{LAYER}/clip", params={"bbox": f"{w},{s},{e},{n}"}),
        "bundle": client.post(f"{LAYER}/bundles", json={"bbox": [w, s, e, n], "minzoom": 0, "maxzoom": 24}),
        "vertices": client.post(f"{LAYER}/statistics", content=polygon_text(lon, lat, 300_000),
                                headers={"Content-Type": "application/json"}),
        "body": client.post(f"{LAYER}/clip", content=b" " * (17 * 1024 * 1024),
                            headers={"Content-Type": "application/json"})}
    for what, answer in answers.items():
        assert answer.status_code == 413, (what, answer.text[:300])
        body = answer.json()
        assert CAP_MESSAGE.match(body["detail"]), (what, body["detail"])
        assert body["count"] > body["cap"] > 0, (what, body)
        assert f"{body['count']:,}" in body["detail"] and f"{body['cap']:,}" in body["detail"], (what, body)
        assert answer.headers["cache-control"] == "no-store"
    assert answers["vertices"].json() == {"detail": answers["vertices"].json()["detail"], "count": 300_001,
                                          "cap": geometry.MAX_VERTICES}


def test_cap_exceeded_is_defined_once() -> None:
    modules = [importlib.import_module(f"mcae.tiles.{m}") for m in ("clip", "bundles", "statistics", "areas")]
    subclasses: set[type] = set()
    stack: list[type] = [TooLarge]
    while stack:
        for sub in stack.pop().__subclasses__():
            subclasses.add(sub)
            stack.append(sub)
    assert subclasses == {CapExceeded}, subclasses
    for module in modules:
        own = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, TooLarge)]
        assert set(own) <= {TooLarge, CapExceeded}, (module.__name__, own)


def test_a_streamed_body_over_the_cap_is_413_and_the_load_keeps_its_own_cap(client: TestClient,
                                                                             world: World) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // (1024 * 1024)):
            yield b" " * (1024 * 1024)

    answer = client.post(f"{LAYER}/statistics", content=chunks(17 * 1024 * 1024),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.headers["content-type"] == "application/json", answer.text
    assert "max_body_bytes" in answer.json()["detail"]
    auth = {"Authorization": f"Bearer {world.tokens['alice']}", "Content-Type": "application/x-ndjson"}
    big = b" " * (17 * 1024 * 1024) + b"\nnot json\n"  # over the app's cap, under the load's own
    answer = client.post(f"/api/projects/{PROJECT}/decisions.jsonl", content=big, headers=auth)
    assert answer.status_code == 400, answer.text[:300]  # the load read it, and refused its content


# -- one id rule ---------------------------------------------------------------------------------

ID_NAMES = {"city", "layer", "district", "scheme", "project"}


def pattern_of(schema: dict[str, Any]) -> str | None:
    """The pattern of a string schema, or of the string branch of an optional one."""
    if "pattern" in schema:
        return str(schema["pattern"])
    found = {pattern_of(s) for s in schema.get("anyOf", []) if s.get("type") != "null"}
    return found.pop() if len(found) == 1 else None


def test_every_id_in_the_api_follows_the_one_rule(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    seen = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["name"] in ID_NAMES:
                    assert pattern_of(param["schema"]) == ID_PATTERN, (method, path, param)
                    seen += 1
                if param["name"] == "item":  # a layer's STAC item, or a district map's: <layer>__<district>
                    assert param["schema"]["pattern"] == rf"^{ID}(__{ID})?$"
                if param["name"] == "item_file":
                    assert param["schema"]["pattern"] == rf"^{ID}(__{ID})?\.json$"
    bodies = {content["schema"]["$ref"].rsplit("/", 1)[-1]
              for operations in spec["paths"].values() for operation in operations.values()
              for content in operation.get("requestBody", {}).get("content", {}).values()
              if "$ref" in content.get("schema", {})}
    for name in bodies:  # ids in request bodies (bundles, project edits)
        for field, prop in spec["components"]["schemas"][name].get("properties", {}).items():
            if field in ID_NAMES and prop.get("type") != "object":
                assert pattern_of(prop) == ID_PATTERN, (name, field, prop)
                seen += 1
    assert {"BundleRequest", "ProjectPatch"} <= bodies
    assert seen > 60, seen
    committed = json.loads((REPO / "web" / "openapi.json").read_text())
    city = next(p for p in committed["paths"]["/api/cities/{city}"]["get"]["parameters"] if p["name"] == "city")
    assert city["schema"]["pattern"] == ID_PATTERN, "web/openapi.json is stale: the web reads the id rule from it"


def test_the_id_regex_is_written_once() -> None:
    literal = ID.replace("\\", "")
    holders = []
    for folder, suffix in [("inference", ".py"), ("tiles", ".py"), ("platform", ".py"), ("web/src", ".ts")]:
        for path in (REPO / folder).rglob(f"*{suffix}"):
            if "node_modules" not in path.parts and literal in path.read_text(encoding="utf-8"):
                holders.append(path.relative_to(REPO).as_posix())
    assert holders == ["tiles/mcae/tiles/ids.py"], holders
    state = (REPO / "web" / "src" / "viewer" / "state.ts").read_text()
    assert "new RegExp(__MCAE_ID_PATTERN__)" in state
    assert "openapi.json" in (REPO / "web" / "vite.config.ts").read_text()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_web_builds_with_the_rule_from_the_openapi_document(tmp_path: Path) -> None:
    web = REPO / "web"
    npx = shutil.which("npx")
    if npx is None or not (web / "node_modules" / ".bin" / "vite").exists():
        pytest.skip("node and the web's node_modules are not installed (make web installs them)")
    out = tmp_path / "dist"
    subprocess.run([npx, "vite", "build", "--outDir", str(out), "--emptyOutDir", "--logLevel", "error"],
                   cwd=web, check=True, capture_output=True, timeout=200)
    bundles = "".join(p.read_text(encoding="utf-8") for p in (out / "assets").glob("viewer-*.js"))
    assert json.dumps(ID_PATTERN)[1:-1] in bundles


# -- the error table: rio-tiler's client faults 4xx, the rest a logged 500 ------------------------

def test_rio_tiler_errors_map_by_whose_fault_they_are() -> None:
    kinds = [c for c in vars(rio_errors).values()
             if isinstance(c, type) and issubclass(c, rio_errors.RioTilerError)]
    assert len(kinds) > 20
    for kind in kinds:
        expected = CLIENT_FAULTS.get(kind.__name__, 500)
        assert status_of(kind("x")) == expected, kind.__name__


@pytest.mark.parametrize("error, status", [
    (rio_errors.TileOutsideBounds("tile 1/2/3 is outside bounds"), 404),
    (rio_errors.InvalidBufferSize("buffer must be a multiple of 0.5"), 400),
    (rio_errors.InvalidFormat("invalid format"), 400),
    (rio_errors.MaxArraySizeError("too many pixels"), 413)])
def test_a_client_fault_inside_rendering_stays_4xx(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                   error: Exception, status: int) -> None:
    _render_raises(monkeypatch, error)
    answer = client.get(TILE, params={"tilesize": 512})  # a size no earlier request cached
    assert answer.status_code == status, answer.text
    assert answer.json() == {"detail": str(error)}
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("error", [
    rio_errors.MissingCRS("/srv/secret/maps/mcae.tif has no CRS"),
    rio_errors.ColorMapAlreadyRegistered("mcae is registered at /srv/secret/colormaps"),
    rio_errors.RioTilerError("internal failure reading /srv/secret/x.tif"),
    rio_errors.EmptyMosaicError("nothing in /srv/secret")])
def test_a_server_fault_inside_rendering_is_a_logged_500(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture, error: Exception) -> None:
    _render_raises(monkeypatch, error)
    with caplog.at_level(logging.ERROR, logger="mcae.platform.errors"):
        answer = client.get(TILE, params={"tilesize": 512})
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert set(body) == {"detail", "request_id"} and body["detail"] == "internal error", body
    assert re.fullmatch(r"[0-9a-f]{12}", body["request_id"])
    assert "/srv" not in answer.text and "secret" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    logged = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[1] is error


def _render_raises(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    from mcae.tiles import routes_tiles

    def render(*args: Any, **kwargs: Any) -> bytes:
        raise error

    monkeypatch.setattr(routes_tiles, "render_tile", render)
