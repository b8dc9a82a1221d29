"""What ``benchmarks.load`` asks for: the demo's world (found over the API) and the request mix.

The world is read once before the run, as the viewer and the annotation pages would: the
city and its layers (each TileJSON's tile URL, with the layer version), the tiles inside
each layer's bounds at each of its zooms, the districts, and the annotation project
(groups with their versions and members, every mask's version, the thumbnails).

The mix (``WEIGHTS``, per request, seeded per client) is one of real use: tiles of every
layer at every zoom (256/512 px, PNG/WebP; some version-less with the ``If-None-Match`` of
an earlier answer, as a client without ``?v=`` revalidates), TileJSON, the city, identify,
statistics and bundle estimates of districts and boxes, legends, small bundle jobs and their
status, group pages and thumbnails, and saves: group decisions and mask corrections on the
versions the client holds. A save on a stale version is a 409 (expected when clients
compete); the client then takes the current version from the answer and tries once more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import morecantile

TMS = morecantile.tms.get("WebMercatorQuad")
PROJECT = "demo"
PAGE = 48
CLASSES = range(1, 10)  # MCAE class ids an expert can pick

# route -> share of requests (per cent); "bundle job" is followed by one "job status"
WEIGHTS: dict[str, float] = {
    "tile": 40, "tile revalidate": 6, "tilejson": 3, "city": 2, "identify": 8, "statistics": 6,
    "legend": 4, "bundle estimate": 5, "bundle job": 1, "group masks": 5, "thumbnail": 5,
    "group decision": 6, "correction": 9,
}
TILE_OK = (200, 204)  # 204: a tile of the matrix without data
SAVE_OK = (201,)
LAYER_WEIGHTS = {"mcae": 4, "imagery": 3, "sinolc1": 1.5, "agreement": 1.5}


@dataclass
class Layer:
    id: str
    kind: str
    scheme: str | None
    bounds: tuple[float, float, float, float]
    template: str  # path of a tile with {z}/{x}/{y}, ?v= of the current version (from TileJSON)
    tiles: dict[int, list[tuple[int, int]]]

    @property
    def categorical(self) -> bool:
        return self.scheme is not None


@dataclass
class World:
    """The demo as the clients see it."""

    city: str
    layers: list[Layer]
    districts: list[str]
    bounds: tuple[float, float, float, float]
    token: str
    groups: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    group_versions: dict[tuple[str, str], int] = field(default_factory=dict)
    patches: dict[str, list[int]] = field(default_factory=dict)
    mask_versions: dict[tuple[str, int], int] = field(default_factory=dict)
    thumbnails: list[str] = field(default_factory=list)

    @property
    def tile_count(self) -> int:
        return sum(len(t) for layer in self.layers for t in layer.tiles.values())


def discover(base: str, token: str) -> World:
    """Read the first city of the catalog and the annotation project ``demo``."""
    with httpx.Client(base_url=base, timeout=60) as client:
        city = client.get("/api/cities").raise_for_status().json()
        first = city[0]["id"] if isinstance(city, list) else city["items"][0]["id"]
        found = client.get(f"/api/cities/{first}").raise_for_status().json()
        layers = [_layer(client, first, item) for item in found["layers"] if item.get("available", True)]
        bounds = (min(la.bounds[0] for la in layers), min(la.bounds[1] for la in layers),
                  max(la.bounds[2] for la in layers), max(la.bounds[3] for la in layers))
        world = World(first, layers, [d["id"] for d in found.get("districts", [])], bounds, token)
        client.headers["Authorization"] = f"Bearer {token}"
        _annotation(client, world)
    return world


def _layer(client: httpx.Client, city: str, item: dict[str, Any]) -> Layer:
    doc = client.get(f"/cities/{city}/layers/{item['id']}/WebMercatorQuad/tilejson.json").raise_for_status().json()
    template = httpx.URL(doc["tiles"][0])
    path = template.raw_path.decode().replace("%7B", "{").replace("%7D", "}")
    w, s, e, n = doc["bounds"]
    tiles = {z: [(t.x, t.y) for t in TMS.tiles(w, s, e, n, [z])] for z in range(doc["minzoom"], doc["maxzoom"] + 1)}
    return Layer(item["id"], item["kind"], item.get("scheme"), (w, s, e, n), path, tiles)


def _annotation(client: httpx.Client, world: World) -> None:
    base = f"/api/projects/{PROJECT}"
    hoods = client.get(f"{base}/neighbourhoods", params={"per_page": 500}).raise_for_status().json()["items"]
    for hood in hoods:
        for g in client.get(f"{base}/neighbourhoods/{hood['name']}/groups").raise_for_status().json():
            world.group_versions[(hood["name"], g["key"])] = g["version"]
            world.groups[(hood["name"], g["key"])] = []
        for patch in hood["patches"]:
            detail = client.get(f"{base}/patches/{patch}").raise_for_status().json()
            for m in detail["mask_list"]:
                world.patches.setdefault(patch, []).append(m["mask_id"])
                world.mask_versions[(patch, m["mask_id"])] = m["version"]
                world.thumbnails.append(f"{base}/patches/{patch}/masks/{m['mask_id']}/thumbnail.png")
                if (hood["name"], m["group"]) in world.groups:
                    world.groups[(hood["name"], m["group"])].append(m["id"])
    world.groups = {k: v for k, v in world.groups.items() if v}


@dataclass
class Call:
    """One request of the mix: the route it counts under, what it sends and what it expects."""

    route: str
    method: str
    url: str
    expect: tuple[int, ...] = (200,)
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] | None = None
    auth: bool = False
    save: tuple[str, Any] | None = None  # ("group", key) / ("correction", (patch, rows)): what to update


class Mix:
    """The requests of one client: seeded, with its own view of the versions (stale as others save)."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.routes = list(WEIGHTS)
        self.weights = [WEIGHTS[r] for r in self.routes]
        self.group_versions = dict(world.group_versions)
        self.mask_versions = dict(world.mask_versions)
        self.etags: dict[str, str] = {}
        self.group_keys = sorted(world.groups)
        self.patch_names = sorted(world.patches)

    def next(self) -> Call:
        route = self.rng.choices(self.routes, self.weights)[0]
        made: Call = getattr(self, "_" + route.replace(" ", "_"))()
        return made

    # -- maps ------------------------------------------------------------------------------
    def _pick_layer(self, categorical: bool = False) -> Layer:
        layers = [la for la in self.world.layers if la.categorical or not categorical]
        weights = [LAYER_WEIGHTS.get(la.id, 1.0) for la in layers]
        return self.rng.choices(layers, weights)[0]

    def _tile_path(self, layer: Layer) -> tuple[int, str]:
        z = self.rng.choice(sorted(layer.tiles))
        x, y = self.rng.choice(layer.tiles[z])
        path = layer.template.format(z=z, x=x, y=y)
        if self.rng.random() < 0.2:
            path = path.replace(".png", ".webp", 1)
        return z, path

    def _tile(self) -> Call:
        layer = self._pick_layer()
        z, path = self._tile_path(layer)
        params = {"tilesize": 512} if self.rng.random() < 0.2 else None
        return Call(f"tile z{z}", "GET", path, TILE_OK, params=params)

    def _tile_revalidate(self) -> Call:
        """A version-less tile URL, with the ETag of its last answer when there was one."""
        layer = self._pick_layer()
        _, path = self._tile_path(layer)
        path = path.split("?", 1)[0]
        etag = self.etags.get(path)
        return Call("tile revalidate", "GET", path, (*TILE_OK, 304),
                    headers={"If-None-Match": etag} if etag else None)

    def remember(self, call: Call, response: httpx.Response) -> None:
        """Keep a version-less tile's ETag (for the next revalidation of that URL)."""
        if call.route == "tile revalidate" and "etag" in response.headers:
            self.etags[call.url] = response.headers["etag"]

    def _tilejson(self) -> Call:
        layer = self._pick_layer()
        return Call("tilejson", "GET", f"/cities/{self.world.city}/layers/{layer.id}/WebMercatorQuad/tilejson.json")

    def _city(self) -> Call:
        return Call("city", "GET", f"/api/cities/{self.world.city}")

    def _point(self) -> tuple[float, float]:
        w, s, e, n = self.world.bounds
        return self.rng.uniform(w, e), self.rng.uniform(s, n)

    def _bbox(self) -> str:
        w, s, e, n = self.world.bounds
        fx, fy = self.rng.uniform(0.1, 0.5), self.rng.uniform(0.1, 0.5)
        x0, y0 = self.rng.uniform(w, e - fx * (e - w)), self.rng.uniform(s, n - fy * (n - s))
        return f"{x0:.6f},{y0:.6f},{x0 + fx * (e - w):.6f},{y0 + fy * (n - s):.6f}"

    def _area(self) -> dict[str, Any]:
        if self.world.districts and self.rng.random() < 0.6:
            return {"district": self.rng.choice(self.world.districts)}
        return {"bbox": self._bbox()}

    def _identify(self) -> Call:
        lon, lat = self._point()
        return Call("identify", "GET", f"/api/cities/{self.world.city}/identify",
                    params={"lon": round(lon, 6), "lat": round(lat, 6)})

    def _statistics(self) -> Call:
        layer = self._pick_layer(categorical=True)
        return Call("statistics", "GET", f"/api/cities/{self.world.city}/layers/{layer.id}/statistics",
                    params=self._area())

    def _legend(self) -> Call:
        layer = self._pick_layer(categorical=True)
        if self.rng.random() < 0.5:
            return Call("legend", "GET", f"/api/cities/{self.world.city}/layers/{layer.id}/legend")
        return Call("legend", "GET", f"/api/legends/{layer.scheme}")

    def _bundle_estimate(self) -> Call:
        layer = self._pick_layer()
        zooms = sorted(layer.tiles)
        params = {"minzoom": zooms[0], "maxzoom": zooms[-1], "format": self.rng.choice(["mbtiles", "pmtiles", "zip"]),
                  **self._area()}
        return Call("bundle estimate", "GET", f"/api/cities/{self.world.city}/layers/{layer.id}/bundles/estimate",
                    params=params)

    def _bundle_job(self) -> Call:
        """One of a few small bundles (a district's tiles at the two lowest zooms): the first ask
        starts a job, the later ones find it running or done."""
        layer = self._pick_layer(categorical=True)
        zooms = sorted(layer.tiles)
        body: dict[str, Any] = {"minzoom": zooms[0], "maxzoom": zooms[min(1, len(zooms) - 1)],
                                "format": self.rng.choice(["mbtiles", "zip"])}
        if self.world.districts:
            body["district"] = self.rng.choice(self.world.districts)
        else:
            body["bbox"] = list(self.world.bounds)
        return Call("bundle job", "POST", f"/api/cities/{self.world.city}/layers/{layer.id}/bundles",
                    (200, 202), json=body)

    # -- annotation ------------------------------------------------------------------------
    def _group_masks(self) -> Call:
        hood, key = self.rng.choice(self.group_keys)
        return Call("group masks", "GET", f"/api/projects/{PROJECT}/neighbourhoods/{hood}/groups/{key}/masks",
                    params={"per_page": PAGE}, auth=True)

    def _thumbnail(self) -> Call:
        return Call("thumbnail", "GET", self.rng.choice(self.world.thumbnails), auth=True)

    def _group_decision(self) -> Call:
        key = self.rng.choice(self.group_keys)
        members = self.world.groups[key]
        chosen = members if self.rng.random() < 0.5 else self.rng.sample(
            members, self.rng.randint(1, min(PAGE, len(members))))
        body = {"class": self.rng.choice(CLASSES), "masks": sorted(chosen), "version": self.group_versions[key]}
        return Call("group decision", "POST", f"/api/projects/{PROJECT}/neighbourhoods/{key[0]}/groups/{key[1]}"
                    "/decisions", SAVE_OK, json=body, auth=True, save=("group", key))

    def _correction(self) -> Call:
        patch = self.rng.choice(self.patch_names)
        ids = self.world.patches[patch]
        chosen = self.rng.sample(ids, self.rng.randint(1, min(4, len(ids))))
        rows = [{"mask": m, "class": self.rng.choice(CLASSES), "version": self.mask_versions[(patch, m)]}
                for m in chosen]
        return Call("correction", "POST", f"/api/projects/{PROJECT}/patches/{patch}/corrections", SAVE_OK,
                    json={"rows": rows}, auth=True, save=("correction", (patch, chosen)))

    def saved(self, call: Call, response: httpx.Response) -> Call | None:
        """Update the versions after a save's answer; after a 409, the same save on the current
        version (once: ``None`` when the retry is answered too)."""
        assert call.save is not None
        kind, what = call.save
        body = response.json()
        if kind == "group":
            if response.status_code == 201:
                self.group_versions[what] = body["group"]["version"]
                return None
            self.group_versions[what] = body["current"]["version"]
            return None if call.route.endswith("retry") else Call(
                f"{call.route} retry", call.method, call.url, call.expect, json={**call.json,
                "version": self.group_versions[what]}, auth=True, save=call.save)
        patch, chosen = what
        if response.status_code == 201:
            for m in chosen:
                self.mask_versions[(patch, m)] += 1
            return None
        current = body["current"]
        self.mask_versions[(patch, current["mask"])] = current["version"]
        if call.route.endswith("retry"):
            return None
        rows = [{**row, "version": self.mask_versions[(patch, row["mask"])]} for row in call.json["rows"]]
        return Call(f"{call.route} retry", call.method, call.url, call.expect, json={"rows": rows}, auth=True,
                    save=call.save)
