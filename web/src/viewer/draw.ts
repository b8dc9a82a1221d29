// Drawing a rectangle or a polygon on the maps, with mouse, pen or touch (pointer events).
// A transparent layer over the maps takes the pointer while drawing, so the maps do not pan;
// the shape is shown on both maps as GeoJSON.

import type { Map as MapLibre } from 'maplibre-gl';
import type { MapPair } from './maps';

export type Shape =
  | { kind: 'rect'; bbox: [number, number, number, number] }
  | { kind: 'polygon'; ring: [number, number][] };

export function shapeFeature(shape: Shape): GeoJSON.Feature<GeoJSON.Polygon> {
  const ring = shape.kind === 'rect' ? rectRing(shape.bbox) : [...shape.ring, shape.ring[0]];
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } };
}

export function shapeBbox(shape: Shape): [number, number, number, number] {
  if (shape.kind === 'rect') return shape.bbox;
  const xs = shape.ring.map((p) => p[0]);
  const ys = shape.ring.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function rectRing([w, s, e, n]: [number, number, number, number]): [number, number][] {
  return [[w, s], [e, s], [e, n], [w, n], [w, s]];
}

interface Elements {
  overlay: HTMLElement;
  bar: HTMLElement;
  help: HTMLElement;
  finish: HTMLButtonElement;
  cancel: HTMLButtonElement;
}

export class DrawTool {
  kind: 'rect' | 'polygon' | null = null;
  private start: [number, number] | null = null;
  private startPx: [number, number] | null = null;
  private downPx: [number, number] | null = null;
  private vertices: [number, number][] = [];
  private vertexPx: [number, number][] = [];
  private resolve: ((shape: Shape | null) => void) | null = null;

  constructor(private pair: MapPair, private el: Elements) {
    const overlay = el.overlay;
    overlay.addEventListener('pointerdown', (e) => this.down(e));
    overlay.addEventListener('pointermove', (e) => this.move(e));
    overlay.addEventListener('pointerup', (e) => this.up(e));
    overlay.addEventListener('dblclick', (e) => {
      e.preventDefault();
      if (this.kind === 'polygon') this.finishPolygon();
    });
    el.finish.addEventListener('click', () => this.finishPolygon());
    el.cancel.addEventListener('click', () => this.end(null));
    document.addEventListener('keydown', (e) => {
      if (!this.kind) return;
      if (e.key === 'Escape') this.end(null);
      else if (e.key === 'Enter' && this.kind === 'polygon') this.finishPolygon();
      else if (e.key === 'Backspace' && this.kind === 'polygon' && this.vertices.length) {
        this.vertices.pop();
        this.vertexPx.pop();
        this.preview(null);
      }
    });
  }

  get active(): boolean {
    return this.kind !== null;
  }

  /** Draw a shape; resolves with it, or null when cancelled. */
  draw(kind: 'rect' | 'polygon'): Promise<Shape | null> {
    this.end(null);
    this.kind = kind;
    this.vertices = [];
    this.vertexPx = [];
    this.start = null;
    this.el.overlay.hidden = false;
    this.el.bar.hidden = false;
    this.el.finish.hidden = kind !== 'polygon';
    this.el.finish.disabled = true;
    this.el.help.textContent = kind === 'rect'
      ? 'Drag across the map to draw a rectangle'
      : 'Click or tap each corner; double-click, Enter or Finish to close';
    this.pair.setDrawn(null);
    return new Promise((resolve) => (this.resolve = resolve));
  }

  private mapAt(e: PointerEvent): { map: MapLibre; point: [number, number] } {
    const maps = [this.pair.a, this.pair.b];
    for (const map of maps) {
      const rect = map.getContainer().getBoundingClientRect();
      if (e.clientX >= rect.left && e.clientX <= rect.right && e.clientY >= rect.top && e.clientY <= rect.bottom) {
        return { map, point: [e.clientX - rect.left, e.clientY - rect.top] };
      }
    }
    const rect = this.pair.a.getContainer().getBoundingClientRect();
    return { map: this.pair.a, point: [e.clientX - rect.left, e.clientY - rect.top] };
  }

  private lngLat(e: PointerEvent): [number, number] {
    const { map, point } = this.mapAt(e);
    const ll = map.unproject(point);
    return [ll.lng, ll.lat];
  }

  private down(e: PointerEvent): void {
    if (!this.kind) return;
    e.preventDefault();
    this.el.overlay.setPointerCapture(e.pointerId);
    this.downPx = [e.clientX, e.clientY];
    if (this.kind === 'rect') {
      this.start = this.lngLat(e);
      this.startPx = [e.clientX, e.clientY];
    }
  }

  private move(e: PointerEvent): void {
    if (this.kind === 'rect' && this.start) {
      this.pair.setDrawn(shapeFeature({ kind: 'rect', bbox: this.bbox(this.start, this.lngLat(e)) }));
    } else if (this.kind === 'polygon' && this.vertices.length) {
      this.preview(this.lngLat(e));
    }
  }

  private up(e: PointerEvent): void {
    if (!this.kind) return;
    if (this.kind === 'rect') {
      if (!this.start || !this.startPx) return;
      const far = Math.hypot(e.clientX - this.startPx[0], e.clientY - this.startPx[1]) > 8;
      const bbox = this.bbox(this.start, this.lngLat(e));
      this.start = null;
      if (far) this.end({ kind: 'rect', bbox });
      else this.pair.setDrawn(null);
      return;
    }
    // polygon: a click or tap (not a drag) adds a corner; one near the first corner closes it
    if (this.downPx && Math.hypot(e.clientX - this.downPx[0], e.clientY - this.downPx[1]) > 10) return;
    const first = this.vertexPx[0];
    if (first && this.vertices.length >= 3 && Math.hypot(e.clientX - first[0], e.clientY - first[1]) < 14) {
      this.finishPolygon();
      return;
    }
    const last = this.vertexPx[this.vertexPx.length - 1];
    if (last && Math.hypot(e.clientX - last[0], e.clientY - last[1]) < 4) return; // the second click of a double-click
    this.vertices.push(this.lngLat(e));
    this.vertexPx.push([e.clientX, e.clientY]);
    this.el.finish.disabled = this.vertices.length < 3;
    this.preview(null);
  }

  private preview(cursor: [number, number] | null): void {
    const points = cursor ? [...this.vertices, cursor] : this.vertices;
    if (points.length < 2) {
      this.pair.setDrawn(points.length ? { type: 'Feature', properties: {},
        geometry: { type: 'Point', coordinates: points[0] } } : null);
      return;
    }
    const geometry: GeoJSON.Geometry = points.length >= 3
      ? { type: 'Polygon', coordinates: [[...points, points[0]]] }
      : { type: 'LineString', coordinates: points };
    this.pair.setDrawn({ type: 'Feature', properties: {}, geometry });
  }

  private finishPolygon(): void {
    if (this.kind !== 'polygon' || this.vertices.length < 3) return;
    this.end({ kind: 'polygon', ring: [...this.vertices] });
  }

  private bbox(a: [number, number], b: [number, number]): [number, number, number, number] {
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  }

  private end(shape: Shape | null): void {
    const resolve = this.resolve;
    this.resolve = null;
    this.kind = null;
    this.start = null;
    this.el.overlay.hidden = true;
    this.el.bar.hidden = true;
    this.pair.setDrawn(shape ? shapeFeature(shape) : null);
    resolve?.(shape);
  }
}
