"""Fixtures of the annotation service tests: a small segmented project, a database on SQLite
or on a throwaway PostgreSQL cluster, and an app with users of every role.

PostgreSQL: one cluster per test session (Debian's binaries, as root through ``runuser``,
on a loopback port), a fresh database per test module. Without the binaries the PostgreSQL
half fails loudly in CI (``CI`` set) and skips elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from benchmarks.harness import free_port as _free_port
from benchmarks.scenes import blocky_scene, write_tif
from mcae.inference.compute import executor
from mcae.inference.decisions import Decision, read_decisions, record_decisions, resolve
from mcae.inference.groups import build_groups
from mcae.inference.segment import SegmentOptions, prepare_project, segment_patches
from mcae.platform.annotation.auth import add_user
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import import_project
from mcae.platform.annotation.tokens import ScryptParams


def _pg_bin() -> Path:
    """Debian's PostgreSQL binaries (the newest installed version), or MCAE_PG_BIN."""
    if "MCAE_PG_BIN" in os.environ:
        return Path(os.environ["MCAE_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
FAST_SCRYPT = ScryptParams(n=1024, r=8, p=1)  # tests only: the default is 16384
ROLES = {"admin": "admin", "alice": "annotator", "bob": "annotator", "rita": "reviewer", "vera": "viewer"}


def build_project(root: Path, seed: int = 5, size: tuple[int, int] = (480, 480), patch: int = 96) -> Path:
    """A georeferenced scene segmented into 5 x 5 patches of 96 px (4 neighbourhoods, about
    240 masks in 16 groups), clustered; no model yet."""
    root.mkdir(parents=True, exist_ok=True)
    image, labels = blocky_scene(*size, seed=seed, objects=200)
    scene = write_tif(root / "scene.tif", image)
    write_tif(root / "truth.tif", labels)
    project = prepare_project(scene, root / "project", SegmentOptions(generator="superpixel", patch_size=patch))
    with executor("synchronous", None, True) as run:
        segment_patches(project, run)
        build_groups(project, run)
    return root / "project"


@pytest.fixture(scope="session")
def template_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("annotation-template"))


def copy_project(template: Path, dest: Path) -> Path:
    shutil.copytree(template.parent, dest)
    return dest / "project"


# -- PostgreSQL ------------------------------------------------------------------------------



@dataclass
class PgCluster:
    port: int
    folder: Path
    databases: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://mcae@127.0.0.1:{self.port}/{name}"

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=mcae dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)


