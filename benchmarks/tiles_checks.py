"""Request paths of every server in the tile benchmark, and the ETag / 304 checks of ours."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

TMS = "WebMercatorQuad"


# -- requests --------------------------------------------------------------------------------
def ours_path(layer: str, z: int, x: int, y: int, fmt: str) -> str:
    return f"/cities/bench/layers/{layer}/tiles/{TMS}/{z}/{x}/{y}.{fmt}"


def stock_path(file: Path, colormap_q: str, z: int, x: int, y: int) -> str:
    return f"/tiles/{TMS}/{z}/{x}/{y}.png?url={quote(str(file), safe='')}&colormap={colormap_q}"


def static_path(layer: str, z: int, x: int, y: int, fmt: str) -> str:
    return f"/{layer}/{z}/{x}/{y}.{fmt}"


def mcae_colormap_query() -> str:
    from mcae.inference.classes import MCAE

    cmap = {"0": [0, 0, 0, 0], **{str(c.id): [*c.rgb, 255] for c in MCAE}}
    return quote(json.dumps(cmap, separators=(",", ":")), safe="")


# -- ETag / 304 checks ----------------------------------------------------------------------
def etag_checks(base: str, layer: str, tile: tuple[int, int, int], other: tuple[int, int, int],
                native_z: int) -> list[dict[str, Any]]:
    """The ETag / If-None-Match behaviour of our tile route, as a list of named checks."""
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    z, x, y = tile
    url = base + ours_path(layer, z, x, y, "png")
    with httpx.Client(timeout=30) as client:
        r = client.get(url)
        etag = r.headers.get("etag", "")
        check("200 with a strong quoted ETag, a revalidating Cache-Control (version-less URL), image/png",
              r.status_code == 200 and etag.startswith('"') and etag.endswith('"')
              and "no-cache" in r.headers.get("cache-control", "") and r.headers.get("content-type") == "image/png",
              f"{r.status_code} {etag} {r.headers.get('cache-control')}")
        body = r.content
        for name, header in [("If-None-Match: the ETag -> 304", etag),
                             ("If-None-Match: W/ETag (weak comparison) -> 304", "W/" + etag),
                             ("If-None-Match: a list naming it -> 304", f'"nope", {etag}'),
                             ("If-None-Match: * -> 304", "*")]:
            r2 = client.get(url, headers={"If-None-Match": header})
            check(name, r2.status_code == 304 and r2.headers.get("etag") == etag and not r2.content
                  and "no-cache" in r2.headers.get("cache-control", ""),
                  f"{r2.status_code} etag={r2.headers.get('etag')} body={len(r2.content)}")
        r3 = client.get(url, headers={"If-None-Match": '"stale-0000000000000000"'})
        check("a stale ETag -> 200 with the same bytes", r3.status_code == 200 and r3.content == body,
              str(r3.status_code))
        webp = client.get(base + ours_path(layer, z, x, y, "webp"))
        check("WebP of the tile: its own ETag", webp.status_code == 200 and webp.headers.get("etag") not in ("", etag),
              f"{webp.headers.get('etag')}")
        oz, ox, oy = other
        r4 = client.get(base + ours_path(layer, oz, ox, oy, "png"))
        check("another tile: another ETag", r4.headers.get("etag") not in (None, etag), f"{r4.headers.get('etag')}")
        empty = client.get(base + ours_path(layer, native_z, 0, 0, "png"))
        check("inside the matrix, no data -> 204 with an ETag",
              empty.status_code == 204 and bool(empty.headers.get("etag")), f"{empty.status_code}")
        if empty.headers.get("etag"):
            e2 = client.get(base + ours_path(layer, native_z, 0, 0, "png"),
                            headers={"If-None-Match": empty.headers["etag"]})
            check("204 tile revalidated -> 304", e2.status_code == 304, str(e2.status_code))
        out = client.get(base + ours_path(layer, native_z, 2 ** native_z, 0, "png"))
        check("outside the matrix -> 404", out.status_code == 404, str(out.status_code))
    seen_tags, seen_bodies = set(), set()
    for _ in range(12):  # fresh connections land on both worker processes (SO_REUSEPORT)
        with httpx.Client(timeout=30) as fresh:
            rr = fresh.get(url)
            seen_tags.add(rr.headers.get("etag"))
            seen_bodies.add(hashlib.sha1(rr.content).hexdigest())
    check("same ETag and bytes over 12 fresh connections (both workers)",
          seen_tags == {etag} and len(seen_bodies) == 1, f"{len(seen_tags)} tags, {len(seen_bodies)} bodies")
    return checks


def version_checks(base: str, layer: str, tile: tuple[int, int, int], file: Path) -> list[dict[str, Any]]:
    """A rewritten file (new mtime) changes the ETag; restoring it brings the old one back."""
    checks: list[dict[str, Any]] = []
    z, x, y = tile
    url = base + ours_path(layer, z, x, y, "png")
    stat = file.stat()
    with httpx.Client(timeout=30) as client:
        before = client.get(url).headers.get("etag")
        try:
            os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            after = client.get(url)
            stale = client.get(url, headers={"If-None-Match": before or ""})
            checks.append({"check": "file changed -> new ETag, old ETag -> 200",
                           "ok": after.headers.get("etag") not in (None, before) and stale.status_code == 200,
                           "detail": f"{before} -> {after.headers.get('etag')}, old: {stale.status_code}"})
        finally:
            os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        back = client.get(url, headers={"If-None-Match": before or ""})
        checks.append({"check": "file restored -> old ETag valid again (304)", "ok": back.status_code == 304,
                       "detail": str(back.status_code)})
    return checks
