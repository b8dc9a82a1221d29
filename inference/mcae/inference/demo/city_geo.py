"""Where the synthetic demo city lies: its CRS, origin, GSD, provenance and districts.

Kept apart from ``run`` (which imports the whole pipeline, torch included) so that writing
a scene or its districts costs no more memory than the scene itself.
"""

from __future__ import annotations

import math
from pathlib import Path

from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_geom

from mcae.inference.atomic import write_json

SYNTHETIC = "synthetic demo data made by `mcae demo`; not a real place or a real map"
CITY = "Demo City (synthetic)"
CRS_UTM50 = CRS.from_epsg(32650)
ORIGIN = (668_000.0, 3_550_000.0)  # near Nanjing, UTM 50N
GSD = 0.6
DISTRICTS = ("Riverside", "Old Town", "Harbour", "New District")


def write_districts(path: Path, size: int, transform: Affine) -> list[str]:
    """Four districts split by two gently bent lines crossing at the centre (EPSG:4326)."""
    n, amp = 8, 0.05 * size
    ts = [i / n for i in range(n + 1)]  # n even: ts[n // 2] == 0.5, where both bends are 0
    ns = [(size / 2 + amp * math.sin(2 * math.pi * t), t * size) for t in ts]  # north-south
    ew = [(t * size, size / 2 + amp * math.sin(2 * math.pi * t + math.pi)) for t in ts]
    mid = n // 2
    rings = {
        DISTRICTS[0]: [(0, 0), *ns[: mid + 1], *ew[mid - 1 :: -1]],
        DISTRICTS[1]: [ns[0], (size, 0), ew[n], *ew[n - 1 : mid - 1 : -1], *ns[mid - 1 :: -1]][:-1],
        DISTRICTS[2]: [ew[0], *ew[1 : mid + 1], *ns[mid + 1 :], (0, size)],
        DISTRICTS[3]: [*ew[mid:], (size, size), *ns[n : mid - 1 : -1]],
    }
    features = []
    for name, ring in rings.items():
        coords = [transform @ (x, y) for x, y in ring]
        polygon = {"type": "Polygon", "coordinates": [[*coords, coords[0]]]}
        geometry = transform_geom(CRS_UTM50, "EPSG:4326", polygon)
        features.append({"type": "Feature", "properties": {"name": name, "synthetic": True},
                         "geometry": geometry})
    write_json(path, {"type": "FeatureCollection", "name": f"{CITY} districts",
                      "features": features})
    return list(rings)
