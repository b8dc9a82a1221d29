"""Drawing an assessment sample: 1,000 points from a 40,960 x 40,960 px map (issue 16:
at most 10 s, in bounded memory).

The map is synthetic (square blobs of 8 classes, one rare, tiled deflate GeoTIFF with
512 px blocks like the pipeline's COGs); it is made once under ``benchmarks/results/``
and reused. Timed: the whole design (strata counts in a first pass by strips of blocks,
allocation, drawing, reading back only the blocks holding a point); the peak resident
memory of the process during the draw (above the map-making) is reported beside it.

    .venv/bin/python -m benchmarks.assessment [--size 40960] [--points 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import RESULTS_DIR

BLOCK = 512


def make_map(path: Path, size: int, seed: int = 0) -> Path:
    """A size x size classified map, written strip by strip (never whole in memory)."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32650", "transform": from_origin(440_000, 4_430_000, 0.6, 0.6), "nodata": 0,
               "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate", "BIGTIFF": "YES"}
    tmp = path.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        for top in range(0, size, BLOCK):
            cells = rng.choice(np.arange(1, 9, dtype=np.uint8), p=[.3, .2, .15, .12, .1, .08, .045, .005],
                               size=(BLOCK // 16, size // 16))
            strip = np.kron(cells, np.ones((16, 16), dtype=np.uint8))
            noise = rng.random(strip.shape) < 0.02
            strip[noise] = rng.integers(1, 9, size=int(noise.sum()), dtype=np.uint8)
            dst.write(strip, 1, window=rasterio.windows.Window(0, top, size, BLOCK))
    tmp.rename(path)
    return path


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=40_960)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from mcae.inference.assessment.sampling import design_sample

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    path = make_map(RESULTS_DIR / f"assessment-map-{args.size}.tif", args.size)
    made = time.perf_counter() - t0
    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _rss_mb())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0, c0 = time.perf_counter(), time.process_time()
    design, points = design_sample(str(path), seed=args.seed, points=args.points, min_per_class=50)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    watcher.join()
    import os

    result = {"size_px": args.size, "points": len(points), "seconds": round(seconds, 2),
              "cpu_seconds": round(cpu, 2), "cores": os.cpu_count(), "load_average": os.getloadavg(),
              "rss_before_mb": round(base, 1), "rss_peak_mb": round(max(peak[0], _rss_mb()), 1),
              "map_gb_uncompressed": round(args.size ** 2 / 1e9, 2), "map_made_s": round(made, 1),
              "strata_n": {k: v["n"] for k, v in design.strata.items()},
              "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    (RESULTS_DIR / "assessment.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"{'PASS' if seconds <= 10 else 'SLOWER THAN 10 s'}: {len(points)} points from a {args.size} px map in "
          f"{seconds:.1f} s ({cpu:.1f} s of CPU, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores), "
          f"peak RSS {result['rss_peak_mb']:.0f} MB (before: {base:.0f} MB)")


if __name__ == "__main__":
    main()
