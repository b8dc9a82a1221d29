// Two MapLibre maps of the city's imagery around a sample point: a close view with the unit
// (the map pixel) outlined and a zoomed-out context with the same point marked.

import type { GeoJSONSource, Map as MapLibre } from 'maplibre-gl';
import { sendJson } from '../shared/client';

interface CityLayer { id: string; kind: string; bounds: [number, number, number, number]; minzoom: number;
  maxzoom: number; version: string | null }
interface City { id: string; name: string; layers: CityLayer[] }

const EMPTY: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };

/** The square unit of side `unit` metres centred on lon/lat, as a polygon. */
export function unitSquare(lon: number, lat: number, unit: number): GeoJSON.FeatureCollection {
  const dLat = unit / 2 / 111_320;
  const dLon = unit / 2 / (111_320 * Math.cos((lat * Math.PI) / 180));
  const ring = [[lon - dLon, lat - dLat], [lon + dLon, lat - dLat], [lon + dLon, lat + dLat], [lon - dLon, lat + dLat],
    [lon - dLon, lat - dLat]];
  return { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {},
    geometry: { type: 'Polygon', coordinates: [ring] } }] };
}

export class PointViews {
  private maps: MapLibre[] = [];
  private ready = 0;
  private pending: { lon: number; lat: number; unit: number } | null = null;

  constructor(readonly close: HTMLElement, readonly context: HTMLElement, readonly note: HTMLElement) {}

  async open(city: string | null | undefined): Promise<void> {
    this.remove();
    if (!city) { this.note.textContent = 'This project has no city: no imagery to show.'; return; }
    let found: City;
    try {
      found = await sendJson<City>('GET', `/api/cities/${encodeURIComponent(city)}`);
    } catch {
      this.note.textContent = `City ${city} is not in the catalog: no imagery to show.`;
      return;
    }
    const layer = found.layers.find((l) => l.kind === 'imagery');
    if (!layer) { this.note.textContent = `${found.name} has no imagery layer.`; return; }
    const [{ Map, setWorkerUrl }, worker] = await Promise.all([import('maplibre-gl'),
      import('maplibre-gl/dist/maplibre-gl-worker.mjs?url'), import('maplibre-gl/dist/maplibre-gl.css')]);
    setWorkerUrl(worker.default);
    const version = layer.version ? `?v=${encodeURIComponent(layer.version)}` : '';
    const tiles = `${window.location.origin}/cities/${encodeURIComponent(city)}/layers/${encodeURIComponent(layer.id)}`
      + `/tiles/WebMercatorQuad/{z}/{x}/{y}.png${version}`;
    this.note.textContent = `${found.name}, imagery: the unit outlined (yellow).`;
    for (const [node, width] of [[this.close, 2], [this.context, 2]] as const) {
      const map = new Map({
        container: node, attributionControl: false, dragRotate: false, pitchWithRotate: false, touchPitch: false,
        fadeDuration: 0, bounds: layer.bounds, maxZoom: 23,
        style: { version: 8, sources: {
          imagery: { type: 'raster', tiles: [tiles], tileSize: 256, bounds: layer.bounds,
            minzoom: Math.max(0, layer.minzoom - 3), maxzoom: layer.maxzoom },
          unit: { type: 'geojson', data: EMPTY } },
        layers: [
          { id: 'background', type: 'background', paint: { 'background-color': '#e7eaee' } },
          { id: 'imagery', type: 'raster', source: 'imagery', paint: { 'raster-fade-duration': 0 } },
          { id: 'unit-casing', type: 'line', source: 'unit', paint: { 'line-color': '#17212e', 'line-width': width + 2 } },
          { id: 'unit-line', type: 'line', source: 'unit', paint: { 'line-color': '#ffd84d', 'line-width': width } },
        ] },
      });
      map.keyboard.disable(); // keys 1-9 are the page's
      map.on('load', () => { this.ready += 1; if (this.pending) this.show(this.pending.lon, this.pending.lat, this.pending.unit); });
      map.on('idle', () => { node.dataset.idle = String(Date.now()); });
      this.maps.push(map);
    }
  }

  /** Centre both views on the point; the close view shows about 30 units around it. */
  show(lon: number, lat: number, unit: number): void {
    this.pending = { lon, lat, unit };
    this.close.dataset.point = `${lon.toFixed(7)},${lat.toFixed(7)}`;
    if (this.ready < this.maps.length || this.maps.length === 0) return;
    const metresPerPixelZ0 = 156_543.03 * Math.cos((lat * Math.PI) / 180);
    const closeZoom = Math.min(23, Math.log2(metresPerPixelZ0 / ((unit * 30) / this.close.clientWidth || 0.06)));
    const square = unitSquare(lon, lat, unit);
    this.maps.forEach((map, i) => {
      (map.getSource('unit') as GeoJSONSource | undefined)?.setData(i === 0 ? square : unitSquare(lon, lat, unit * 12));
      map.jumpTo({ center: [lon, lat], zoom: i === 0 ? closeZoom : Math.max(0, closeZoom - 4) });
    });
  }

  remove(): void {
    this.maps.forEach((m) => m.remove());
    this.maps = [];
    this.ready = 0;
  }
}
