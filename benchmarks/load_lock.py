"""How long Load (``POST .../decisions.jsonl``) holds the database's write lock.

A synthetic project straight in the database (no project folder: Load never reads it):
``--masks`` masks in groups of 100, then a file of ``--lines`` decisions (one in five a group
decision, the rest mask corrections, the mix of a Dump) loaded through ``dump_load.load``.
Prints the check pass (no lock), the write transaction (the lock) and its rate::

    .venv/bin/python -m benchmarks.load_lock --lines 100000 --masks 200000
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from mcae.platform.annotation import dump_load
from mcae.platform.annotation.auth import CurrentUser
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.models import Group, Mask, Project, User
from mcae.platform.settings import LoadSettings

GROUP = 100  # masks per group
PATCH = 500  # masks per patch


def build(db: Database, masks: int) -> int:
    with db.session() as session:
        session.add(User(name="bench", role="annotator", active=True))
        session.add(Project(id="bench", name="bench", root="/nonexistent", fine_classes={}, grid={}))
        session.flush()
        user = session.scalar(select(User.id).where(User.name == "bench"))
        groups = [{"project_id": "bench", "neighbourhood": "1-1", "key": f"{g}-5", "cluster": g, "pred_class": 5,
                   "size": GROUP, "version": 1} for g in range(masks // GROUP)]
        session.execute(insert(Group), groups)
        ids = dict(session.execute(select(Group.key, Group.id)).all())
        rows = [{"project_id": "bench", "patch": f"{i // PATCH}-0", "mask_id": i % PATCH + 1, "neighbourhood": "1-1",
                 "group_id": ids[f"{i // GROUP}-5"], "pred_class": 5, "present": True, "version": 1, "area": 10,
                 "bbox": [0, 0, 1, 1], "refine": False} for i in range(masks)]
        for start in range(0, len(rows), 20_000):
            session.execute(insert(Mask), rows[start:start + 20_000])
    assert user is not None
    return user


def decisions_file(lines: int, masks: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        if rng.random() < 0.2:
            out.append({"target": "group", "neighbourhood": "1-1", "group": f"{rng.randrange(masks // GROUP)}-5",
                        "class": rng.randint(1, 9)})
        else:
            i = rng.randrange(masks)
            out.append({"target": "mask", "patch": f"{i // PATCH}-0", "mask": i % PATCH + 1,
                        "class": rng.randint(1, 9)})
    return "".join(json.dumps(d) + "\n" for d in out).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--masks", type=int, default=200_000)
    parser.add_argument("--url", default=None, help="A database URL [a SQLite file in a temporary folder]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        user = CurrentUser(build(db, args.masks), "bench", "annotator")
        body = decisions_file(args.lines, args.masks)
        started = time.monotonic()
        summary = dump_load.load(db, "bench", user, io.BytesIO(body), LoadSettings())
        total = time.monotonic() - started
        db.dispose()
    lock = summary.write_s or 0.0
    print(f"{args.lines:,} lines ({len(body) / 2**20:.1f} MiB), {summary.masks_labelled:,} mask labels, "
          f"{args.masks:,} masks: checked in {total - lock:.1f} s without a lock, write lock held {lock:.1f} s "
          f"({args.lines / lock:,.0f} lines/s)")


if __name__ == "__main__":
    main()
