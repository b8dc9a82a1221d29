"""The hostile-request corpus against the whole app, with a file-open audit.

Every line of ``hostile_requests.jsonl`` is sent, as written, to ``create_app`` over a test
catalog and an annotation project. Each must get the status it names, as JSON with a
message, ``no-store``, no server path or traceback in the body and no CR/LF in a header.
While they run, an audit records every file Python opens and every path GDAL is asked to
open: none may lie outside the catalog's folder (data, serving copies, jobs, the annotation
database and project) or Python's own installation. Tokens sent in URLs are refused and
appear in no log record.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rel_audit import SYSTEM_FILES, SYSTEM_ROOTS, Audit, audit, outside, python_roots
from rel_corpus import RECIPES, STREAMED, Answer, Line, fill, fill_json, message_of, read_corpus, send_raw
from rel_world import PROJECT, World, make_world
from tiles_data import CITY

REPO = Path(__file__).resolve().parents[2]
CODE_ROOTS = [REPO / "inference" / "mcae", REPO / "tiles" / "mcae", REPO / "platform" / "mcae"]  # linecache
REQUIRED_KINDS = {"traversal", "encoded-traversal", "double-encoded", "unicode", "gdal-vsi", "gdal-connection",
                  "vrt-xml", "url-param", "zxy", "tms", "bbox-world", "bbox-inverted", "nan-inf", "geojson-type",
                  "self-intersecting", "huge-polygon", "body-cap", "header-injection", "zoom-range",
                  "token-in-url", "auth", "annotation-body"}
BAD_HEADER_CHARS = ("\r", "\n", "\x00")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # one run of the whole corpus: about 30 s


@dataclass
class Run:
    """What the corpus run produced: one answer per line, the audit and the log."""

    world: World
    values: dict[str, Any]
    answers: list[tuple[Line, Answer]] = field(default_factory=list)
    controls: dict[str, int] = field(default_factory=dict)
    audit: Audit = field(default_factory=Audit)
    records: list[logging.LogRecord] = field(default_factory=list)


class Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def placeholders(world: World, client: TestClient) -> dict[str, Any]:
    bbox = world.inner_bbox()
    w, s, e, n = bbox
    token = world.tokens["alice"]
    hood = client.get(f"/api/projects/{PROJECT}/neighbourhoods", headers={"Authorization": f"Bearer {token}"})
    name = hood.json()["items"][0]["name"]
    groups = client.get(f"/api/projects/{PROJECT}/neighbourhoods/{name}/groups",
                        headers={"Authorization": f"Bearer {token}"}).json()
    return {"CITY": CITY, "PROJECT": PROJECT, "ROOT": str(world.root),
            "ROOTQ": urllib.parse.quote(str(world.root), safe=""), "BBOX": ",".join(f"{v:.7f}" for v in bbox),
            "BBOXLIST": list(bbox), "LON": f"{(w + e) / 2:.7f}", "LAT": f"{(s + n) / 2:.7f}", "HOOD": name,
            "GROUP": groups[0]["key"], "TOKEN": token, "LONGTOKEN": "mcae_" + "A" * 8000,
            "LAYERBOX": list(world.store.layer(CITY, "mcae").bounds), "MANYDIGITS": "9" * 5000}


def request_of(line: Line, run: Run) -> tuple[str, str, list[tuple[str, str]], bytes, bool]:
    values = run.values
    headers = [(k, fill(v, values)) for k, v in line.headers.items()]
    if line.auth:
        headers.append(("Authorization", f"Bearer {run.world.tokens[line.auth]}"))
    body = b""
    if line.recipe:
        body = RECIPES[line.recipe](values)
    elif line.raw is not None:
        body = fill(line.raw, values).encode()
    elif line.body is not None:  # a JSON body
        body = json.dumps(fill_json(line.body, values)).encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
    return line.method, fill(line.target, values), headers, body, line.recipe in STREAMED


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, template_project: Path) -> Iterator[Run]:
    world = make_world(tmp_path_factory.mktemp("rel-hostile") / "data", template_project)
    app = world.app()
    records: list[logging.LogRecord] = []
    handler = Collect(records)
    root_logger = logging.getLogger()
    with TestClient(app) as client, pytest.MonkeyPatch.context() as mp:
        result = Run(world, placeholders(world, client), records=records)
        client.app.state.readers.clear()  # type: ignore[attr-defined]  # so that every open below is a real one, seen by the spy
        root_logger.addHandler(handler)
        try:
            lines = read_corpus()
            with audit(mp) as found:
                result.audit = found
                _controls(client, result)
                for line in lines:
                    method, target, headers, body, streamed = request_of(line, result)
                    answer = client.portal.call(send_raw, app, method, target, headers, body, streamed)
                    result.answers.append((line, answer))
        finally:
            root_logger.removeHandler(handler)
            client.app.state.readers.clear()  # type: ignore[attr-defined]
        yield result


def _controls(client: TestClient, run: Run) -> None:
    """Legitimate requests inside the audit: they prove the spy sees what the server opens."""
    v = run.values
    auth = {"Authorization": f"Bearer {v['TOKEN']}"}
    for name, path in {
            "tile": f"/cities/{CITY}/layers/mcae/tiles/WebMercatorQuad/18/217566/106391",
            "statistics": f"/api/cities/{CITY}/layers/mcae/statistics?bbox={v['BBOX']}",
            "clip": f"/api/cities/{CITY}/layers/mcae/clip?bbox={v['BBOX']}",
            "identify": f"/api/cities/{CITY}/identify?lon={v['LON']}&lat={v['LAT']}",
            "image": f"/api/projects/{PROJECT}/patches/0-0/image.png"}.items():
        run.controls[name] = client.get(path, headers=auth if name == "image" else {}).status_code


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    lines = read_corpus()
    kinds = Counter(line.kind for line in lines)
    assert len(lines) >= 150, len(lines)
    assert set(kinds) >= REQUIRED_KINDS, REQUIRED_KINDS - set(kinds)
    assert len({(x.method, x.target, x.auth, json.dumps(x.body), x.raw, x.recipe, json.dumps(x.headers))
                for x in lines}) == len(lines), "a line is written twice"
    assert {x.recipe for x in lines if x.recipe} <= set(RECIPES)


def test_every_hostile_request_gets_its_status(run: Run) -> None:
    wrong = [f"{line}: expected {line.expect}, got {a.status} {a.text[:200]} {a.error or ''}"
             for line, a in run.answers if not line.allows(a.status)]
    assert not wrong, "\n".join(wrong)
    assert not [a for _, a in run.answers if a.status >= 500]


def test_errors_are_json_messages_that_name_no_server_path(run: Run) -> None:
    markers = {str(run.world.root), str(REPO), sys.prefix, "/work/", "/tmp/", "/usr/", "site-packages",
               "Traceback", 'File "', "/etc/passwd:"}
    bad = []
    for line, a in run.answers:
        if a.status < 400:
            continue
        sent = (urllib.parse.unquote(fill(line.target, run.values)) + fill(line.raw or "", run.values)
                + json.dumps(fill_json(line.body, run.values)))
        if not (a.header("content-type") or "").startswith("application/json"):
            bad.append(f"{line}: {a.header('content-type')} {a.text[:100]}")
            continue
        if a.header("cache-control") != "no-store":
            bad.append(f"{line}: cache-control {a.header('cache-control')}")
        if not message_of(json.loads(a.body)).strip():
            bad.append(f"{line}: no message in {a.text[:200]}")
        # what the client sent may come back (FastAPI's 422 names the input); nothing else may
        leaks = [m for m in markers if m in a.text and m not in sent]
        if leaks:
            bad.append(f"{line}: {leaks} in {a.text[:300]}")
    assert not bad, "\n".join(bad)


def test_no_header_carries_injected_lines(run: Run) -> None:
    bad = [f"{line}: {k}: {v!r}" for line, a in run.answers for k, v in a.headers
           if any(c in v for c in BAD_HEADER_CHARS) or any(c in k for c in BAD_HEADER_CHARS)]
    assert not bad, "\n".join(bad)
    for line, a in run.answers:
        disposition = a.header("content-disposition")
        if disposition:  # only a plain file name of ids, never one the request spelt
            assert "/" not in disposition and '";' not in disposition, (str(line), disposition)


def test_expected_answers_hold_what_they_must(run: Run) -> None:
    for line, a in run.answers:
        if line.expect_json:
            body = json.loads(a.body)
            assert {k: body.get(k) for k in line.expect_json} == line.expect_json, (str(line), a.text[:300])


def test_no_file_outside_the_catalog_folder_is_opened(run: Run) -> None:
    world, found = run.world, run.audit
    assert run.controls == {"tile": 200, "statistics": 200, "clip": 200, "identify": 200, "image": 200}, run.controls
    gdal_paths = [p for _, p in found.gdal]
    assert gdal_paths, "the spy saw nothing: it is not wired where the server opens files"
    jobs = world.settings.jobs_dir
    assert outside(gdal_paths, [jobs, world.project_root.parent], world.layer_files()) == []
    allowed = [world.root, *python_roots(), *CODE_ROOTS, *SYSTEM_ROOTS]
    python_paths = [p for _, p in found.python]
    assert outside(python_paths, allowed, SYSTEM_FILES) == []
    assert any(p.startswith(str(world.root)) for p in python_paths), "the audit hook saw nothing of the data"


def test_tokens_in_urls_are_refused_and_never_logged(run: Run) -> None:
    token = run.values["TOKEN"]
    secret = token.split("_", 1)[-1]
    in_url = [(line, a) for line, a in run.answers if line.kind == "token-in-url"]
    assert in_url and all(a.status == 400 for _, a in in_url)
    for line, a in in_url:
        assert secret not in a.text, str(line)
        assert "token" in message_of(json.loads(a.body)).lower() or "authorization" in a.text.lower(), a.text
    logged = [r for r in run.records if secret in _formatted(r)]
    assert not logged, [_formatted(r)[:200] for r in logged]


def test_no_server_fault_was_logged(run: Run) -> None:
    faults = [_formatted(r)[:300] for r in run.records if r.levelno >= logging.ERROR]
    assert not faults, faults


def _formatted(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text + " " + os.fsdecode(str(record.args))
