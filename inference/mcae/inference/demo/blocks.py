"""What fills a block of the synthetic city: buildings, trees, fields, ponds, car parks.

Each ``paint_*`` function fills one block interior (a box of the layout frame) on a
:class:`render.Canvas`; loops run over objects, every pixel operation is vectorised
over the object's window.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .render import (
    ASPHALT,
    CONCRETE,
    CROP,
    F32,
    GRASS,
    ROOF,
    SOIL,
    TREE,
    WATER,
    Canvas,
    Patch,
)

# MCAE ids (see mcae.inference.classes).
BARE, RANGE, DEVELOPED, ROAD, TREE_ID, WATER_ID, AGRI, BUILDING = range(1, 9)

Box = tuple[float, float, float, float]  # u0, u1, v0, v1 in the layout frame
Rng = np.random.Generator

ROOFS: dict[str, list[tuple[int, int, int]]] = {
    "grey": [(150, 150, 147), (128, 130, 132), (172, 170, 165), (108, 110, 113)],
    "red": [(156, 84, 62), (136, 74, 58), (172, 104, 76), (124, 80, 66)],
    "blue": [(74, 114, 160), (94, 134, 174), (62, 98, 142)],
    "white": [(216, 216, 210), (230, 228, 222), (202, 205, 206)],
}
TREES = [(44, 68, 38), (38, 62, 36), (52, 76, 42), (48, 70, 34)]
GRASSES = [(108, 134, 74), (118, 140, 82), (100, 126, 70), (126, 138, 86)]
CONCRETES = [(178, 175, 166), (166, 164, 159), (188, 184, 176), (162, 152, 142)]
SOILS = [(160, 130, 98), (174, 144, 110), (150, 121, 93), (182, 158, 124)]
CROPS = [(78, 128, 52), (96, 142, 60), (122, 150, 74), (148, 158, 92),
         (130, 112, 84), (104, 122, 58), (88, 120, 72), (160, 150, 96)]
PONDS = [(52, 92, 86), (64, 98, 94), (70, 96, 82), (60, 86, 102)]
CARS = [(225, 225, 222), (30, 30, 34), (160, 162, 166), (150, 40, 36), (40, 60, 120)]
ASPHALT_MAIN = (150, 152, 156)
ASPHALT_MINOR = (160, 160, 158)
PARKING = (104, 106, 110)
MARK_WHITE = (232, 232, 228)
MARK_YELLOW = (214, 196, 120)
RIVER = (60, 90, 100)


def jit(rng: Rng, rgb: tuple[int, int, int], amount: float = 0.06) -> np.ndarray:
    """A colour with random brightness and slight per-channel variation."""
    base = np.asarray(rgb, F32) * F32(1 + rng.uniform(-amount, amount))
    return (base * (1 + rng.uniform(-amount / 3, amount / 3, 3))).astype(F32)


def pick(rng: Rng, palette: list[tuple[int, int, int]], amount: float = 0.06) -> np.ndarray:
    """A jittered colour drawn from a palette."""
    return jit(rng, palette[int(rng.integers(len(palette)))], amount)


def shrink(b: Box, m: float) -> Box:
    return (b[0] + m, b[1] - m, b[2] + m, b[3] - m)


def extent(b: Box) -> tuple[float, float]:
    return b[1] - b[0], b[3] - b[2]


def bsp(b: Box, rng: Rng, lo: float, hi: float) -> list[Box]:
    """Split a box recursively into lots about ``lo``-``hi`` pixels across."""
    du, dv = extent(b)
    if max(du, dv) <= hi or max(du, dv) < 2 * lo:
        return [b]
    f = rng.uniform(0.35, 0.65)
    if du >= dv:
        cut = b[0] + du * f
        return bsp((b[0], cut, b[2], b[3]), rng, lo, hi) + bsp((cut, b[1], b[2], b[3]), rng, lo, hi)
    cut = b[2] + dv * f
    return bsp((b[0], b[1], b[2], cut), rng, lo, hi) + bsp((b[0], b[1], cut, b[3]), rng, lo, hi)


def choose(weights: dict[str, float], rng: Rng) -> str:
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]


# -- small objects --------------------------------------------------------------------


def crown(cv: Canvas, u: float, v: float, r: float, rng: Rng) -> None:
    """One tree crown: a shaded dome."""
    p = cv.disc(u, v, r)
    if p is None:
        return
    rr = (p.s * p.s + p.t * p.t)[p.mask] / F32(r * r)
    rgb = pick(rng, TREES, 0.1)[:, None] * (1.1 - 0.35 * rr)[None]
    cv.fill(p, TREE_ID, TREE, rgb, height=r * 1.4 * (1 - 0.5 * rr))


def tree_row(cv: Canvas, a: tuple[float, float], b: tuple[float, float], rng: Rng,
             r: float = 5.0, spacing: float = 13.0) -> None:
    """Street trees from layout point a to b."""
    length = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    n = int(length // spacing)
    for k in range(n):
        f = (k + 0.5 + rng.uniform(-0.1, 0.1)) / max(n, 1)
        if rng.random() < 0.1:
            continue
        crown(cv, a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]),
              r * rng.uniform(0.8, 1.2), rng)


def scatter_trees(cv: Canvas, b: Box, n: int, rng: Rng, r: tuple[float, float] = (3.5, 7)) -> None:
    for _ in range(n):
        crown(cv, rng.uniform(b[0], b[1]), rng.uniform(b[2], b[3]), rng.uniform(*r), rng)


def street_trees(cv: Canvas, b: Box, inset: float, rng: Rng) -> None:
    """A row of trees just inside each side of a block."""
    u0, u1, v0, v1 = shrink(b, inset)
    for a, c in (((u0, v0), (u1, v0)), ((u0, v1), (u1, v1)), ((u0, v0), (u0, v1)),
                 ((u1, v0), (u1, v1))):
        tree_row(cv, a, c, rng)


def clumps(cv: Canvas, b: Box, threshold: float, rng: Rng, label: int = TREE_ID) -> None:
    """Blobby tree clumps (or, anti-correlated, bare patches) from noise inside a box."""
    p = cv.box(*b)
    if p is None:
        return
    sign = F32(0.85 if label == TREE_ID else -0.85)
    field = cv.coarse[p.win] * sign + cv.crowns[p.win] * F32(0.35)
    m = p.mask & (field > threshold)
    if label == TREE_ID:
        height = np.clip(field - threshold, 0, 1) * 10 + 4
        cv.fill(p, TREE_ID, TREE, pick(rng, TREES), height=height, mask=m)
    else:
        cv.fill(p, BARE, SOIL, pick(rng, SOILS), mask=m)


def ground(cv: Canvas, b: Box, label: int, material: int, rgb: np.ndarray) -> Patch | None:
    """Fill a box with flat ground."""
    p = cv.box(*b)
    if p is not None:
        cv.fill(p, label, material, rgb)
    return p


def slot_cars(cv: Canvas, p: Patch, along: np.ndarray, lane: np.ndarray, slot: float,
              car: tuple[float, float], rate: float, rng: Rng) -> None:
    """Cars in slots: ``lane`` is a continuous lane coordinate, centres at .5."""
    ia = np.floor(along / slot).astype(np.int64)
    il = np.floor(lane).astype(np.int64)
    key = (ia * 7919 + il * 104729) % 4096
    table = rng.random(4096)
    colour = rng.integers(len(CARS), size=4096)
    inside = (np.abs(along - (ia + 0.5) * slot) < car[0] / 2) & (np.abs(lane - il - 0.5) < car[1])
    m = p.mask & inside & (table[key] < rate)
    if m.any():
        cv.tint(p, np.asarray(CARS, F32)[colour[key[m]]].T, m)
        cv.height[p.win][m] = 1.6


# -- buildings -----------------------------------------------------------------------


def building(cv: Canvas, b: Box, style: str, colour: np.ndarray, height: float,
             rng: Rng) -> bool:
    """A roof (flat, gable or corrugated) with parapet, ridge or ribs; False if blocked."""
    p = cv.box(*b)
    if p is None or cv.blocked[p.win][p.mask].any():
        return False
    cv.fill(p, BUILDING, ROOF, colour, height)
    du, dv = extent(b)
    along, across, depth = (p.s, p.t, dv) if du >= dv else (p.t, p.s, du)
    edge = np.minimum(np.minimum(p.s, du - p.s), np.minimum(p.t, dv - p.t))
    if style == "gable":
        f = np.where(across < depth / 2, 1.12, 0.8) * (1 + 0.05 * np.sin(along * 2.4))
        f = np.where(np.abs(across - depth / 2) < 0.7, 1.25, f)
    elif style == "ribbed":
        f = (1 + 0.07 * np.sin(along * 2.8)) * np.where(edge < 1.2, 0.85, 1.0)
    else:
        f = np.where(edge < 1.6, 0.8, 1.0) * (1 + 0.03 * np.sin(across * 0.9))
    cv.shade(p, f)
    if style == "flat" and min(du, dv) > 22 and rng.random() < 0.7:
        for _ in range(int(rng.integers(1, 4))):
            w, d = rng.uniform(4, 10), rng.uniform(4, 10)
            u0, v0 = rng.uniform(b[0] + 3, b[1] - w - 3), rng.uniform(b[2] + 3, b[3] - d - 3)
            q = cv.box(u0, u0 + w, v0, v0 + d)
            if q is not None:
                cv.fill(q, BUILDING, ROOF, colour * F32(rng.uniform(1.05, 1.2)), height + 2.5)
    return True


def roof_kind(rng: Rng, weights: dict[str, float]) -> tuple[str, np.ndarray]:
    """Roof style and colour: red roofs are gabled, blue ones ribbed, others flat."""
    family = choose(weights, rng)
    style = {"red": "gable", "blue": "ribbed"}.get(family, "flat")
    return style, pick(rng, ROOFS[family])


def parking(cv: Canvas, b: Box, rng: Rng) -> None:
    """A car park: dark asphalt, white stall lines, parked cars."""
    p = ground(cv, b, DEVELOPED, ASPHALT, jit(rng, PARKING))
    if p is None:
        return
    row = np.mod(p.t, 26.0)
    stall = (row < 8) | (row > 18)
    lines = stall & (np.mod(p.s, 4.2) < 0.7)
    cv.tint(p, MARK_WHITE, p.mask & lines)
    lane = np.where(row < 8, row / 8, (row - 18) / 8 + 1) + np.floor(p.t / 26.0) * 2
    slot_cars(cv, p, p.s, np.where(stall, lane, -9), 4.2, (2.6, 0.4), 0.6, rng)


# -- blocks --------------------------------------------------------------------------


def paint_dense(cv: Canvas, b: Box, rng: Rng) -> None:
    """Commercial / mixed block: towers and mid-rise on concrete, car parks, greens."""
    ground(cv, b, DEVELOPED, CONCRETE, pick(rng, CONCRETES))
    margin = rng.uniform(6, 12)
    if rng.random() < 0.7:
        street_trees(cv, b, margin / 2, rng)
    weights = {"grey": 0.45, "white": 0.25, "blue": 0.15, "red": 0.15}
    for lot in bsp(shrink(b, margin), rng, 40, 95):
        r = rng.random()
        if r < 0.8:
            style, colour = roof_kind(rng, weights)
            building(cv, shrink(lot, rng.uniform(2.5, 7)), style, colour, rng.uniform(12, 45), rng)
        elif r < 0.91:
            parking(cv, shrink(lot, 3), rng)
        else:
            green = shrink(lot, 4)
            ground(cv, green, RANGE, GRASS, pick(rng, GRASSES))
            du, dv = extent(green)
            scatter_trees(cv, green, int(max(du * dv, 0) / 150), rng)


def paint_compound(cv: Canvas, b: Box, rng: Rng) -> None:
    """Residential compound: parallel slab blocks on lawns with trees and paths."""
    ground(cv, b, DEVELOPED, CONCRETE, pick(rng, CONCRETES))
    inner = shrink(b, 6)
    ground(cv, inner, RANGE, GRASS, pick(rng, GRASSES))
    street_trees(cv, b, 3, rng)
    du, dv = extent(inner)
    scatter_trees(cv, inner, int(max(du * dv, 0) / 170), rng)
    tall = rng.random() < 0.55
    depth = rng.uniform(17, 24)
    gap = depth * (rng.uniform(1.6, 2.2) if tall else rng.uniform(1.0, 1.4))
    height = rng.uniform(28, 46) if tall else rng.uniform(11, 17)
    style, colour = roof_kind(rng, {"grey": 0.35, "white": 0.25, "red": 0.3, "blue": 0.1})
    path = pick(rng, CONCRETES)
    length = rng.uniform(50, 95)
    v = inner[2] + rng.uniform(5, 10)
    while v + depth < inner[3] - 5:
        ground(cv, (inner[0], inner[1], v + depth, v + depth + 5), DEVELOPED, CONCRETE, path)
        u = inner[0] + rng.uniform(5, 14)
        while u + 25 < inner[1] - 5:
            n = min(length * rng.uniform(0.85, 1.15), inner[1] - 5 - u)
            building(cv, (u, u + n, v, v + depth), style, colour, height, rng)
            u += n + rng.uniform(9, 18)
        v += depth + gap


def paint_village(cv: Canvas, b: Box, rng: Rng) -> None:
    """Urban village: small houses packed along narrow alleys."""
    ground(cv, b, DEVELOPED, CONCRETE, jit(rng, (146, 140, 130)))
    if rng.random() < 0.4:
        street_trees(cv, b, 3, rng)
        b = shrink(b, 6)
    weights = {"red": 0.4, "grey": 0.4, "white": 0.15, "blue": 0.05}
    main = choose(weights, rng)
    weights[main] += 1.5  # each village has a dominant roof family
    v = b[2] + rng.uniform(2, 5)
    while v < b[3] - 10:
        hv = rng.uniform(14, 24)
        u = b[0] + rng.uniform(2, 5)
        while u < b[1] - 10:
            hu = rng.uniform(12, 26)
            house = (u, min(u + hu, b[1] - 2), v, min(v + hv, b[3] - 2))
            r = rng.random()
            if r < 0.86:
                style, colour = roof_kind(rng, weights)
                building(cv, house, style, colour, rng.uniform(4, 11), rng)
            elif r < 0.94:
                crown(cv, u + hu / 2, v + hv / 2, rng.uniform(4, 7.5), rng)
            u += hu + rng.uniform(2.5, 5)
        v += hv + rng.uniform(3, 6)


def paint_industrial(cv: Canvas, b: Box, rng: Rng) -> None:
    """Factories: big low sheds with ribbed roofs, yards, car parks, bare lots."""
    ground(cv, b, DEVELOPED, CONCRETE, pick(rng, CONCRETES))
    if rng.random() < 0.5:
        street_trees(cv, b, 4, rng)
    weights = {"blue": 0.45, "white": 0.3, "grey": 0.25}
    for lot in bsp(shrink(b, 8), rng, 60, 170):
        r = rng.random()
        if r < 0.7:
            style, colour = roof_kind(rng, weights)
            building(cv, shrink(lot, rng.uniform(5, 12)), style, colour, rng.uniform(6, 14), rng)
        elif r < 0.85:
            parking(cv, shrink(lot, 5), rng)
        else:
            ground(cv, shrink(lot, 5), BARE, SOIL, pick(rng, SOILS))


def pond(cv: Canvas, b: Box, rng: Rng) -> None:
    """An irregular pond inside a box."""
    du, dv = extent(b)
    a, c = du * rng.uniform(0.15, 0.3), dv * rng.uniform(0.15, 0.3)
    uc = rng.uniform(b[0] + 1.3 * a, b[1] - 1.3 * a)
    vc = rng.uniform(b[2] + 1.3 * c, b[3] - 1.3 * c)
    p = cv.box(uc - 1.3 * a, uc + 1.3 * a, vc - 1.3 * c, vc + 1.3 * c)
    if p is None:
        return
    e = ((p.s - 1.3 * a) / a) ** 2 + ((p.t - 1.3 * c) / c) ** 2 + 0.25 * cv.coarse[p.win]
    cv.fill(p, WATER_ID, WATER, pick(rng, PONDS), mask=p.mask & (e < 1))


def paint_park(cv: Canvas, b: Box, rng: Rng) -> None:
    """Park: lawn, tree clumps, paths, a plaza and often a pond."""
    ground(cv, b, RANGE, GRASS, pick(rng, GRASSES))
    clumps(cv, b, rng.uniform(-0.6, 0.0), rng)
    du, dv = extent(b)
    uc, vc = b[0] + du * rng.uniform(0.3, 0.7), b[2] + dv * rng.uniform(0.3, 0.7)
    paving = pick(rng, CONCRETES)
    ground(cv, (uc - 2.5, uc + 2.5, b[2], b[3]), DEVELOPED, CONCRETE, paving)
    ground(cv, (b[0], b[1], vc - 2.5, vc + 2.5), DEVELOPED, CONCRETE, paving)
    half = rng.uniform(8, 16)
    ground(cv, (uc - half, uc + half, vc - half, vc + half), DEVELOPED, CONCRETE, paving)
    if rng.random() < 0.6 and min(du, dv) > 80:
        pond(cv, b, rng)
    street_trees(cv, b, 4, rng)


def paint_school(cv: Canvas, b: Box, rng: Rng) -> None:
    """School: a running track round a pitch, plus teaching blocks."""
    du, dv = extent(b)
    if du < 150 or dv < 90:
        paint_compound(cv, b, rng)
        return
    ground(cv, b, DEVELOPED, CONCRETE, pick(rng, CONCRETES))
    street_trees(cv, b, 4, rng)
    r = min((dv - 16) / 2, 55.0)
    tb = (b[0] + 8, b[0] + 8 + min(du * 0.65, 3.8 * r), b[3] - 8 - 2 * r, b[3] - 8)
    p = cv.box(*tb)
    if p is not None:
        a = max((tb[1] - tb[0]) / 2 - r, 0.0)
        d = np.hypot(np.maximum(np.abs(p.s - (tb[1] - tb[0]) / 2) - a, 0), p.t - r)
        cv.fill(p, DEVELOPED, CONCRETE, jit(rng, (168, 84, 70)), mask=p.mask & (d < r))
        pitch = p.mask & (d < r - 9)
        cv.fill(p, RANGE, GRASS, jit(rng, (86, 148, 70)), mask=pitch)
        cv.shade(p, 1 + 0.06 * np.sign(np.sin(p.s * 0.35)), mask=pitch)
    u = tb[1] + 10
    for k in range(3):
        v0 = b[2] + 10 + k * (dv - 20) / 3
        building(cv, (u, b[1] - 10, v0, v0 + min(20.0, (dv - 20) / 3 - 12)), "flat",
                 pick(rng, ROOFS["white"]), rng.uniform(12, 20), rng)


def paint_construction(cv: Canvas, b: Box, rng: Rng) -> None:
    """Construction site: bare soil, pits, slabs, prefab site offices, a fence."""
    p = ground(cv, b, BARE, SOIL, pick(rng, SOILS))
    for lot in bsp(shrink(b, 10), rng, 50, 120):
        r = rng.random()
        if r < 0.3:
            ground(cv, shrink(lot, 6), BARE, SOIL, jit(rng, (122, 102, 84)))
        elif r < 0.42:
            ground(cv, shrink(lot, 6), DEVELOPED, CONCRETE, jit(rng, (170, 168, 160)))
        elif r < 0.5:
            building(cv, shrink(lot, 8), "flat", pick(rng, ROOFS["grey"]), rng.uniform(4, 16), rng)
    u0, v0 = b[0] + 6, b[2] + 6
    for k in range(int(rng.integers(2, 5))):
        building(cv, (u0, u0 + 28, v0 + k * 12, v0 + k * 12 + 8), "ribbed",
                 pick(rng, ROOFS["blue"]), 5, rng)
    if p is not None:
        du, dv = extent(b)
        edge = np.minimum(np.minimum(p.s, du - p.s), np.minimum(p.t, dv - p.t))
        cv.tint(p, (70, 120, 150), p.mask & (edge < 1.0) & (cv.labels[p.win] == BARE))


def paint_vacant(cv: Canvas, b: Box, rng: Rng) -> None:
    """Vacant land: rough grass, bare patches, scrubby tree clumps."""
    ground(cv, b, RANGE, GRASS, jit(rng, (138, 146, 90)))
    clumps(cv, b, rng.uniform(0.4, 1.0), rng, label=BARE)
    clumps(cv, b, rng.uniform(0.0, 0.5), rng)


def crop_field(cv: Canvas, fb: Box, along_u: bool, rng: Rng) -> None:
    """One field: crop tone with row stripes (or, rarely, greenhouses)."""
    p = cv.box(*shrink(fb, 1.2))
    if p is None:
        return
    across = p.t if along_u else p.s
    if rng.random() < 0.05:
        cv.fill(p, AGRI, CROP, jit(rng, (212, 218, 222)))
        cv.shade(p, 1 - 0.25 * (np.mod(across, 6.0) < 1.2))
        return
    cv.fill(p, AGRI, CROP, pick(rng, CROPS, 0.08))
    period, amp = rng.uniform(2.5, 6), rng.uniform(0.04, 0.16)
    cv.shade(p, 1 + amp * np.sin(across * (2 * np.pi / period)))


def paint_farm(cv: Canvas, b: Box, rng: Rng) -> None:
    """Fields in long strips, split into plots, with the odd shelter belt."""
    ground(cv, b, AGRI, CROP, jit(rng, (124, 120, 88)))
    along_u = bool(rng.random() < 0.5)
    (l0, l1), (w0, w1) = ((b[0], b[1]), (b[2], b[3])) if along_u else ((b[2], b[3]), (b[0], b[1]))
    pos = w0
    while pos < w1 - 5:
        width = min(rng.uniform(22, 55), w1 - pos)
        cuts = [l0, *sorted(rng.uniform(l0, l1, int(rng.integers(0, 3)))), l1]
        for a, c in itertools.pairwise(cuts):
            fb = (a, c, pos, pos + width) if along_u else (pos, pos + width, a, c)
            crop_field(cv, fb, along_u, rng)
        pos += width
    if rng.random() < 0.5:
        tree_row(cv, (b[0] + 4, b[2] + 4), (b[1] - 4, b[2] + 4), rng, r=4.5, spacing=8)
    if rng.random() < 0.3:
        tree_row(cv, (b[0] + 4, b[2] + 4), (b[0] + 4, b[3] - 4), rng, r=4.5, spacing=8)


def paint_fishponds(cv: Canvas, b: Box, rng: Rng) -> None:
    """Aquaculture: rectangular ponds between grassy dikes."""
    ground(cv, b, RANGE, GRASS, jit(rng, (128, 140, 84)))
    su, sv, dike = rng.uniform(45, 90), rng.uniform(35, 70), rng.uniform(4, 7)
    for u in np.arange(b[0] + dike, b[1] - 20, su + dike):
        for v in np.arange(b[2] + dike, b[3] - 20, sv + dike):
            pb = (u, min(u + su, b[1] - dike), v, min(v + sv, b[3] - dike))
            if rng.random() < 0.12:
                ground(cv, pb, BARE, SOIL, pick(rng, SOILS))
            else:
                ground(cv, pb, WATER_ID, WATER, pick(rng, PONDS, 0.1))


def paint_woodlot(cv: Canvas, b: Box, rng: Rng) -> None:
    ground(cv, b, RANGE, GRASS, pick(rng, GRASSES))
    clumps(cv, b, rng.uniform(-1.1, -0.5), rng)


PAINTERS: dict[str, Callable[[Canvas, Box, Rng], None]] = {
    "dense": paint_dense, "compound": paint_compound, "village": paint_village,
    "industrial": paint_industrial, "park": paint_park, "school": paint_school,
    "construction": paint_construction, "vacant": paint_vacant, "farm": paint_farm,
    "fishponds": paint_fishponds, "woodlot": paint_woodlot,
}
