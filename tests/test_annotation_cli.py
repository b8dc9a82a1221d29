"""The annotation service from the command line: migrations, users and tokens, projects, and the
engine's commands reading and writing the database's decisions (SQLite; PostgreSQL for the
refusal of an unmigrated database)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from annotation_fixtures import FAST_SCRYPT, PgCluster, copy_project, group_decisions_file, make_settings
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_pipeline import mcae

from mcae.platform.annotation.db import Database, DatabaseNotMigrated, head_revision
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
    assert code == 0 and "none -> " in out and head_revision() in out.replace("\n", "") and "mcae@" in out
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
    from mcae.platform.annotation.models import History

    with db.reader() as session:
        stored = session.scalar(select(Token).join(User).where(User.name == "carla"))
        assert stored is not None and token.split("_", 2)[2] not in stored.secret_hash
        # recorded as the command line's other writes: by the database's own `engine` user
        added = session.execute(select(History.action, User.name).join(User, User.id == History.user_id)
                                .where(History.entity == "user")).all()
        assert [tuple(row) for row in added] == [("add", "engine")]
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


@pytest.fixture
def database_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URL of every ``Database`` made from here on (a command opens its database once)."""
    opened: list[str] = []
    made = Database.__init__

    def counting(self: Database, url: str, *args: object, **kwargs: object) -> None:
        opened.append(url)
        made(self, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Database, "__init__", counting)
    return opened


def opens_of(opened: list[str], *args: str | Path) -> int:
    """Run one command; how many times it opened a database."""
    opened.clear()
    code, out = mcae(*args)
    assert code == 0, out
    return len(opened)


def test_engine_commands_use_the_database_once_it_holds_the_project(cli_env: Path, template_project: Path,
                                                                     tmp_path: Path,
                                                                     database_opens: list[str]) -> None:
    root = copy_project(template_project, tmp_path / "city")
    group_decisions_file(root, n=4)
    code, out = mcae("projects", "add", root, "--id", "town", "--city", "town")
    assert code == 0 and "4 decisions imported" in out, out
    code, out = mcae("projects", "list")
    assert "town" in out and "masks decided" in out
    # the engine's file is no longer the store: a new decision goes to the database, recorded as
    # the API records a Load (by the database's own `engine` user, now), whatever the file says
    extra = tmp_path / "more.jsonl"
    group = json.loads(next(line for line in (root / "decisions.jsonl").read_text().splitlines()))
    extra.write_text(json.dumps({"target": "mask", "patch": group["masks"][0][0], "mask": group["masks"][0][1],
                                 "class": "Water", "author": "mallory", "at": "2001-02-03T04:05:06+00:00",
                                 "source": "forged", "model_version": "forged"}) + "\n")
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert opens_of(database_opens, "label", "--project", root, "--decisions", extra) == 1
    assert len((root / "decisions.jsonl").read_text().splitlines()) == 4  # the old file is untouched
    assert opens_of(database_opens, "groups", "--project", root, "--all") == 1
    assert opens_of(database_opens, "train", "--project", root, "--scheduler", "synchronous", "-q") == 1
    db = Database(f"sqlite:///{cli_env / 'annotation.db'}")
    from mcae.platform.annotation.importer import engine_decisions
    from mcae.platform.annotation.models import History, Project, Training

    with db.reader() as session:
        decisions = engine_decisions(session, "town")
        trainings = list(session.scalars(select(Training)))
        engine = session.scalar(select(User).where(User.name == "engine"))
        imports = list(session.scalars(select(History).where(History.action == "import").order_by(History.id)))
        model_version = session.get(Project, "town").model_version  # type: ignore[union-attr]
    db.dispose()
    assert len(decisions) == 5 and decisions[-1].target == "mask" and decisions[-1].class_id == 6
    assert engine is not None and not engine.active
    written = decisions[-1]
    assert written.author == "engine" and written.source == "file" and written.model_version is None
    assert written.at is not None and dt.datetime.fromisoformat(written.at) >= started
    assert len(trainings) == 1 and trainings[0].decisions == 5 and trainings[0].user_id == engine.id
    assert len(imports) == 2 and {i.user_id for i in imports} == {engine.id}  # projects add, then train
    assert model_version == trainings[0].model_version
    assert opens_of(database_opens, "map", "--project", root, "--out", tmp_path / "map.tif") == 1
    import rasterio

    with rasterio.open(tmp_path / "map.tif") as src:
        assert int(src.tags()["MCAE_DECIDED_MASKS"]) == len({(p, m) for d in decisions for p, m in (d.masks or [])}
                                                           | {(d.patch, d.mask) for d in decisions if d.mask})
    assert opens_of(database_opens, "export-dataset", "--project", root, "--out", tmp_path / "dataset", "-q") == 1
    manifest = json.loads((tmp_path / "dataset" / "manifest.json").read_text())
    assert manifest["dense_patches"] == [] and all("label_dense" not in item for item in manifest["items"])
    # the simulated expert reads the decisions in force, adds its own and counts them: one database
    assert opens_of(database_opens, "label", "--project", root, "--reference", root.parent / "truth.tif",
                    "--budget", "2", "--scheduler", "synchronous", "-q") == 1
    db = Database(f"sqlite:///{cli_env / 'annotation.db'}")
    with db.reader() as session:
        simulated = engine_decisions(session, "town")[5:]
    db.dispose()
    assert simulated and {(d.author, d.source) for d in simulated} == {("engine", "simulated")}
    # the commands read the decisions from a file of their own, spooled from the database: gone after
    assert not list(root.glob(".mcae-decisions-*")) and not list(root.glob(".rebuild-*"))


def test_the_platform_commands_run_without_the_engine_extra(cli_env: Path) -> None:
    """The slim image installs no torch, torchvision or segment-anything (pyproject's `engine` extra):
    the CLI, its help and the annotation commands still work there."""
    import subprocess
    import sys

    script = ("import sys\n"
              "for name in ('torch', 'torchvision', 'segment_anything'):\n"
              "    sys.modules[name] = None  # import fails, as where they are not installed\n"
              "from typer.testing import CliRunner\n"
              "from mcae.platform.cli import get_app\n"
              "for args in (['--help'], ['users', 'add', 'erin'], ['users', 'list'], ['db', 'current'],\n"
              "             ['projects', 'list']):\n"
              "    done = CliRunner().invoke(get_app(), args)\n"
              "    print(args, done.exit_code, repr(done.exception), done.output)\n"
              "    assert done.exit_code == 0 and done.exception is None\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "erin\tannotator\tactive\t1 token(s)" in done.stdout


@pytest.mark.parametrize("args", [("users", "list"), ("db", "current"), ("db", "upgrade"), ("projects", "list")])
def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    """No server on the port, or a SQLite folder that cannot be made: one line naming the database
    without its password, exit 3, never a traceback."""
    (tmp_path / "a-file").write_text("")
    for url in ("postgresql://mcae:hunter2@127.0.0.1:1/x", f"sqlite:///{tmp_path / 'a-file' / 'annotation.db'}"):
        code, out = mcae(*args, "--database", url)
        assert code == 3, out
        assert out.startswith("error: cannot open the annotation database ") and out.strip().count("\n") == 0, out
        assert "hunter2" not in out and "Traceback" not in out
