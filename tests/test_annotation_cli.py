"""The annotation service from the command line: migrations, users and tokens, projects, and the
engine's commands reading and writing the database's decisions (SQLite; PostgreSQL for the
refusal of an unmigrated database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotation_fixtures import FAST_SCRYPT, PgCluster, copy_project, group_decisions_file, make_settings
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_pipeline import mcae

from mcae.platform.annotation.db import Database, DatabaseNotMigrated
from mcae.platform.annotation.models import Token, User


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog folder of our own, and cheap scrypt for the tokens made here."""
    monkeypatch.setenv("MCAE_TILES__CATALOG_PATH", str(tmp_path / "catalog.json"))
    monkeypatch.setenv("MCAE_AUTH__SCRYPT_N", str(FAST_SCRYPT.n))
    return tmp_path


def test_unmigrated_postgresql_is_refused_naming_the_command(pg_cluster: PgCluster, tmp_path: Path) -> None:
    from mcae.platform.app import create_app

    url = pg_cluster.create_database()
    app = create_app(make_settings(tmp_path, url))
    with pytest.raises(DatabaseNotMigrated, match="mcae db upgrade"), TestClient(app):
        pass
    code, out = mcae("db", "current", "--database", url)
    assert code == 0 and "revision none" in out and "mcae db upgrade" in out
    code, out = mcae("db", "upgrade", "--database", url)
    assert code == 0 and "none -> " in out and "mcae@" in out  # to the head, whichever it is
    with TestClient(create_app(make_settings(tmp_path, url))) as client:
        assert client.get("/healthz").status_code == 200
    code, out = mcae("db", "current", "--database", url)
    assert "up to date" in out


def test_users_get_a_token_once_stored_hashed(cli_env: Path) -> None:
    code, out = mcae("users", "add", "carla", "--role", "reviewer")
    assert code == 0
    token = next(line for line in out.splitlines() if line.startswith("mcae_"))
    code, out = mcae("users", "add", "carla", "--role", "reviewer")
    assert code == 2 and "exists already" in out and "Traceback" not in out
    code, out = mcae("users", "add", "dan", "--role", "wizard")
    assert code == 2 and "unknown role" in out
    code, out = mcae("users", "list")
    assert "carla\treviewer\tactive\t1 token(s)" in out and token not in out
    db = Database(f"sqlite:///{cli_env / 'annotation.db'}")
    with db.reader() as session:
        stored = session.scalar(select(Token).join(User).where(User.name == "carla"))
        assert stored is not None and token.split("_", 2)[2] not in stored.secret_hash
    db.dispose()
    from mcae.platform.app import create_app

    with TestClient(create_app(make_settings(cli_env, f"sqlite:///{cli_env / 'annotation.db'}"))) as client:
        assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "carla"
        code, out = mcae("users", "revoke", "carla")
        assert code == 0 and "revoked 1 token" in out
        # another process revoked it: the server's next request refuses it (no cache to expire)
        assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        # rotation: a new token, the others revoked with it, effective at once
        code, first = mcae("users", "token", "carla")
        assert code == 0
        assert client.get("/api/me", headers={"Authorization": f"Bearer {first.strip()}"}).status_code == 200
        code, second = mcae("users", "token", "carla", "--rotate")
        assert code == 0
        assert client.get("/api/me", headers={"Authorization": f"Bearer {first.strip()}"}).status_code == 401
        assert client.get("/api/me", headers={"Authorization": f"Bearer {second.strip()}"}).json()["name"] == "carla"


def test_engine_commands_use_the_database_once_it_holds_the_project(cli_env: Path, template_project: Path,
                                                                     tmp_path: Path) -> None:
    root = copy_project(template_project, tmp_path / "city")
    group_decisions_file(root, n=4)
    code, out = mcae("projects", "add", root, "--id", "town", "--city", "town")
    assert code == 0 and "4 decisions imported" in out, out
    code, out = mcae("projects", "list")
    assert "town" in out and "masks decided" in out
    # the engine's file is no longer the store: a new decision goes to the database
    extra = tmp_path / "more.jsonl"
    group = json.loads(next(line for line in (root / "decisions.jsonl").read_text().splitlines()))
    extra.write_text(json.dumps({"target": "mask", "patch": group["masks"][0][0], "mask": group["masks"][0][1],
                                 "class": "Water"}) + "\n")
    code, out = mcae("label", "--project", root, "--decisions", extra)
    assert code == 0, out
    assert len((root / "decisions.jsonl").read_text().splitlines()) == 4  # the old file is untouched
    code, out = mcae("train", "--project", root, "--scheduler", "synchronous", "-q")
    assert code == 0 and "trained" in out, out
    db = Database(f"sqlite:///{cli_env / 'annotation.db'}")
    from mcae.platform.annotation.importer import engine_decisions
    from mcae.platform.annotation.models import Training

    with db.reader() as session:
        decisions = engine_decisions(session, "town")
        trainings = list(session.scalars(select(Training)))
    db.dispose()
    assert len(decisions) == 5 and decisions[-1].target == "mask" and decisions[-1].class_id == 6
    assert len(trainings) == 1 and trainings[0].decisions == 5
    code, out = mcae("map", "--project", root, "--out", tmp_path / "map.tif")
    assert code == 0, out
    import rasterio

    with rasterio.open(tmp_path / "map.tif") as src:
        assert int(src.tags()["MCAE_DECIDED_MASKS"]) == len({(p, m) for d in decisions for p, m in (d.masks or [])}
                                                           | {(d.patch, d.mask) for d in decisions if d.mask})
    code, out = mcae("export-dataset", "--project", root, "--out", tmp_path / "dataset", "-q")
    assert code == 0, out
    manifest = json.loads((tmp_path / "dataset" / "manifest.json").read_text())
    assert manifest["dense_patches"] == [] and all("label_dense" not in item for item in manifest["items"])
