"""In-process parts of the tile benchmark, each run in a fresh process (cold caches, own GDAL env).

    python -m benchmarks.tiles_inproc SPEC.json OUT.json

``SPEC["mode"]``:

* ``ours``: ``mcae.tiles.render.render_tile`` in a loop over each list of tiles (one
  thread), with the time inside ``read_tile`` (pooled reader, ``Reader.tile``) and inside
  the encoder (``encode_classes``) summed separately;
* ``stock``: what the stock titiler tile route does per tile, without HTTP: a new
  ``rio_tiler.io.Reader`` (opens the file), ``Reader.tile`` with titiler's defaults
  (nearest), ``ImageData.render(img_format="PNG", colormap=MCAE colormap)``; opening,
  reading and rendering timed separately;
* ``prerender``: the tiles rendered by ``render_tile`` into ``root/z/x/y.fmt`` (static floor);
* ``bundle``: ``mcae.tiles.bundles.build_bundle`` of a district polygon (``plan_tiles``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def _summary(times: list[float], parts: dict[str, float], nodata: int) -> dict[str, Any]:
    total = sum(times)
    return {"tiles": len(times), "seconds": round(total, 3),
            "tiles_per_s": round(len(times) / total, 1) if total else 0.0,
            "p50_ms": round(1e3 * _pct(times, 50), 3), "p95_ms": round(1e3 * _pct(times, 95), 3),
            "p99_ms": round(1e3 * _pct(times, 99), 3), "mean_ms": round(1e3 * statistics.fmean(times), 3),
            "parts_ms_per_tile": {k: round(1e3 * v / len(times), 3) for k, v in parts.items()},
            "no_data_tiles": nodata, "errors": 0}


def _layer(spec: dict[str, Any], served: bool = True) -> Any:
    """The layer and the file its tiles come from: what the tile route reads (its serving
    copy, when fresh) or, with ``served=False``, the layer's own file (what stock reads)."""
    from mcae.tiles.catalog import CatalogStore

    store = CatalogStore(spec["catalog"])
    layer = store.layer("bench", spec["layer"])
    path = store.layer_ref("bench", layer.id).tile_path("WebMercatorQuad") if served else store.layer_path(layer)
    return layer, str(path)


def run_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from mcae.tiles import render
    from mcae.tiles.gdal import configure_gdal
    from mcae.tiles.settings import TileSettings

    configure_gdal(TileSettings())
    layer, path = _layer(spec)
    parts = {"read": 0.0, "encode": 0.0}

    def timed(fn: Any, part: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                parts[part] += time.perf_counter() - t0
        return wrapper

    # render_tile looks them up per call
    render.read_tile, render.encode_classes = timed(render.read_tile, "read"), timed(render.encode_classes, "encode")
    out = {}
    for name, job in spec["jobs"].items():
        parts.update(read=0.0, encode=0.0)
        times, nodata = [], 0
        for z, x, y in job["tiles"]:
            t0 = time.perf_counter()
            data = render.render_tile(path, layer, "WebMercatorQuad", z, x, y, tilesize=256, fmt=job["fmt"])
            times.append(time.perf_counter() - t0)
            nodata += data is None
        other = sum(times) - parts["read"] - parts["encode"]
        out[name] = _summary(times, {**parts, "other": other}, nodata)
    return out


def run_stock(spec: dict[str, Any]) -> dict[str, Any]:
    os.environ.update(spec.get("env", {}))  # the stock server's GDAL settings, before GDAL starts
    import morecantile
    from rio_tiler.io import Reader

    from mcae.inference.classes import MCAE

    _layer_record, path = _layer(spec, served=False)
    tms = morecantile.tms.get("WebMercatorQuad")
    cmap = {0: (0, 0, 0, 0), **{c.id: (*c.rgb, 255) for c in MCAE}}
    out = {}
    for name, job in spec["jobs"].items():
        parts = {"open": 0.0, "read": 0.0, "render": 0.0}
        times = []
        for z, x, y in job["tiles"]:
            t0 = time.perf_counter()
            with Reader(path, tms=tms) as src:
                t1 = time.perf_counter()
                img = src.tile(x, y, z, tilesize=256)
                t2 = time.perf_counter()
            img.render(img_format="PNG", colormap=cmap)
            t3 = time.perf_counter()
            parts["open"] += t1 - t0
            parts["read"] += t2 - t1
            parts["render"] += t3 - t2
            times.append(t3 - t0)
        out[name] = _summary(times, parts, 0)
    return out


def run_prerender(spec: dict[str, Any]) -> dict[str, Any]:
    from mcae.tiles.gdal import configure_gdal
    from mcae.tiles.render import render_tile
    from mcae.tiles.settings import TileSettings

    configure_gdal(TileSettings())
    layer, path = _layer(spec)
    root = Path(spec["root"])
    written = 0
    for z, x, y in spec["tiles"]:
        for fmt in spec["formats"]:
            data = render_tile(path, layer, "WebMercatorQuad", z, x, y, tilesize=256, fmt=fmt)
            if data is None:
                continue
            target = root / str(z) / str(x) / f"{y}.{fmt}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
    return {"written": written}


def run_bundle(spec: dict[str, Any]) -> dict[str, Any]:
    from shapely.geometry import shape

    from mcae.tiles.bundles import RENDER_THREADS, build_bundle, bundle_meta, plan_tiles
    from mcae.tiles.gdal import configure_gdal
    from mcae.tiles.settings import TileSettings

    configure_gdal(TileSettings())
    layer, path = _layer(spec)
    geom = shape(spec["geometry"])
    t0 = time.perf_counter()
    plan = plan_tiles(geom, False, spec["minzoom"], spec["maxzoom"])
    t_plan = time.perf_counter() - t0
    out = Path(spec["out"])
    meta = bundle_meta(layer, "Benchmark city", geom, spec["minzoom"], spec["maxzoom"], "bench", None)
    t0 = time.perf_counter()
    written, nbytes = build_bundle(path, layer, plan, spec["fmt"], out, meta)
    seconds = time.perf_counter() - t0
    size = out.stat().st_size
    out.unlink(missing_ok=True)
    return {"tiles": plan.count, "per_zoom": plan.per_zoom(), "written": written, "tile_bytes": nbytes,
            "file_bytes": size, "seconds": round(seconds, 3), "plan_seconds": round(t_plan, 4),
            "tiles_per_s": round(plan.count / seconds, 1), "threads": RENDER_THREADS, "format": spec["fmt"]}


MODES = {"ours": run_ours, "stock": run_stock, "prerender": run_prerender, "bundle": run_bundle}


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = MODES[spec["mode"]](spec)
    Path(sys.argv[2]).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
