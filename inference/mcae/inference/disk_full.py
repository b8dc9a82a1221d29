"""Telling a full disk from other write failures, and saying so in one line.

Python reports a full disk as ``OSError`` with ``ENOSPC`` (``EDQUOT`` for a quota), SQLite as
"database or disk is full", PostgreSQL as SQLSTATE 53100; GDAL often only logs it and fails a
step later (a file it cannot reopen, a COG that does not validate). So a write that fails
while its folder has almost no free space left counts as a full disk too.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from mcae.inference.errors import MCAEError, StorageError

LOW_SPACE = 1 << 20  # bytes: less than one uncompressed 1024 px tile band
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
FULL_MESSAGES = ("no space left", "disk is full", "disk full", "could not extend file", "quota exceeded")


def free_bytes(folder: str | Path) -> int | None:
    """Free bytes for this user on ``folder``'s file system (None if it cannot be told)."""
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def is_out_of_space(exc: BaseException, folder: str | Path | None = None) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk, or happened while ``folder``'s was full."""
    seen: BaseException | None = exc
    for _ in range(16):  # the exception, its causes and a database driver's original error
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno in FULL_ERRNOS:
            return True
        if getattr(seen, "sqlstate", None) == "53100" or getattr(seen, "pgcode", None) == "53100":
            return True
        if any(text in str(seen).lower() for text in FULL_MESSAGES):
            return True
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "orig", None)
    if folder is None or (isinstance(exc, MCAEError) and not getattr(exc, "from_a_write", False)):
        return False  # a user error (a corrupt input, a missing step) is not blamed on the disk
    free = free_bytes(folder)
    return free is not None and free < LOW_SPACE


def full_disk_message(what: str, kept: str = "the previous one is unchanged") -> str:
    return f"no space left on the disk while writing {what}; nothing was written ({kept}): free some space and retry"


@contextlib.contextmanager
def disk_full_is_storage_error(folder: str | Path, what: str,
                               kept: str = "the previous one is unchanged") -> Iterator[None]:
    """Re-raise a failure of the writes inside as :class:`StorageError` when the disk is full.

    Put it inside the writes' cleanup (a scratch folder's ``with``): it looks at the free space
    while their partial files still take it.
    """
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        if is_out_of_space(exc, folder):
            raise StorageError(full_disk_message(what, kept)) from exc
        raise
