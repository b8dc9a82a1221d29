"""A per-process pool of open rio-tiler readers, so requests do not reopen files.

Readers are keyed by path, file identity (size, mtime, inode: a replaced file gets a
new key) and tile matrix set. A GDAL dataset must not be used by two threads at once, so
a reader is checked out for one request and checked back in afterwards; at most
``size`` idle readers are kept, least recently used closed first. Every dataset is
opened through ``gdal.check_source`` and with ``gdal.ALLOWED_DRIVERS`` only.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import rasterio
from morecantile import TileMatrixSet
from rasterio.errors import RasterioError, RasterioIOError
from rio_tiler.constants import WEB_MERCATOR_TMS
from rio_tiler.errors import NoOverviewWarning
from rio_tiler.io import Reader

from mcae.tiles.gdal import ALLOWED_DRIVERS, SourceRefused, check_source

Key = tuple[str, tuple[int, int, int], str]


def file_token(path: str) -> tuple[int, int, int]:
    """What changes when the file at ``path`` is rewritten or replaced."""
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0, 0)  # remote sources (when allowed) and vanished files
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def open_dataset(path: str) -> Any:
    """A rasterio dataset of a catalog file, after ``check_source`` and GTiff-only."""
    try:
        dataset = rasterio.open(check_source(path), driver=ALLOWED_DRIVERS)
    except RasterioIOError:  # not a GeoTIFF (a VRT, another format, a corrupt file)
        raise SourceRefused("this layer's file is not a GeoTIFF the server can read") from None
    if dataset.crs is None:  # a file cut short loses its georeferencing (written last) first
        dataset.close()
        raise SourceRefused("this layer's file has no georeferencing (is it damaged?); the server cannot place it")
    return dataset


def open_reader(path: str, tms: TileMatrixSet = WEB_MERCATOR_TMS) -> Reader:
    """A reader on ``path`` that owns its dataset (opened GTiff-only)."""
    dataset = open_dataset(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoOverviewWarning)
            reader = Reader(path, dataset=dataset, tms=tms)
    except Exception:
        dataset.close()
        raise
    reader._ctx_stack.callback(dataset.close)  # closing the reader closes the dataset
    return reader


class ReaderPool:
    """Idle readers by (path, file token, TMS id), least recently used evicted first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._idle: OrderedDict[Key, list[Reader]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()
        self.opened = 0  # readers opened since start (a counter for tests and logs)

    def resize(self, size: int) -> None:
        with self._lock:
            self.size = max(0, size)
            closing = self._evict()
        _close_all(closing)

    def clear(self) -> None:
        with self._lock:
            closing = [r for readers in self._idle.values() for r in readers]
            self._idle.clear()
            self._count = 0
        _close_all(closing)

    @contextmanager
    def reader(self, path: str, tms: TileMatrixSet = WEB_MERCATOR_TMS) -> Iterator[Reader]:
        """A reader for this thread alone while the block runs."""
        key: Key = (path, file_token(path), str(tms.id))
        with self._lock:
            idle = self._idle.get(key)
            found = idle.pop() if idle else None
            if found is not None:
                self._count -= 1
                if idle:
                    self._idle.move_to_end(key)
                else:  # no empty lists: _evict pops the first key's oldest reader
                    del self._idle[key]
        if found is None:
            found = open_reader(path, tms)
            self.opened += 1
        try:
            yield found
        except RasterioError:
            found.close()  # the dataset may be in a bad state: do not reuse it
            raise
        except BaseException:
            self._check_in(key, found)
            raise
        else:
            self._check_in(key, found)

    def _check_in(self, key: Key, reader: Reader) -> None:
        if file_token(key[0]) != key[1]:  # the file changed while this reader was out
            reader.close()
            return
        with self._lock:
            stale = [k for k in self._idle if k[0] == key[0] and k[1] != key[1]]
            closing = [r for k in stale for r in self._idle.pop(k)]
            self._count -= len(closing)
            self._idle.setdefault(key, []).append(reader)
            self._idle.move_to_end(key)
            self._count += 1
            closing += self._evict()
        _close_all(closing)

    def _evict(self) -> list[Reader]:
        closing: list[Reader] = []
        while self._count > self.size and self._idle:
            key, readers = next(iter(self._idle.items()))
            if readers:
                closing.append(readers.pop(0))
                self._count -= 1
            if not readers:
                del self._idle[key]
        return closing

    def __len__(self) -> int:
        return self._count


def _close_all(readers: list[Reader]) -> None:
    for reader in readers:
        reader.close()


POOL = ReaderPool()


def pooled_reader(path: str, tms: TileMatrixSet = WEB_MERCATOR_TMS, **_: Any) -> Any:
    """``Reader``-like factory for titiler's factories: ``with pooled_reader(path) as src``."""
    return POOL.reader(path, tms)
