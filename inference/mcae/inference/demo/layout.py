"""Layout of the synthetic city: zones, road lattice, blocks and what fills them.

Everything is measured in pixels of 0.6 m. A smooth *urbanity* score (a dense core,
suburbs, a fringe, fields on one side) decides what each block of the road lattice
holds; zone thresholds are quantiles of the score over the image, so every image
size gets the same mix. Roads and blocks live in the rotated, warped layout frame of
``render.Frame``; the river and the zones live in plain pixel coordinates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .blocks import (
    ASPHALT_MAIN,
    ASPHALT_MINOR,
    MARK_WHITE,
    MARK_YELLOW,
    PAINTERS,
    RANGE,
    RIVER,
    ROAD,
    TREES,
    WATER_ID,
    Box,
    Rng,
    choose,
    jit,
    pick,
    slot_cars,
)
from .render import ASPHALT, CONCRETE, F32, GRASS, TREE, WATER, Canvas, Patch, make_frame

RURAL_TYPES = ("farm", "fishponds", "woodlot")
BUILT_UP = ("dense", "compound", "village")
ZONE_TYPES: list[dict[str, float]] = [
    {"farm": 0.74, "fishponds": 0.09, "village": 0.08, "woodlot": 0.05, "vacant": 0.04},
    {"village": 0.24, "industrial": 0.15, "construction": 0.11, "vacant": 0.15, "farm": 0.14,
     "park": 0.08, "compound": 0.10},
    {"compound": 0.36, "dense": 0.14, "village": 0.16, "industrial": 0.14, "park": 0.08,
     "construction": 0.06, "school": 0.03, "vacant": 0.03},
    {"dense": 0.5, "compound": 0.3, "village": 0.12, "park": 0.05, "school": 0.03},
]


# -- zones ---------------------------------------------------------------------------


class Zones:
    """Urbanity score over pixel space and its four zones (0 rural ... 3 core)."""

    QUANTILES = (0.27, 0.47, 0.77)

    def __init__(self, shape: tuple[int, int], rng: Rng) -> None:
        h, w = shape
        self.size = float(min(h, w))
        self.centre = (h * rng.uniform(0.35, 0.6), w * rng.uniform(0.35, 0.6))
        a = rng.uniform(0, 2 * np.pi)
        self.farm = (float(np.sin(a)), float(np.cos(a)))
        self.step = max(h, w) / 4.0
        self.grid = ndi.gaussian_filter(rng.standard_normal((8, 8)), 0.7)
        ys, xs = np.meshgrid(np.linspace(0, h, 48), np.linspace(0, w, 48), indexing="ij")
        self.cuts = np.quantile(self.score(ys, xs), self.QUANTILES)

    def score(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        dy = (y - self.centre[0]) / self.size
        dx = (x - self.centre[1]) / self.size
        proj = np.maximum(dy * self.farm[0] + dx * self.farm[1], 0)
        noise = ndi.map_coordinates(self.grid, [y / self.step + 1, x / self.step + 1],
                                    order=1, mode="nearest")
        return np.asarray(-np.hypot(dy, dx) - 0.8 * proj + 0.15 * noise)

    def zone(self, y: float, x: float) -> int:
        s = self.score(np.array([y]), np.array([x]))[0]
        return int(np.searchsorted(self.cuts, s))


# -- road lattice --------------------------------------------------------------------


@dataclass
class Line:
    pos: float
    width: float
    main: bool


def road_lines(lo: float, hi: float, rng: Rng) -> list[Line]:
    """Main roads every 330-560 px with 0-3 minor roads between, covering [lo, hi]."""
    mains = [lo - rng.uniform(60, 400)]
    while mains[-1] < hi + 60:
        mains.append(mains[-1] + rng.uniform(450, 720))
    lines: list[Line] = []
    for a, b in itertools.pairwise(mains):
        lines.append(Line(a, rng.uniform(20, 32), True))
        n = max(round((b - a) / rng.uniform(170, 280)), 1)
        for k in range(1, n):
            pos = a + (b - a) * (k + rng.uniform(-0.15, 0.15)) / n
            lines.append(Line(pos, rng.uniform(10, 15), False))
    lines.append(Line(mains[-1], rng.uniform(20, 32), True))
    return lines


@dataclass
class Cell:
    i: int
    j: int
    box: Box  # between line centres
    kind: str = "farm"
    zone: int = 0
    on_image: bool = False
    margin: float = 0.0  # distance of the centre from the image border, px


class Lattice:
    """Road lines along u and v, the cells between them and which segments exist."""

    def __init__(self, cv: Canvas, zones: Zones, rng: Rng) -> None:
        f = cv.frame
        self.ul = road_lines(float(f.u.min()), float(f.u.max()), rng)
        self.vl = road_lines(float(f.v.min()), float(f.v.max()), rng)
        h, w = cv.shape
        self.cells: dict[tuple[int, int], Cell] = {}
        for i in range(len(self.ul) - 1):
            for j in range(len(self.vl) - 1):
                b = (self.ul[i].pos, self.ul[i + 1].pos, self.vl[j].pos, self.vl[j + 1].pos)
                y, x = f.to_pixel((b[0] + b[1]) / 2, (b[2] + b[3]) / 2)
                margin = min(y, x, h - 1 - y, w - 1 - x)
                c = Cell(i, j, b, zone=zones.zone(y, x), on_image=margin >= 0, margin=margin)
                c.kind = choose(ZONE_TYPES[c.zone], rng)
                self.cells[i, j] = c
        self._force_types()

    def _force_types(self) -> None:
        """Make sure the image shows built-up land, a construction site, a park and fields."""
        cells = [c for c in self.cells.values() if c.on_image]
        needs = ((BUILT_UP, "village", 3), (("construction",), "construction", 1),
                 (("park",), "park", 2), (("farm",), "farm", 0))
        for kinds, kind, zone in needs:
            if not cells:
                return
            have = [c for c in cells if c.kind in kinds]
            if have:
                cells.remove(have[0])
                continue
            common = [c for c in cells if sum(d.kind == c.kind for d in cells) > 1]
            spare = [c for c in common if c.kind not in BUILT_UP] or common or cells
            best = min(spare, key=lambda c: (abs(c.zone - zone), abs(c.margin - 80)))
            best.kind = kind
            cells.remove(best)

    def urban(self, i: int, j: int) -> bool:
        c = self.cells.get((i, j))
        return c is not None and c.kind not in RURAL_TYPES

    def u_segment(self, k: int, j: int) -> bool:
        """Whether u-line k has road between v-lines j and j+1."""
        return self.ul[k].main or self.urban(k - 1, j) or self.urban(k, j)

    def v_segment(self, k: int, i: int) -> bool:
        return self.vl[k].main or self.urban(i, k - 1) or self.urban(i, k)

    def interior(self, c: Cell) -> Box:
        """The cell box minus half of each bordering road that exists."""
        i, j = c.i, c.j
        return (
            c.box[0] + (self.ul[i].width / 2 if self.u_segment(i, j) else 0),
            c.box[1] - (self.ul[i + 1].width / 2 if self.u_segment(i + 1, j) else 0),
            c.box[2] + (self.vl[j].width / 2 if self.v_segment(j, i) else 0),
            c.box[3] - (self.vl[j + 1].width / 2 if self.v_segment(j + 1, i) else 0),
        )




# -- river ---------------------------------------------------------------------------


@dataclass
class River:
    """Signed distance from the river's bank line (negative on water), in pixels."""

    edge: np.ndarray
    bank: float
    promenade: bool


