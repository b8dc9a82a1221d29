"""Painting primitives and the final image rendering of the synthetic city.

The layout (``layout.py``) paints objects onto a :class:`Canvas`: per pixel a label,
a material (which texture it gets), an albedo colour and a height (shadow length in
pixels). :func:`render` then turns the canvas into a textured, shaded RGB image.

Objects are placed in a rotated and gently warped *layout frame* ``(u, v)`` so that
roads and blocks are slightly irregular; a box ``[u0, u1) x [v0, v1)`` in that frame
is found in a small pixel window (see :meth:`Canvas.window`), never over the whole
image, so painting costs scale with the object, not the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

F32 = np.float32

# Materials: which texture a pixel gets in render().
GRASS, TREE, ASPHALT, CONCRETE, ROOF, WATER, CROP, SOIL = range(8)

# Texture amplitudes per material: fine (per pixel), medium (crown-sized), coarse, shade.
_AMP = np.array(
    [
        # fine  med   coarse crown-shade
        [0.04, 0.07, 0.10, 0.00],  # grass: smooth, mottled
        [0.05, 0.00, 0.05, 0.55],  # tree: strong per-crown relief
        [0.05, 0.02, 0.04, 0.00],  # asphalt
        [0.05, 0.03, 0.07, 0.00],  # concrete
        [0.03, 0.02, 0.04, 0.00],  # roof
        [0.015, 0.02, 0.06, 0.00],  # water (ripples added separately)
        [0.05, 0.04, 0.07, 0.00],  # crop
        [0.08, 0.08, 0.14, 0.00],  # soil
    ],
    dtype=F32,
)

SHADOW_TINT = np.array([0.36, 0.40, 0.50], dtype=F32)  # shadows are dark and bluish


def value_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator,
                order: int = 1) -> np.ndarray:
    """Smooth zero-mean, unit-variance noise with features of about ``scale`` pixels."""
    h, w = shape
    step = max(1, round(scale))
    grid = rng.standard_normal((h // step + 3, w // step + 3)).astype(F32)
    up = ndi.zoom(grid, step, order=order, prefilter=order > 1)[:h, :w]
    up -= up.mean()
    up /= up.std() + 1e-6
    return up.astype(F32, copy=False)


def crown_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float = 2.4) -> np.ndarray:
    """Blob noise about one tree crown across (unit variance)."""
    field = ndi.gaussian_filter(rng.standard_normal(shape, dtype=F32), sigma)
    field /= field.std() + 1e-6
    return field


@dataclass
class Frame:
    """The layout frame: rotation about the image centre plus a smooth warp."""

    u: np.ndarray  # (H, W) float32 layout coordinate of every pixel
    v: np.ndarray
    cos: float
    sin: float
    cx: float
    cy: float
    pad: int  # largest warp displacement, in pixels, rounded up

    def to_pixel(self, u: float, v: float) -> tuple[float, float]:
        """Approximate pixel (row, col) of a layout point (ignores the warp)."""
        x = self.cx + u * self.cos - v * self.sin
        y = self.cy + u * self.sin + v * self.cos
        return y, x


def smooth_warp(shape: tuple[int, int], amplitude: float, rng: np.random.Generator,
                terms: int = 3) -> np.ndarray:
    """A smooth displacement field (sum of separable sine products), |value| <= amplitude."""
    h, w = shape
    ys = np.arange(h, dtype=F32)
    xs = np.arange(w, dtype=F32)
    out = np.zeros(shape, F32)
    weights = rng.uniform(0.5, 1.0, terms)
    weights *= amplitude / weights.sum()
    for a in weights:
        fy, fx = 2 * np.pi / rng.uniform(350, 900, 2)
        py, px = rng.uniform(0, 2 * np.pi, 2)
        wave_y = np.sin(ys * F32(fy) + F32(py))
        wave_x = np.sin(xs * F32(fx) + F32(px))
        out += F32(a) * wave_y[:, None] * wave_x[None]
    return out


def make_frame(shape: tuple[int, int], angle_deg: float, warp_px: float,
               rng: np.random.Generator) -> Frame:
    """Rotated, warped layout coordinates for an image of ``shape``."""
    h, w = shape
    a = np.deg2rad(angle_deg)
    c, s = float(np.cos(a)), float(np.sin(a))
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ys = np.arange(h, dtype=F32)[:, None] - F32(cy)
    xs = np.arange(w, dtype=F32)[None, :] - F32(cx)
    u = xs * F32(c) + ys * F32(s) + smooth_warp(shape, warp_px, rng)
    v = ys * F32(c) - xs * F32(s) + smooth_warp(shape, warp_px, rng)
    return Frame(u, v, c, s, cx, cy, int(np.ceil(warp_px)) + 2)


@dataclass
class Patch:
    """A painted region: the pixel window, its mask and local layout coordinates."""

    win: tuple[slice, slice]
    mask: np.ndarray
    s: np.ndarray  # u - u0 within the window
    t: np.ndarray  # v - v0 within the window


class Canvas:
    """Per-pixel label, material, albedo and height, painted object by object."""

    def __init__(self, shape: tuple[int, int], frame: Frame, rng: np.random.Generator) -> None:
        self.shape = shape
        self.frame = frame
        self.labels = np.zeros(shape, np.uint8)
        self.material = np.zeros(shape, np.uint8)
        self.albedo = np.zeros((3, *shape), F32)
        self.height = np.zeros(shape, F32)
        self.blocked = np.zeros(shape, bool)  # where buildings may not go (river)
        self.crowns = crown_noise(shape, rng)
        self.coarse = value_noise(shape, 36.0, rng)

    # -- windows -----------------------------------------------------------------
    def window(self, u0: float, u1: float, v0: float, v1: float) -> tuple[slice, slice] | None:
        """Pixel window that surely holds the layout box, or None if off-image."""
        f = self.frame
        corners = [f.to_pixel(u, v) for u in (u0, u1) for v in (v0, v1)]
        rows = [p[0] for p in corners]
        cols = [p[1] for p in corners]
        r0 = max(int(np.floor(min(rows))) - f.pad, 0)
        r1 = min(int(np.ceil(max(rows))) + f.pad + 1, self.shape[0])
        c0 = max(int(np.floor(min(cols))) - f.pad, 0)
        c1 = min(int(np.ceil(max(cols))) + f.pad + 1, self.shape[1])
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def box(self, u0: float, u1: float, v0: float, v1: float) -> Patch | None:
        """The pixels inside a layout box."""
        win = self.window(u0, u1, v0, v1)
        if win is None or u1 <= u0 or v1 <= v0:
            return None
        s = self.frame.u[win] - F32(u0)
        t = self.frame.v[win] - F32(v0)
        mask = (s >= 0) & (s < u1 - u0) & (t >= 0) & (t < v1 - v0)
        if not mask.any():
            return None
        return Patch(win, mask, s, t)

    def disc(self, uc: float, vc: float, r: float) -> Patch | None:
        """The pixels inside a layout disc (local coords relative to the centre)."""
        win = self.window(uc - r, uc + r, vc - r, vc + r)
        if win is None:
            return None
        s = self.frame.u[win] - F32(uc)
        t = self.frame.v[win] - F32(vc)
        mask = s * s + t * t < r * r
        if not mask.any():
            return None
        return Patch(win, mask, s, t)

    # -- painting ----------------------------------------------------------------
    def fill(self, p: Patch, label: int, material: int, rgb: np.ndarray | tuple[float, ...],
             height: float | np.ndarray = 0.0, mask: np.ndarray | None = None) -> None:
        """Paint the patch (or ``mask`` within its window).

        ``rgb`` is one colour or one per masked pixel (3, n); ``height`` a scalar, one per
        masked pixel (n,) or window-shaped.
        """
        m = p.mask if mask is None else mask
        self.labels[p.win][m] = label
        self.material[p.win][m] = material
        hgt = self.height[p.win]
        h = np.asarray(height, F32)
        hgt[m] = h[m] if h.ndim == 2 else h
        alb = self.albedo[:, p.win[0], p.win[1]]
        colour = np.asarray(rgb, F32)
        alb[:, m] = colour[:, None] if colour.ndim == 1 else colour

    def shade(self, p: Patch, factor: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Multiply the albedo by a per-pixel factor (window-shaped) inside the mask."""
        m = p.mask if mask is None else mask
        alb = self.albedo[:, p.win[0], p.win[1]]
        alb[:, m] *= factor[m].astype(F32)[None, :]

    def tint(self, p: Patch, rgb: np.ndarray | tuple[float, ...], mask: np.ndarray) -> None:
        """Repaint the albedo only (markings, cars), keeping label and material."""
        alb = self.albedo[:, p.win[0], p.win[1]]
        colour = np.asarray(rgb, F32)
        alb[:, mask] = colour[:, None] if colour.ndim == 1 else colour


