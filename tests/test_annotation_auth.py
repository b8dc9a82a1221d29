"""Who may do what, on every route of the annotation service (SQLite and PostgreSQL):
no token or a bad one is 401 everywhere; each role is refused (403) where it is not enough.
Tokens are kept hashed and never appear in responses or logs."""

from __future__ import annotations

import logging
import re

import pytest
from annotation_fixtures import Service
from sqlalchemy import select

from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Token

ORDER = ["viewer", "annotator", "reviewer", "admin"]
USER_OF = {"viewer": "vera", "annotator": "alice", "reviewer": "rita", "admin": "admin"}
NEEDS = {  # (method, path template) -> the least role
    ("post", "/api/projects/{project}/decisions/{decision}/review"): "reviewer",
    ("get", "/api/projects/{project}/agreement"): "reviewer",
    ("patch", "/api/projects/{project}"): "admin",
    ("get", "/api/projects/{project}/queue"): "annotator",
    ("get", "/api/projects/{project}/decisions.jsonl"): "annotator",
    ("get", "/api/projects/{project}/rebuild/preview"): "annotator",
    ("post", "/api/cities/{city}/layers/{layer}/rollback"): "admin",
    ("get", "/api/projects/{project}/dataset.zip"): "reviewer",  # downloads.dataset_roles default
}


def service_routes(service: Service) -> list[tuple[str, str]]:
    doc = service.client.get("/openapi.json").json()
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if any(tag.startswith("Annotation") for tag in op.get("tags", [])):
                out.append((method, path))
    return out


def least_role(method: str, path: str) -> str:
    return NEEDS.get((method, path), "viewer" if method == "get" else "annotator")


def concrete(service: Service, path: str) -> str:
    group = service.groups()[0]
    mask = service.masks(group)[0]
    values = {"project": service.project, "hood": group["neighbourhood"], "group": group["key"],
              "patch": mask["patch"], "mask": str(mask["mask_id"]), "decision": "1", "city": "test-city",
              "layer": "mcae", "refinement": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_the_service_has_its_routes(service: Service) -> None:
    routes = service_routes(service)
    assert len(routes) >= 30
    assert ("post", "/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/decisions") in routes


def test_every_route_needs_a_valid_token(service: Service) -> None:
    for method, path in service_routes(service):
        url = concrete(service, path)
        for headers in ({}, {"Authorization": "Bearer mcae_0123456789ab_wrong"},
                        {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
            r = service.client.request(method.upper(), url, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
            assert r.json()["detail"] and r.headers["www-authenticate"].lower().startswith("bearer")


def test_every_route_refuses_roles_below_its_own(service: Service) -> None:
    checked = 0
    for method, path in service_routes(service):
        need = least_role(method, path)
        url = concrete(service, path)
        for role in ORDER[:ORDER.index(need)]:
            r = service.client.request(method.upper(), url, headers=service.auth(USER_OF[role]), json={})
            assert r.status_code == 403, (method, path, role, r.status_code, r.text)
            assert need in r.json()["detail"]
            checked += 1
        # the least role gets past authorisation (whatever the body makes of it then)
        r = service.client.request(method.upper(), url, headers=service.auth(USER_OF[need]), json={})
        assert r.status_code not in (401, 403), (method, path, need, r.status_code, r.text)
    assert checked >= 15


def test_maps_need_no_token(service: Service) -> None:
    assert service.client.get("/api/cities").status_code == 200
    assert service.client.get("/healthz").status_code == 200


def test_tokens_are_hashed_at_rest_and_never_echoed(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    db = Database(service.url)
    with db.reader() as session:
        stored = list(session.scalars(select(Token)))
    db.dispose()
    assert stored
    for token in service.tokens.values():
        secret = token.split("_", 2)[2]
        for row in stored:
            assert secret not in (row.secret_hash, row.salt, row.id)
    bad = "mcae_0123456789ab_this-is-a-secret-value"
    r = service.client.get(service.p(), headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and "this-is-a-secret-value" not in r.text
    assert "this-is-a-secret-value" not in caplog.text
    assert service.tokens["alice"] not in caplog.text
    me = service.get("/api/me", "rita").json()
    assert me == {"id": me["id"], "name": "rita", "role": "reviewer"}