def make_river(shape: tuple[int, int], zones: Zones, rng: Rng) -> River:
    """A meandering river crossing the image, about 4-7 % of it."""
    h, w = shape
    size = zones.size
    theta = rng.uniform(0, np.pi)
    c, s = np.cos(theta), np.sin(theta)
    off = rng.choice([-1, 1]) * rng.uniform(0.12, 0.3) * size
    y0, x0 = h / 2 + off * c, w / 2 - off * s
    ys = np.arange(h, dtype=F32)[:, None] - F32(y0)
    xs = np.arange(w, dtype=F32)[None, :] - F32(x0)
    along = xs * F32(c) + ys * F32(s)
    across = ys * F32(c) - xs * F32(s)
    amp, lam = rng.uniform(0.04, 0.1) * size, rng.uniform(0.8, 1.4) * size / (2 * np.pi)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
    meander = amp * np.sin(along / F32(lam) + F32(ph1))
    meander += F32(0.25 * amp) * np.sin(along / F32(lam / 2.7) + F32(ph2))
    slope = F32(amp / lam) * np.cos(along / F32(lam) + F32(ph1))
    dist = np.abs(across - meander) / np.sqrt(1 + slope * slope)
    half = F32(np.clip(0.022 * size, 12, 60)) * (1 + F32(0.12) * np.sin(along / F32(lam * 0.7)))
    return River(dist - half, rng.uniform(10, 18), bool(rng.random() < 0.5))


