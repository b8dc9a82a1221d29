"""The demo's annotation service: its project in the database and two experts with tokens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mcae.platform.annotation.auth import add_user
from mcae.platform.annotation.db import is_sqlite, open_database
from mcae.platform.annotation.importer import import_project
from mcae.platform.annotation.tokens import ScryptParams
from mcae.platform.settings import Settings

DEMO_USERS = (("annotator", "annotator"), ("reviewer", "reviewer"), ("admin", "admin"))
TOKENS_FILE = "tokens.txt"


def setup_demo_annotation(out: Path, settings: Settings, city: str = "demo-city",
                          name: str = "Demo City (synthetic)") -> Path:
    """A fresh annotation database for the demo folder: the project imported (with the simulated
    expert's decisions), an annotator, a reviewer and an admin; their tokens in ``tokens.txt``."""
    url = settings.database_url()
    if is_sqlite(url):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = open_database(settings)
    params = ScryptParams(settings.auth.scrypt_n, settings.auth.scrypt_r, settings.auth.scrypt_p)
    tokens = []
    try:
        with db.session() as session:
            import_project(session, out / "project", "demo", name=name, city=city, layer="mcae")
            for user, role in DEMO_USERS:
                _, token = add_user(session, user, role, params, settings.auth.token_bytes)
                tokens.append((user, role, token))
        _assess(db, settings, out)
    finally:
        db.dispose()
    target = out / TOKENS_FILE
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# MCAE demo tokens for the annotation API: send one as `Authorization: Bearer <token>`.\n"
                 "# Only hashes are stored on the server; this file is the one copy. Keep it private.\n")
        for user, role, token in tokens:
            fh.write(f"{user}\t{role}\t{token}\n")
    return target


def _assess(db: Any, settings: Settings, out: Path) -> None:
    """The demo map's accuracy assessment (simulated response from reference.tif), if it is published."""
    from mcae.platform.annotation.demo_assess import assess_demo
    from mcae.tiles.catalog import CatalogStore, UnknownId

    store = CatalogStore(settings.tiles.catalog_path)
    try:
        store.layer("demo-city", "mcae")
    except UnknownId:
        return
    if (out / "reference.tif").is_file():
        assess_demo(db, store, out)