def _as_postgres(*args: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


@contextlib.contextmanager
def throwaway_cluster(prefix: str = "mcae-pg-") -> Iterator[PgCluster]:
    """A PostgreSQL cluster of Debian's binaries on a free loopback port, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o777)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = _free_port()
    data = folder / "data"
    subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "mcae"),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o",
                                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on "
                                "-c max_connections=200", "-l", str(folder / "log"), "-w", "start"),
                   check=True, capture_output=True)
    try:
        yield PgCluster(port, folder)
    finally:
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if not (PG_BIN / "initdb").exists():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL binaries not found in {PG_BIN}: `make test` installs Debian's postgresql")
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty database per module: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'annotation.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture(scope="module")
def db(db_url: str) -> Iterator[Database]:
    """The module's database (``db_url``, SQLite then PostgreSQL), migrated, with its users."""
    seed_users(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


# -- the app ---------------------------------------------------------------------------------

@dataclass
class Service:
    client: TestClient
    tokens: dict[str, str]
    project: str
    root: Path
    url: str
    used: set[tuple[str, str]] = field(default_factory=set)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, path: str, user: str = "alice", **kw):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers={**self.auth(user), **kw.pop("headers", {})}, **kw)

    def post(self, path: str, user: str = "alice", **kw):  # type: ignore[no-untyped-def]
        return self.client.post(path, headers={**self.auth(user), **kw.pop("headers", {})}, **kw)

    def put(self, path: str, user: str = "alice", **kw):  # type: ignore[no-untyped-def]
        return self.client.put(path, headers={**self.auth(user), **kw.pop("headers", {})}, **kw)

    def p(self, rest: str = "") -> str:
        return f"/api/projects/{self.project}{rest}"

    def groups(self, user: str = "alice") -> list[dict]:  # type: ignore[type-arg]
        """Every group of the project, neighbourhood by neighbourhood."""
        out = []
        for hood in self.get(self.p("/neighbourhoods"), user).json()["items"]:
            out += self.get(self.p(f"/neighbourhoods/{hood['name']}/groups"), user).json()
        return out

    def take_group(self, min_size: int = 3) -> dict:  # type: ignore[type-arg]
        """A group no earlier test of the module has used (fresh state)."""
        for group in self.groups():
            key = (group["neighbourhood"], group["key"])
            if key not in self.used and group["size"] >= min_size and group["decided"] == 0:
                self.used.add(key)
                return group
        raise AssertionError("the test project ran out of fresh groups")

    def group_url(self, group: dict, rest: str = "") -> str:  # type: ignore[type-arg]
        return self.p(f"/neighbourhoods/{group['neighbourhood']}/groups/{group['key']}{rest}")

    def masks(self, group: dict, user: str = "alice", **params: object) -> list[dict]:  # type: ignore[type-arg]
        return self.get(self.group_url(group, "/masks"), user, params={"per_page": 500, **params}).json()["items"]


def seed_users(url: str) -> dict[str, str]:
    """Migrate ``url`` and add one user per role; returns their tokens."""
    db = Database(url)
    db.upgrade()
    with db.session() as session:
        tokens = {name: add_user(session, name, role, FAST_SCRYPT, 16)[1] for name, role in ROLES.items()}
    db.dispose()
    return tokens


def seed_database(url: str, project_root: Path, project_id: str = "demo") -> dict[str, str]:
    """Migrate, add one user per role and import the project; returns the tokens."""
    tokens = seed_users(url)
    db = Database(url)
    with db.session() as session:
        import_project(session, project_root, project_id, name="Test city")
    db.dispose()
    return tokens


def make_settings(tmp: Path, url: str, **auth: object):  # type: ignore[no-untyped-def]
    """Settings over ``url``; the failed-authentication backoff is generous (the suite sends
    many bad tokens on purpose from one address) unless ``auth`` says otherwise
    (tests/test_annotation_throttle.py tests the backoff at its defaults)."""
    from mcae.platform.settings import AuthSettings, DatabaseSettings, Settings, TileSettings

    return Settings(tiles=TileSettings(catalog_path=tmp / "catalog.json", web_dist=tmp / "no-web"),
                    database=DatabaseSettings(url=url),
                    auth=AuthSettings(**{"failures_allowed": 100_000, **auth}))


@pytest.fixture(scope="module")
def service(db_url: str, template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The app over a fresh database holding the test project and one user per role."""
    from mcae.platform.app import create_app

    tmp = tmp_path_factory.mktemp("service")
    root = copy_project(template_project, tmp / "city")
    tokens = seed_database(db_url, root)
    with TestClient(create_app(make_settings(tmp, db_url))) as client:
        yield Service(client, tokens, "demo", root, db_url)


def group_decisions_file(project_root: Path, n: int = 3) -> list[Decision]:
    """A few engine decisions (the first groups, class Tree) written into the project's file."""
    from mcae.inference.project import Project

    project = Project.open(project_root)
    groups = project.groups()
    keys = groups[["neighbourhood", "group"]].drop_duplicates().head(n)
    decisions = [Decision.model_validate({"target": "group", "neighbourhood": h, "group": g, "class": "Tree"})
                 for h, g in keys.itertuples(index=False)]
    record_decisions(project, resolve(decisions, groups))
    return read_decisions(project)  # every decision of the file now
