"""Schemathesis over the app's whole OpenAPI document, in process through ASGI.

Every operation (tiles, analysis, downloads, jobs, STAC, tiling schemes, colormaps and the
annotation API) is fuzzed three ways: with an admin's token, with a viewer's token (the
annotation API: 403 where the role is too low) and without a token (401 there). Every
answer must be under 500, carry a status the document lists for that operation, match
the documented content type, schema and headers, and come within ``TIMEOUT_S``.
Derandomized and bounded per operation, so the run is the same every time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from rel_fuzz_runner import TIMEOUT_S, Tally, fuzz_all, fuzz_operation
from rel_fuzz_world import FuzzWorld, make_fuzz_world
from schemathesis.python.asgi import shutdown_lifespans

REPO = Path(__file__).resolve().parents[2]
SUMMARY = REPO / "artifacts" / "reliability" / "schema_fuzz.json"
ANNOTATION = ("/api/me", "/api/projects")
EXAMPLES = {"admin": 24, "none": 6, "viewer": 8}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
# the decisions load takes JSON Lines: generated text is sent as it is
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def annotation(operation: Any) -> bool:
    return operation.path.startswith(ANNOTATION)


@pytest.fixture(scope="module")
def world(template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    found = make_fuzz_world(tmp_path_factory.mktemp("schema-fuzz"), template_project)
    yield found
    shutdown_lifespans()  # the app's lifespan, which schemathesis' ASGI client started
    found.app.state.database.dispose()


@pytest.fixture(scope="module")
def schema(world: FuzzWorld) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", world.app)


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


def test_with_an_admin_token(schema: Any, world: FuzzWorld, tally: Tally) -> None:
    ran = Tally()
    fuzz_all(schema, world.bearer("admin"), world.real_ids, ran, lambda op: EXAMPLES["admin"])
    _merge(tally, ran, "admin")
    assert not ran.failures, ran.report("with an admin token")


def test_without_a_token(schema: Any, world: FuzzWorld, tally: Tally) -> None:
    ran = Tally()
    fuzz_all(schema, {}, world.real_ids, ran, lambda op: EXAMPLES["none"])
    _merge(tally, ran, "none")
    assert not ran.failures, ran.report("without a token")
    assert all(s < 500 for s in ran.statuses)


def test_with_a_viewer_token(schema: Any, world: FuzzWorld, tally: Tally) -> None:
    ran = Tally()
    fuzz_all(schema.include(path_regex="^/api/(me|projects)"), world.bearer("vera"), world.real_ids, ran,
             lambda op: EXAMPLES["viewer"])
    _merge(tally, ran, "viewer")
    assert not ran.failures, ran.report("with a viewer token")


class Mutant:
    """The app, answering its errors without ``Cache-Control`` and its 404s as 418."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def mutated(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400 \
                    and scope.get("path") != "/openapi.json":
                message = {**message, "status": 418 if message["status"] == 404 else message["status"],
                           "headers": [(k, v) for k, v in message["headers"] if k.lower() != b"cache-control"]}
            await send(message)

        await self.app(scope, receive, mutated)


def test_the_checks_catch_a_broken_answer(world: FuzzWorld) -> None:
    """The same fuzzing fails an app that drops a documented header or answers an undocumented status."""
    mutant = schemathesis.openapi.from_asgi("/openapi.json", Mutant(world.app))
    ran = Tally()
    fuzz_operation(mutant["/api/projects/{project}"]["GET"], world.bearer("admin"), world.real_ids, ran, 8)
    text = ran.report("mutant")
    assert "Missing required response headers" in text and "Undocumented status code" in text, text


def test_summary(schema: Any, tally: Tally) -> None:
    """Every operation was fuzzed, none answered 5xx; the figures go to artifacts/."""
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert operations and set(tally.operations) == operations, sorted(operations - set(tally.operations))
    assert tally.server_errors == 0 and tally.hangs == 0
    line = (f"{tally.requests} requests fuzzed over {len(operations)} operations, "
            f"{tally.server_errors} 5xx, {tally.hangs} hangs (timeout {TIMEOUT_S:.0f} s)")
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps({"summary": line, "requests": tally.requests, "operations": len(operations),
                                   "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
                                   "by_operation": {label: {str(k): v for k, v in sorted(answers.items())}
                                                    for label, answers in sorted(tally.answers.items())},
                                   "slowest_s": {label: round(s, 2) for label, s in tally.seconds.most_common(8)}},
                                  indent=2) + "\n")
    print(line)


def _merge(total: Tally, ran: Tally, who: str) -> None:
    total.requests += ran.requests
    total.hangs += ran.hangs
    total.statuses.update(ran.statuses)
    total.operations.update(ran.operations)
    total.seconds.update(ran.seconds)
    for label, answers in ran.answers.items():
        total.answers.setdefault(label, Counter()).update(answers)
    for label, texts in ran.failures.items():
        total.failures.setdefault(f"{who}: {label}", texts)

