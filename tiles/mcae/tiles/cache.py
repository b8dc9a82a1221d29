"""ETags of rendered tiles and a per-process LRU of hot tiles keyed by them."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

RENDER_VERSION = "2"  # bump when the rendering of a tile changes


def tile_etag(version: str, *parts: object) -> str:
    """A strong ETag for a rendered tile: the layer version plus every render parameter."""
    token = "/".join(str(p) for p in (RENDER_VERSION, *parts))
    return f'"{version}-{hashlib.sha1(token.encode()).hexdigest()[:16]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


class TileCache:
    """Rendered tiles (``None`` = no data) by ETag, bounded in bytes, least recently used out."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, bytes | None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[bool, bytes | None]:
        """(found, tile)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return True, self._data[key]
            self.misses += 1
            return False, None

    def put(self, key: str, tile: bytes | None) -> None:
        size = len(tile or b"") + 64
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._data:
                self._bytes -= len(self._data.pop(key) or b"") + 64
            self._data[key] = tile
            self._bytes += size
            while self._bytes > self.max_bytes and self._data:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped or b"") + 64

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)
