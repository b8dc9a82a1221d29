"""A full disk for the reliability tests: a real size-limited tmpfs when this process may mount
one (root, mount permitted), else none (the tests then inject ``ENOSPC`` where the writes go)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def can_mount() -> bool:
    """Whether a tmpfs can be mounted here (tried once, on a throwaway folder)."""
    if os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as folder:
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder],
                                  capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if done.returncode != 0:
            return False
        subprocess.run(["umount", folder], capture_output=True, timeout=10, check=False)
        return True


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "2m") -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` for the block; unmounted (and its contents gone) after."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True, timeout=10)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, timeout=10)


def free(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill ``folder``'s file system but ``leave`` bytes with one file (returned: delete it to free)."""
    filler = folder / "filler.bin"
    with open(filler, "ab") as out:
        chunk = b"\0" * 65536
        while free(folder) > leave:
            try:
                out.write(chunk[:max(4096, min(len(chunk), free(folder) - leave))])
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    return filler


def enospc(path: str | Path | None = None) -> OSError:
    """The error a write to a full disk raises."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None if path is None else str(path))
