"""A file-open audit for tests: what Python opens (``sys.addaudithook``) and what GDAL is asked
to open (a spy on ``rasterio.open`` and on rio-tiler's ``Reader``), while a block runs.

Audit hooks cannot be removed, so one hook is installed per process, the first time
``audit()`` is used, and records only while an ``Audit`` is active (a flag it checks first).
Python-level events: ``open`` (``open``, ``io.open``, ``os.open``), ``os.listdir``,
``os.scandir`` and ``sqlite3.connect``. GDAL opens files in C, where no audit event is
raised: the spy records every path handed to rasterio and rio-tiler instead.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import rasterio

EVENTS = {"open", "os.listdir", "os.scandir", "sqlite3.connect"}
# what the interpreter and its libraries read on their own, whatever the request
SYSTEM_ROOTS = ("/dev/", "/proc/", "/sys/", "/usr/share/zoneinfo/", "/usr/share/mime/")
SYSTEM_FILES = {"/etc/mime.types", "/etc/localtime", "/etc/timezone", "/dev/null", "/dev/urandom"}


@dataclass
class Audit:
    """What was opened while the audit was active: Python opens and GDAL opens."""

    python: list[tuple[str, str]] = field(default_factory=list)  # (event, path)
    gdal: list[tuple[str, str]] = field(default_factory=list)  # (via, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_python(self, event: str, path: str) -> None:
        with self.lock:
            self.python.append((event, path))

    def add_gdal(self, via: str, path: str) -> None:
        with self.lock:
            self.gdal.append((via, path))


_state: dict[str, Any] = {"active": None, "installed": False}


def _hook(event: str, args: tuple[Any, ...]) -> None:
    found: Audit | None = _state["active"]
    if found is None or event not in EVENTS or not args:
        return
    target = args[0]
    if isinstance(target, int) or target is None:  # os.open on a descriptor, fdopen ...
        return
    if isinstance(target, bytes):
        target = os.fsdecode(target)
    found.add_python(event, str(target))


def _install() -> None:
    if not _state["installed"]:
        sys.addaudithook(_hook)
        _state["installed"] = True


def python_roots() -> tuple[str, ...]:
    """The interpreter's own folders: the standard library and the installed packages."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")} | {sys.prefix, sys.exec_prefix}
    return tuple(sorted(str(Path(r).resolve()) + os.sep for r in roots))


def outside(paths: Iterable[str], roots: Iterable[str], files: Iterable[str] = ()) -> list[str]:
    """The paths that are neither under one of ``roots`` nor one of ``files`` (resolved)."""
    allowed_roots = tuple(str(Path(r).resolve()).rstrip(os.sep) + os.sep for r in roots)
    allowed_files = {str(Path(f).resolve()) for f in files}
    bad = []
    for raw in paths:
        if raw in (":memory:", ""):
            continue
        resolved = str(Path(raw).resolve())  # relative paths (GDAL's "MEM:::", "/vsi" ...) land outside
        if resolved in allowed_files or (resolved + os.sep).startswith(allowed_roots):
            continue
        bad.append(raw)
    return sorted(set(bad))


@contextmanager
def audit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Audit]:
    """Record every Python and GDAL open until the block ends (spies removed by ``monkeypatch``)."""
    _install()
    from mcae.tiles import readers

    found = Audit()
    real_open, real_reader, real_rio_reader = rasterio.open, rasterio.DatasetReader, readers.Reader

    def spy_open(fp: Any, *args: Any, **kwargs: Any) -> Any:
        found.add_gdal("rasterio.open", str(getattr(fp, "path", fp)))
        return real_open(fp, *args, **kwargs)

    def spy_dataset_reader(path: Any, *args: Any, **kwargs: Any) -> Any:
        found.add_gdal("rasterio.DatasetReader", str(getattr(path, "path", path)))
        return real_reader(path, *args, **kwargs)

    def spy_rio_reader(input: Any, *args: Any, **kwargs: Any) -> Any:
        found.add_gdal("rio_tiler.Reader", str(input))
        return real_rio_reader(input, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy_open)
    monkeypatch.setattr(rasterio, "DatasetReader", spy_dataset_reader)
    monkeypatch.setattr(readers, "Reader", spy_rio_reader)
    _state["active"] = found
    try:
        yield found
    finally:
        _state["active"] = None
