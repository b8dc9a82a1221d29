"""Job files expire: by age, and by a total size cap on the jobs folder, oldest first.

``prune(root, max_age_s, max_total_bytes)`` removes finished jobs (their record, their file and
their key) older than ``max_age_s``, then the oldest finished ones until what the folder holds
is at most ``max_total_bytes``. Queued and running jobs are never removed (a record not
updated for ``stale_after_s`` is a dead server's, and counts as finished). A file with no
record (a job whose record was lost) goes once it is ``stale_after_s`` old. The folder is
bounded by the same caps, so the scan is too; the registry runs it at most once every
``jobs.prune_every_s`` (settings), when a job is submitted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)
KEYS = "keys"  # <jobs>/keys/<key>: the id of the job that builds that spec


@dataclass(order=True)
class _Entry:
    when: float
    size: int = field(compare=False)
    paths: list[Path] = field(compare=False)
    removable: bool = field(compare=False)


@dataclass
class Pruned:
    """What one prune removed and what the folder holds after it."""

    removed_jobs: int
    removed_bytes: int
    kept_bytes: int


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _entries(root: Path, stale_after_s: float, now: float) -> list[_Entry]:
    entries: list[_Entry] = []
    owned: set[str] = set()
    for record in root.glob("*.json"):
        try:
            data = json.loads(record.read_text())
            state, updated = data["state"], float(data["updated"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written (an atomic rename is on its way) or not a record
        paths = [record]
        if data.get("file"):
            paths.append(root / str(data["file"]))
        if data.get("key"):
            paths.append(root / KEYS / str(data["key"]))
        owned.update(p.name for p in paths)
        finished = state in ("done", "failed") or now - updated > stale_after_s
        when = float(data.get("finished") or updated)
        entries.append(_Entry(when, sum(_size(p) for p in paths), paths, finished))
    for other in root.iterdir():
        if other.is_file() and other.name not in owned and not other.name.startswith("."):
            mtime = other.stat().st_mtime
            entries.append(_Entry(mtime, _size(other), [other], now - mtime > stale_after_s))
    return entries


def prune(root: Path, max_age_s: float, max_total_bytes: int, stale_after_s: float,
          now: float | None = None) -> Pruned:
    """Remove expired jobs of ``root`` (by age, then oldest first beyond the size cap)."""
    now = time.time() if now is None else now
    if not root.is_dir():
        return Pruned(0, 0, 0)
    entries = sorted(_entries(root, stale_after_s, now))
    total = sum(e.size for e in entries)
    removed = removed_bytes = 0
    for entry in entries:
        if not entry.removable:
            continue
        if now - entry.when <= max_age_s and total <= max_total_bytes:
            continue
        for path in entry.paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        total -= entry.size
        removed, removed_bytes = removed + 1, removed_bytes + entry.size
    if removed:
        logger.info("jobs: %d expired job(s) removed (%d bytes); %d bytes kept", removed, removed_bytes, total)
    return Pruned(removed, removed_bytes, total)