def paint_river(cv: Canvas, river: River, rng: Rng) -> None:
    """Water, grassy banks with trees and sometimes a paved promenade."""
    edge = river.edge + F32(2.0) * cv.coarse
    full = (slice(None), slice(None))
    p = Patch(full, edge < river.bank, edge, edge)
    cv.fill(p, RANGE, GRASS, jit(rng, (116, 146, 76)))
    if river.promenade:
        walk = (edge > river.bank - 6) & (edge < river.bank - 1)
        cv.fill(p, 3, CONCRETE, jit(rng, (176, 172, 164)), mask=walk)
    trees = (edge > 3) & (edge < river.bank - 6) & (cv.crowns + 0.6 * cv.coarse > 0.5)
    cv.fill(p, 5, TREE, pick(rng, TREES), height=6.0, mask=trees)
    cv.fill(p, WATER_ID, WATER, jit(rng, RIVER, 0.08), mask=edge < 0)


# -- roads ---------------------------------------------------------------------------


def _segment_span(cross: list[Line], j: int, present: list[bool]) -> tuple[float, float]:
    """Span of a road segment between cross lines j and j+1, covering junctions."""
    lo = cross[j].pos - (cross[j].width / 2 if present[0] else 0)
    hi = cross[j + 1].pos + (cross[j + 1].width / 2 if present[1] else 0)
    return lo, hi


def paint_minor_roads(cv: Canvas, lat: Lattice, rng: Rng) -> None:
    """Minor road segments wherever an urban block borders the line."""
    for k, line in enumerate(lat.ul):
        if line.main:
            continue
        colour, dashed = jit(rng, ASPHALT_MINOR), rng.random() < 0.5
        for j in range(len(lat.vl) - 1):
            if lat.u_segment(k, j):
                ends = [lat.v_segment(j + e, k - 1) or lat.v_segment(j + e, k) for e in (0, 1)]
                lo, hi = _segment_span(lat.vl, j, ends)
                minor_road(cv, (line.pos - line.width / 2, line.pos + line.width / 2, lo, hi),
                           "u", colour, dashed)
    for k, line in enumerate(lat.vl):
        if line.main:
            continue
        colour, dashed = jit(rng, ASPHALT_MINOR), rng.random() < 0.5
        for i in range(len(lat.ul) - 1):
            if lat.v_segment(k, i):
                ends = [lat.u_segment(i + e, k - 1) or lat.u_segment(i + e, k) for e in (0, 1)]
                lo, hi = _segment_span(lat.ul, i, ends)
                minor_road(cv, (lo, hi, line.pos - line.width / 2, line.pos + line.width / 2),
                           "v", colour, dashed)


def minor_road(cv: Canvas, b: Box, axis: str, colour: np.ndarray, dashed: bool) -> None:
    p = cv.box(*b)
    if p is None:
        return
    cv.fill(p, ROAD, ASPHALT, colour)
    if dashed:
        width = (b[1] - b[0]) if axis == "u" else (b[3] - b[2])
        across, along = (p.s, p.t) if axis == "u" else (p.t, p.s)
        m = p.mask & (np.abs(across - width / 2) < 0.45) & (np.mod(along, 12.0) < 6)
        cv.tint(p, MARK_WHITE, m)