# -- final rendering ---------------------------------------------------------------


def cast_shadows(height: np.ndarray, direction: tuple[float, float], step: int = 2) -> np.ndarray:
    """Boolean shadow mask: pixels lower than a blocker's height minus its distance."""
    h, w = height.shape
    hmax = float(height.max())
    shadow = np.zeros((h, w), bool)
    dy, dx = direction
    for k in range(step, int(np.ceil(hmax)) + 1, step):
        oy, ox = round(k * dy), round(k * dx)
        if abs(oy) >= h or abs(ox) >= w:
            break
        dst = (slice(max(oy, 0), h + min(oy, 0)), slice(max(ox, 0), w + min(ox, 0)))
        src = (slice(max(-oy, 0), h - max(oy, 0)), slice(max(-ox, 0), w - max(ox, 0)))
        shadow[dst] |= height[src] - F32(k) > height[dst]
    return shadow


def crown_relief(crowns: np.ndarray, direction: tuple[float, float]) -> np.ndarray:
    """Hill-shade of the crown field lit from opposite the shadow direction."""
    gy, gx = np.gradient(crowns)
    relief = -(gy * F32(direction[0]) + gx * F32(direction[1])) * F32(1.6) + crowns * F32(0.5)
    return np.clip(relief, -1.5, 1.5).astype(F32)


