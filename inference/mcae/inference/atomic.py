"""Atomic file writes: write to a temporary file beside the target, then rename.

A temporary file's name carries its writer's process id (``.NAME.mcae-PID-XXXX``), so a run
can tell the leftovers of a killed writer (:func:`remove_stale_temps`) from a live one's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
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
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=suffix or path.suffix,
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


def write_parquet_stream(path: str | Path, frames: Iterable[pd.DataFrame], columns: list[str]) -> int:
    """Write ``frames`` one after another as one parquet file (atomically); returns its rows.

    Memory is one frame, whatever the file's size. Every frame takes the first non-empty
    frame's schema (a column that is float32 in one part and float64 in another is cast)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, writer, schema = 0, None, None
    with atomic_path(path) as tmp:
        try:
            for frame in frames:
                if frame.empty:
                    continue
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(table.cast(schema))
                rows += len(frame)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # nothing at all: an empty table with the columns
            pd.DataFrame(columns=columns).to_parquet(tmp, index=False)
    return rows


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
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(beside), suffix=suffix, dir=beside.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        for leftover in (Path(tmp), *Path(tmp).parent.glob(Path(tmp).name + ".*")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


@contextlib.contextmanager
def scratch_dir(beside: str | Path) -> Iterator[Path]:
    """A private temporary folder next to ``beside`` (same file system, so a file made in it
    renames onto ``beside``); it and whatever GDAL or rio-cogeo put in it are always removed."""
    beside = Path(beside)
    beside.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=_temp_prefix(beside), suffix=".d", dir=beside.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_files(folder: Path, writers: dict[str, Callable[[Path], object]]) -> dict[str, Path]:
    """Write each ``name -> writer(tmp_path)`` into ``folder`` atomically; return the paths."""
    paths = {}
    for name, writer in writers.items():
        paths[name] = folder / name
        with atomic_path(paths[name]) as tmp:
            writer(tmp)
    return paths


_TEMP_PID = re.compile(r"\.mcae-(\d+)-")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.mcae-{os.getpid()}-"


def remove_stale_temps(folder: str | Path, stem: str = "") -> list[Path]:
    """Remove the temporary files and folders in ``folder`` (names ``.STEM...``) whose writer is gone.

    A writer is gone when no process of its id runs on this machine (a killed ``mcae map``,
    a full disk that stopped a run before its cleanup). Returns what was removed.
    """
    removed = []
    for entry in Path(folder).glob(f".{stem}*"):
        match = _TEMP_PID.search(entry.name)
        if match is None or entry.is_symlink() or _alive(int(match.group(1))):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