def main_road(cv: Canvas, line: Line, axis: str, span: tuple[float, float], rng: Rng) -> None:
    """A main road with lane markings, cars and bridges over water."""
    w = line.width
    lo, hi = span
    b = (line.pos - w / 2, line.pos + w / 2, lo, hi) if axis == "u" else (lo, hi, line.pos - w / 2,
                                                                          line.pos + w / 2)
    p = cv.box(*b)
    if p is None:
        return
    bridge = p.mask & (cv.labels[p.win] == WATER_ID)
    cv.fill(p, ROAD, ASPHALT, jit(rng, ASPHALT_MAIN, 0.04))
    cv.height[p.win][bridge] = 4.0
    across = (p.s if axis == "u" else p.t) - F32(w / 2)
    along = p.t if axis == "u" else p.s
    a = np.abs(across)
    lane = 6.0
    n = int((w / 2 - 1.5) // lane)
    dashes = np.zeros(a.shape, bool)
    for k in range(1, n):
        dashes |= np.abs(a - k * lane) < 0.45
    dashes &= np.mod(along, 15.0) < 8
    edge = np.abs(a - (w / 2 - 2)) < 0.45
    cv.tint(p, MARK_YELLOW, p.mask & (np.abs(a - 0.9) < 0.45))
    cv.tint(p, MARK_WHITE, p.mask & (dashes | edge))
    lanes = np.where(a < n * lane, a / lane + (across > 0) * 100, -9)
    slot_cars(cv, p, along, lanes, 11.0, (7.0, 0.25), 0.12, rng)


def junction(cv: Canvas, lu: Line, lv: Line, colour: np.ndarray) -> None:
    """Clear markings inside a main junction and draw zebra crossings round it."""
    hu, hv = lu.width / 2, lv.width / 2
    p = cv.box(lu.pos - hu, lu.pos + hu, lv.pos - hv, lv.pos + hv)
    if p is None:
        return
    cv.fill(p, ROAD, ASPHALT, colour)
    for sign in (-1, 1):
        near, far = sign * (hv + 1.5), sign * (hv + 7.5)
        z = cv.box(lu.pos - hu + 2, lu.pos + hu - 2,
                   lv.pos + min(near, far), lv.pos + max(near, far))
        if z is not None:
            cv.tint(z, MARK_WHITE, z.mask & (np.mod(z.s, 3.0) < 1.5))
        near, far = sign * (hu + 1.5), sign * (hu + 7.5)
        z = cv.box(lu.pos + min(near, far), lu.pos + max(near, far),
                   lv.pos - hv + 2, lv.pos + hv - 2)
        if z is not None:
            cv.tint(z, MARK_WHITE, z.mask & (np.mod(z.t, 3.0) < 1.5))


def paint_main_roads(cv: Canvas, lat: Lattice, rng: Rng) -> None:
    for line in lat.ul:
        if line.main:
            main_road(cv, line, "u", (lat.vl[0].pos, lat.vl[-1].pos), rng)
    for line in lat.vl:
        if line.main:
            main_road(cv, line, "v", (lat.ul[0].pos, lat.ul[-1].pos), rng)
    colour = jit(rng, ASPHALT_MAIN, 0.03)
    for lu in lat.ul:
        for lv in lat.vl:
            if lu.main and lv.main:
                junction(cv, lu, lv, colour)


# -- the whole city ------------------------------------------------------------------


def build_city(shape: tuple[int, int], rng: Rng) -> Canvas:
    """Lay out and paint the whole city onto a fresh canvas."""
    frame = make_frame(shape, rng.uniform(-25, 25), rng.uniform(10, 22), rng)
    cv = Canvas(shape, frame, rng)
    zones = Zones(shape, rng)
    river = make_river(shape, zones, rng)
    cv.blocked = river.edge < river.bank + 3
    lat = Lattice(cv, zones, rng)
    for cell in lat.cells.values():
        box = lat.interior(cell)
        if cv.window(*box) is not None:
            PAINTERS[cell.kind](cv, box, rng)
    paint_minor_roads(cv, lat, rng)
    paint_river(cv, river, rng)
    paint_main_roads(cv, lat, rng)
    return cv
