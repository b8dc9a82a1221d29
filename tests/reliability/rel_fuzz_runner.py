"""Schemathesis, operation by operation, with a tally: every generated request is sent in
process (ASGI) and checked; failures are collected (not raised) so one run reports every
operation that misbehaves, and nothing is shrunk (the run stays bounded).

Each operation gets cases of three kinds: positive (valid by the schema), negative (invalid
by the schema: the app must refuse them with a documented 4xx) and positive with the path
parameters aimed at ids that exist (``real_ids``), so that handlers run past their 404s.
Hypothesis is derandomized: the same code generates the same requests.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rel_fuzz_aims import aimed_hooks
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
TIMEOUT_S = 30.0  # per request: an answer slower than this is a hang
MAX_FAILURES_SHOWN = 3  # per operation


@dataclass
class Tally:
    """What the fuzzer sent and got back, over every run of a module."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    answers: dict[str, Counter[int]] = field(default_factory=dict)  # operation -> status -> count
    seconds: Counter[str] = field(default_factory=Counter)  # operation -> time spent
    failures: dict[str, list[str]] = field(default_factory=dict)
    hangs: int = 0

    def fail(self, label: str, text: str) -> None:
        shown = self.failures.setdefault(label, [])
        if len(shown) < MAX_FAILURES_SHOWN:
            shown.append(text)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def report(self, title: str) -> str:
        lines = [f"{title}: {len(self.failures)} operations failed"]
        for label, texts in sorted(self.failures.items()):
            lines += [f"--- {label}", *texts]
        return "\n".join(lines)


def aimed_parameters(operation: Any, real_ids: dict[str, list[Any]], limit: int = 12) -> list[dict[str, Any]]:
    """Combinations of existing ids for the operation's path parameters that have some."""
    names = [p.name for p in operation.path_parameters if p.name in real_ids]
    if not names:
        return []
    combos = itertools.product(*(real_ids[name] for name in names))
    return [dict(zip(names, combo, strict=True)) for combo in itertools.islice(combos, limit)]


def case_strategy(operation: Any, headers: dict[str, str], real_ids: dict[str, list[Any]]) -> st.SearchStrategy:
    """Positive, negative and (twice as often) aimed cases of one operation."""
    hooks = aimed_hooks(real_ids)
    aimed = aimed_parameters(operation, real_ids)
    if aimed:
        target = st.sampled_from(aimed).flatmap(lambda fixed: operation.as_strategy(
            GenerationMode.POSITIVE, headers=headers, path_parameters=fixed, hooks=hooks))
    else:
        target = operation.as_strategy(GenerationMode.POSITIVE, headers=headers, hooks=hooks)
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE, headers=headers),
                     operation.as_strategy(GenerationMode.NEGATIVE, headers=headers), target, target)


def fuzz_operation(operation: Any, headers: dict[str, str], real_ids: dict[str, list[Any]], tally: Tally,
                   max_examples: int) -> None:
    """Send up to ``max_examples`` generated requests to ``operation``, checking each answer."""
    label = operation.label

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=case_strategy(operation, headers, real_ids))
    def run(case: Any) -> None:
        tally.requests += 1
        tally.operations[label] += 1
        try:
            response = case.call(timeout=TIMEOUT_S)
        except requests.exceptions.Timeout:
            tally.hangs += 1
            tally.fail(label, f"no answer within {TIMEOUT_S} s: {case.as_curl_command()}")
            return
        except Exception as exc:  # the app raised past its handlers (its client got a 500)
            tally.statuses[500] += 1
            tally.fail(label, f"500 the app raised {type(exc).__name__}: {_short(exc)}\n    {case.as_curl_command()}")
            return
        tally.statuses[response.status_code] += 1
        tally.answers.setdefault(label, Counter())[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as exc:  # FailureGroup: several checks failed
            tally.fail(label, f"{response.status_code} {_short(exc)}\n    {case.as_curl_command()}\n"
                              f"    body: {response.text[:300]!r}")

    started = time.perf_counter()
    try:
        run()
    except Exception as exc:  # generation itself failed: a schema the fuzzer cannot use is a failure too
        tally.fail(label, f"could not generate cases: {type(exc).__name__}: {_short(exc)}")
    tally.seconds[label] += time.perf_counter() - started


def fuzz_all(schema: Any, headers: dict[str, str], real_ids: dict[str, list[Any]], tally: Tally,
             max_examples: Callable[[Any], int]) -> int:
    """Fuzz every operation of ``schema``; returns how many operations it covered."""
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz_operation(operation, headers, real_ids, tally, max_examples(operation))
        count += 1
    return count


def _short(exc: BaseException, limit: int = 600) -> str:
    text = str(exc).strip().replace("\n\n", "\n")
    return text if len(text) <= limit else text[:limit] + " ..."
