"""Guessing tokens at scale is refused (SQLite and PostgreSQL): failures back off per client
address and per token id (429 + Retry-After), a repeated wrong token costs no second scrypt,
scrypt runs in capped slots (503 beyond), and a revoke, a disable or a role change made by
another process applies to a worker's very next request. No assertion depends on timing:
the backoff's clock is the test's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from annotation_fixtures import copy_project, make_settings, seed_database
from fastapi.testclient import TestClient
from sqlalchemy import select

from mcae.platform.annotation import auth
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import User
from mcae.platform.annotation.throttle import Backoff

ME = "/api/me"
ALLOWED = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, template_project: Path, tmp_path: Path) -> Iterator[dict]:  # type: ignore[type-arg]
    """Two 'workers' (apps) over one fresh database, a throttle of ``ALLOWED`` failures and a fake clock."""
    from mcae.platform.annotation.throttle import AuthGuard
    from mcae.platform.app import create_app

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'annotation.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").create_database()
    tokens = seed_database(url, copy_project(template_project, tmp_path / "city"))
    settings = make_settings(tmp_path, url, failures_allowed=ALLOWED, backoff_base_s=2.0, failure_window_s=60.0,
                             max_concurrent_verifications=1)
    clock = Clock()
    apps = [create_app(settings), create_app(settings)]
    with TestClient(apps[0], client=("10.0.0.1", 1000)) as one, TestClient(apps[1]) as two:
        for app in apps:
            app.state.auth_guard = AuthGuard.from_settings(settings.auth, clock)
        yield {"one": one, "two": two, "tokens": tokens, "clock": clock, "url": url}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wrong(token: str, n: int = 0) -> str:
    """The token's id with a wrong secret."""
    prefix, token_id, _ = token.split("_", 2)
    return f"{prefix}_{token_id}_wrong{n}"


def counting_verify(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = auth.verify

    def verify(*args: object) -> bool:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(auth, "verify", verify)
    return calls


def test_failures_from_one_address_back_off_doubling(world: dict) -> None:  # type: ignore[type-arg]
    client, clock = world["one"], world["clock"]
    for n in range(ALLOWED):
        assert client.get(ME, headers=bearer(f"mcae_{n:012x}_guess")).status_code == 401
    r = client.get(ME, headers=bearer("mcae_0000000000ff_guess"))
    assert r.status_code == 429 and r.headers["retry-after"] == "2" and "try again" in r.json()["detail"]
    # the address is held back even with a good token it has not used yet
    assert client.get(ME, headers=bearer(world["tokens"]["alice"])).status_code == 429
    clock.now += 2.0
    assert client.get(ME, headers=bearer("mcae_0000000000fe_guess")).status_code == 401  # one more failure ...
    r = client.get(ME, headers=bearer("mcae_0000000000fd_guess"))
    assert r.status_code == 429 and r.headers["retry-after"] == "4"  # ... doubles the wait
    # another address is not held back
    assert world["two"].get(ME, headers=bearer(world["tokens"]["alice"])).json()["name"] == "alice"
    clock.now += 4.0 + 60.0 + 1
    assert client.get(ME, headers=bearer(world["tokens"]["alice"])).json()["name"] == "alice"  # forgotten


def test_guesses_at_one_token_id_from_many_addresses_back_off(world: dict) -> None:  # type: ignore[type-arg]
    alice = world["tokens"]["alice"]
    one = world["one"]
    assert one.get(ME, headers=bearer(alice)).status_code == 200  # this worker verified her token already
    app = one.app
    for n in range(ALLOWED):
        with TestClient(app, client=(f"192.0.2.{n}", 1000)) as other:
            assert other.get(ME, headers=bearer(wrong(alice, n))).status_code == 401
    with TestClient(app, client=("192.0.2.200", 1000)) as fresh:
        r = fresh.get(ME, headers=bearer(wrong(alice, 99)))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert fresh.get(ME, headers=bearer(alice)).status_code == 200  # her own token still works


def test_a_repeated_wrong_secret_costs_one_scrypt(world: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    calls = counting_verify(monkeypatch)
    two, token = world["two"], wrong(world["tokens"]["rita"])
    for _ in range(ALLOWED - 1):  # (one more would hold the address back)
        assert two.get(ME, headers=bearer(token)).status_code == 401
    assert len(calls) == 1
    # a good token is verified once per worker, then read (not re-hashed) on every request
    for _ in range(3):
        assert two.get(ME, headers=bearer(world["tokens"]["vera"])).status_code == 200
    assert len(calls) == 2


def test_scrypt_runs_in_capped_slots(world: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    calls = counting_verify(monkeypatch)
    two = world["two"]
    slots = two.app.state.auth_guard.slots
    assert slots.slots == 1
    assert slots._free.acquire(blocking=False)  # the one slot is busy (a verification in flight)
    try:
        r = two.get(ME, headers=bearer(world["tokens"]["bob"]))
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and calls == []
    finally:
        slots._free.release()
    assert two.get(ME, headers=bearer(world["tokens"]["bob"])).status_code == 200


def test_revoke_disable_and_role_changes_reach_every_worker_at_once(world: dict) -> None:  # type: ignore[type-arg]
    one, two, tokens = world["one"], world["two"], world["tokens"]
    for client in (one, two):  # both workers know (and cached) the tokens
        assert client.get(ME, headers=bearer(tokens["alice"])).json()["role"] == "annotator"
        assert client.get(ME, headers=bearer(tokens["bob"])).status_code == 200
        assert client.get(ME, headers=bearer(tokens["rita"])).status_code == 200
    db = Database(world["url"])  # another process: the CLI
    with db.session() as session:
        alice = session.scalar(select(User).where(User.name == "alice"))
        assert alice is not None and auth.revoke_tokens(session, alice) == 1
        bob = session.scalar(select(User).where(User.name == "bob"))
        assert bob is not None
        bob.active = False
        rita = session.scalar(select(User).where(User.name == "rita"))
        assert rita is not None
        rita.role = "viewer"
    db.dispose()
    for client in (one, two):  # the very next request, no wait
        assert client.get(ME, headers=bearer(tokens["alice"])).status_code == 401
        assert client.get(ME, headers=bearer(tokens["bob"])).status_code == 401
        assert client.get(ME, headers=bearer(tokens["rita"])).json()["role"] == "viewer"


def test_backoff_alone() -> None:
    clock = Clock()
    backoff = Backoff(allowed=2, window_s=10, base_s=1, max_s=5, clock=clock)
    backoff.fail("a")
    assert backoff.wait_s("a") == 0
    backoff.fail("a")
    assert backoff.wait_s("a") == 1
    for _ in range(10):
        backoff.fail("a")
    assert backoff.wait_s("a") == 5  # capped
    clock.now += 5 + 10 + 0.1
    assert backoff.wait_s("a") == 0 and backoff.wait_s("b") == 0
