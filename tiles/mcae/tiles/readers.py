"""An app's pool of open rio-tiler readers, so requests do not reopen files.

Readers are keyed by path, file identity (size, mtime, inode: a replaced file gets a
new key) and tile matrix set. A GDAL dataset must not be used by two threads at once, so
a reader is checked out for one request and checked back in afterwards; at most
``size`` idle readers are kept, least recently used closed first. Every dataset is
opened after the pool's ``Sources.check`` and with ``gdal.ALLOWED_DRIVERS`` only, and used
inside the pool's ``Sources.env()`` (GDAL options per thread). The app makes its pool
(``app.state.readers``) and closes it in its lifespan; nothing here is process-wide.
"""

from __future__ import annotations

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

from mcae.inference.errors import MCAEError
from mcae.tiles.catalog import file_token
from mcae.tiles.gdal import ALLOWED_DRIVERS, LOCAL, SourceRefused, Sources

Key = tuple[str, str | None, str]  # path, file token (catalog.file_token), TMS id


class FileChanged(MCAEError):
    """The file changed while a reader was out: what was read may mix two versions."""


def open_dataset(path: str, sources: Sources = LOCAL) -> Any:
    """A rasterio dataset of a catalog file, after ``sources.check`` and GTiff-only (to be
    used inside ``sources.env()`` where the file is remote; see ``read_dataset``)."""
    try:
        dataset = rasterio.open(sources.check(path), driver=ALLOWED_DRIVERS)
    except RasterioIOError:  # not a GeoTIFF (a VRT, another format, a corrupt file)
        raise SourceRefused("this layer's file is not a GeoTIFF the server can read") from None
    if dataset.crs is None:  # a file cut short loses its georeferencing (written last) first
        dataset.close()
        raise SourceRefused("this layer's file has no georeferencing (is it damaged?); the server cannot place it")
    return dataset


@contextmanager
def read_dataset(path: str, sources: Sources = LOCAL) -> Iterator[Any]:
    """``with read_dataset(path, sources) as src``: the dataset, opened and read inside the
    options of ``sources``."""
    with sources.env(), open_dataset(path, sources) as dataset:
        yield dataset


def open_reader(path: str, tms: TileMatrixSet = WEB_MERCATOR_TMS, sources: Sources = LOCAL) -> Reader:
    """A reader on ``path`` that owns its dataset (opened GTiff-only)."""
    dataset = open_dataset(path, sources)
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

    def __init__(self, size: int = 64, sources: Sources = LOCAL) -> None:
        self.size = size
        self.sources = sources
        self.ranges: dict[Any, Any] = {}  # what ``render.imagery_range`` computed, per file version
        self.ranges_lock = threading.Lock()
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
        """Close every idle reader and forget what was computed (the app's lifespan ends so)."""
        with self._lock:
            closing = [r for readers in self._idle.values() for r in readers]
            self._idle.clear()
            self._count = 0
        with self.ranges_lock:
            self.ranges.clear()
        _close_all(closing)

    close = clear

    @contextmanager
    def reader(self, path: str, tms: TileMatrixSet = WEB_MERCATOR_TMS, token: str | None = None,
               **_: Any) -> Iterator[Reader]:
        """A reader for this thread alone while the block runs, inside the pool's GDAL options
        (also ``Reader``-like for titiler's factories: ``with pool.reader(path, tms=tms) as src``).

        ``token``: the file's ``file_token`` as the caller resolved it (no stat here); when the
        file is no longer that at check-in, ``FileChanged`` is raised after the block (without
        a token the reader is only dropped)."""
        with self.sources.env(), self._checked_out(path, tms, token) as found:
            yield found

    @contextmanager
    def _checked_out(self, path: str, tms: TileMatrixSet, token: str | None) -> Iterator[Reader]:
        remote = path.startswith("/vsi") or "://" in path
        key: Key = (path, None if remote else (token or file_token(path)), str(tms.id))
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
            found = open_reader(path, tms, self.sources)
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
            if not self._check_in(key, found) and token is not None:  # the caller asked to know
                raise FileChanged("the layer's file changed while it was read")

    def _check_in(self, key: Key, reader: Reader) -> bool:
        """Keep ``reader`` for later, unless its file changed (then closed: False)."""
        if key[1] is not None and file_token(key[0]) != key[1]:  # changed while this reader was out
            reader.close()
            return False
        with self._lock:
            stale = [k for k in self._idle if k[0] == key[0] and k[1] != key[1]]
            closing = [r for k in stale for r in self._idle.pop(k)]
            self._count -= len(closing)
            self._idle.setdefault(key, []).append(reader)
            self._idle.move_to_end(key)
            self._count += 1
            closing += self._evict()
        _close_all(closing)
        return True

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
