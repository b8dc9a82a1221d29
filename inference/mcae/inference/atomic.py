"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        for leftover in (tmp_path, *tmp_path.parent.glob(tmp_path.name + ".*")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


@contextlib.contextmanager
def scratch_path(beside: str | Path, suffix: str = ".tif") -> Iterator[Path]:
    """A temporary file next to ``beside`` that is always removed afterwards."""
    beside = Path(beside)
    beside.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=suffix, dir=beside.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        for leftover in (Path(tmp), *Path(tmp).parent.glob(Path(tmp).name + ".*")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def write_files(folder: Path, writers: dict[str, Callable[[Path], object]]) -> dict[str, Path]:
    """Write each ``name -> writer(tmp_path)`` into ``folder`` atomically; return the paths."""
    paths = {}
    for name, writer in writers.items():
        paths[name] = folder / name
        with atomic_path(paths[name]) as tmp:
            writer(tmp)
    return paths