def water_ripples(shape: tuple[int, int], water: np.ndarray, coarse: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Small directional ripple factor on water pixels (1 elsewhere)."""
    out = np.ones(shape, F32)
    rows, cols = np.nonzero(water)
    if rows.size == 0:
        return out
    theta = rng.uniform(0, np.pi)
    phase = (rows * np.sin(theta) + cols * np.cos(theta)).astype(F32) * F32(0.8)
    phase += coarse[rows, cols] * F32(3.0)
    out[rows, cols] = 1 + F32(0.035) * np.sin(phase)
    return out


def render(cv: Canvas, rng: np.random.Generator, sun: tuple[float, float]) -> np.ndarray:
    """Texture, shade and soften the canvas into a (3, H, W) uint8 RGB image."""
    mat = cv.material
    fine = rng.standard_normal(cv.shape, dtype=F32)
    factor = np.ones(cv.shape, F32)
    factor += _AMP[mat, 0] * fine
    del fine
    factor += _AMP[mat, 1] * cv.crowns
    factor += _AMP[mat, 2] * cv.coarse
    factor += _AMP[mat, 3] * crown_relief(cv.crowns, sun)
    factor *= water_ripples(cv.shape, mat == WATER, cv.coarse, rng)
    large = value_noise(cv.shape, 220.0, rng)
    factor *= 1 + F32(0.035) * large
    del large
    img = cv.albedo * factor[None]
    del factor
    shadow = cast_shadows(cv.height, sun)
    for c in range(3):
        img[c][shadow] *= SHADOW_TINT[c]
        img[c] = ndi.gaussian_filter(img[c], 0.7)
    del shadow
    img += rng.standard_normal(img.shape, dtype=F32) * F32(2.0)
    return np.clip(img, 0, 255).astype(np.uint8)
