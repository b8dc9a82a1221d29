"""HTTP caching helpers shared by the tiles layer and the annotation service: strong ETags of
documents, ``If-None-Match`` matching (weak comparison, RFC 9110), revalidated documents, and
``ByteCache``, a bounded LRU of response bodies keyed by their ETag (rendered tiles, patch
images)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from starlette.requests import Request
from starlette.responses import Response


def doc_etag(body: bytes | str) -> str:
    """A strong ETag for a tile document (TileJSON, WMTS, OGC tileset): a hash of the body,
    which names the layers' current versions in its tile URL templates."""
    data = body.encode() if isinstance(body, str) else body
    return f'"doc-{hashlib.sha1(data).hexdigest()[:20]}"'


def revalidated(request: Request, body: str, media_type: str, cache_control: str = "no-cache") -> Response:
    """A document clients keep but revalidate: ``cache_control`` + an ETag of its body,
    ``If-None-Match`` -> 304 (TileJSON, WMTS capabilities, OGC tilesets, the catalog)."""
    etag = doc_etag(body)
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


class ByteCache:
    """Bodies (``None`` = nothing, e.g. a tile without data) by ETag, bounded in bytes, least
    recently used out."""

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
