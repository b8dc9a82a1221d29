// Bounding boxes in degrees (west, south, east, north): of a city, of a GeoJSON geometry, and
// where two of them overlap.

import type { City } from './endpoints';

export type Bbox = [number, number, number, number];

/** The box around all of a city's layers (the whole world, less the poles, for a city without any). */
export function cityBounds(city: City): Bbox {
  const b = city.layers.map((l) => l.bounds);
  if (!b.length) return [-180, -60, 180, 75];
  return [Math.min(...b.map((x) => x[0])), Math.min(...b.map((x) => x[1])),
    Math.max(...b.map((x) => x[2])), Math.max(...b.map((x) => x[3]))];
}

/** The overlap of two boxes, or null when they do not overlap. */
export function intersect(a: Bbox, b: Bbox): Bbox | null {
  const out: Bbox = [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])];
  return out[0] < out[2] && out[1] < out[3] ? out : null;
}

/** The box around every position of a geometry (any type but a GeometryCollection). */
export function geometryBounds(geometry: GeoJSON.Geometry): Bbox {
  const xs: number[] = [];
  const ys: number[] = [];
  const walk = (coords: unknown): void => {
    if (Array.isArray(coords) && typeof coords[0] === 'number') {
      xs.push(coords[0] as number);
      ys.push(coords[1] as number);
    } else if (Array.isArray(coords)) coords.forEach(walk);
  };
  walk((geometry as { coordinates?: unknown }).coordinates);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
