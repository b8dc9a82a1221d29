// A small map of where the patch lies in its city: the city's imagery layer (MapLibre, loaded
// only when the project has a city) with the patch outlined from its lon/lat bounds.

import type { GeoJSONSource, Map as MapLibre } from 'maplibre-gl';
import { sendJson } from '../shared/client';

interface CityLayer {
  id: string;
  kind: string;
  bounds: [number, number, number, number];
  minzoom: number;
  maxzoom: number;
  version: string | null;
}

interface City {
  id: string;
  name: string;
  layers: CityLayer[];
}

const EMPTY: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };

function outline(bounds: number[] | null | undefined): GeoJSON.FeatureCollection {
  if (!bounds || bounds.length !== 4) return EMPTY;
  const [w, s, e, n] = bounds;
  return { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {},
    geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } }] };
}

export class Locator {
  private readonly box = document.getElementById('locator-box') as HTMLElement;
  private readonly node = document.getElementById('locator') as HTMLElement;
  private readonly note = document.getElementById('locator-note') as HTMLElement;
  private map: MapLibre | null = null;
  private city: string | null = null;
  private pending: number[] | null = null;
  private ready = false;
  /** A click on the map (lon, lat): the page opens the patch there. */
  onPick: ((lon: number, lat: number) => void) | null = null;

  /** Set up for a project's city (null: no locator, said so quietly). */
  async open(city: string | null | undefined): Promise<void> {
    if (city === this.city && (this.map || !city)) return;
    this.close();
    this.city = city ?? null;
    this.box.dataset.state = 'none';
    if (!city) {
      this.note.textContent = 'No city map: this project has no city.';
      return;
    }
    let found: City;
    try {
      found = await sendJson<City>('GET', `/api/cities/${encodeURIComponent(city)}`);
    } catch {
      this.note.textContent = `No city map: city ${city} is not in the catalog.`;
      return;
    }
    const layer = found.layers.find((l) => l.kind === 'imagery') ?? found.layers.find((l) => l.id === 'imagery');
    if (!layer) {
      this.note.textContent = `No city map: ${found.name} has no imagery layer.`;
      return;
    }
    try {
      await this.draw(city, found, layer);
    } catch (error) {
      this.close();
      this.box.dataset.state = 'failed';
      this.note.textContent = `The city map could not be drawn: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  private async draw(city: string, found: City, layer: CityLayer): Promise<void> {
    const [{ Map, setWorkerUrl }, worker] = await Promise.all([import('maplibre-gl'),
      import('maplibre-gl/dist/maplibre-gl-worker.mjs?url'), import('maplibre-gl/dist/maplibre-gl.css')]);
    setWorkerUrl(worker.default);
    const version = layer.version ? `?v=${encodeURIComponent(layer.version)}` : '';
    const tiles = `${window.location.origin}/cities/${encodeURIComponent(city)}/layers/${encodeURIComponent(layer.id)}`
      + `/tiles/WebMercatorQuad/{z}/{x}/{y}.png${version}`;
    this.box.classList.add('on');
    this.note.textContent = `${found.name}: the patch outlined on the imagery; click another patch to open it.`;
    const map = new Map({
      container: this.node,
      attributionControl: false,
      interactive: true,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      fadeDuration: 0,
      bounds: layer.bounds,
      style: {
        version: 8,
        sources: {
          imagery: { type: 'raster', tiles: [tiles], tileSize: 256, bounds: layer.bounds,
            minzoom: Math.max(0, layer.minzoom - 3), maxzoom: layer.maxzoom },
          patch: { type: 'geojson', data: EMPTY },
        },
        layers: [
          { id: 'background', type: 'background', paint: { 'background-color': '#e7eaee' } },
          { id: 'imagery', type: 'raster', source: 'imagery', paint: { 'raster-fade-duration': 0 } },
          { id: 'patch-fill', type: 'fill', source: 'patch', paint: { 'fill-color': '#ffd84d', 'fill-opacity': 0.2 } },
          { id: 'patch-casing', type: 'line', source: 'patch', paint: { 'line-color': '#17212e', 'line-width': 4 } },
          { id: 'patch-line', type: 'line', source: 'patch', paint: { 'line-color': '#ffd84d', 'line-width': 2 } },
        ],
      },
    });
    map.touchZoomRotate.disableRotation();
    map.keyboard.disable(); // the page's keys (arrows: previous/next patch) stay the page's
    map.on('click', (event) => this.onPick?.(event.lngLat.lng, event.lngLat.lat));
    map.getCanvas().style.cursor = 'pointer';
    this.map = map;
    if (__MCAE_TEST_HOOKS__) (window as unknown as { mcaeLocator: MapLibre }).mcaeLocator = map;
    map.on('load', () => {
      this.ready = true;
      this.box.dataset.state = 'ready';
      if (this.pending) this.show(this.pending);
    });
    map.on('idle', () => { this.box.dataset.idle = String(Date.now()); });
  }

  /** Outline a patch ([w, s, e, n]) and centre the map on it, with some of the city around. */
  show(bounds: number[] | null | undefined): void {
    this.pending = bounds ?? null;
    if (!this.map || !this.ready) return;
    (this.map.getSource('patch') as GeoJSONSource | undefined)?.setData(outline(bounds));
    this.box.dataset.patch = bounds ? bounds.join(',') : '';
    if (!bounds || bounds.length !== 4) return;
    const [w, s, e, n] = bounds;
    const camera = this.map.cameraForBounds([[w, s], [e, n]], { padding: 8 });
    if (camera?.zoom !== undefined) {
      this.map.jumpTo({ center: camera.center, zoom: Math.max(0, camera.zoom - 2) });
    }
  }

  close(): void {
    this.map?.remove();
    this.map = null;
    this.ready = false;
    this.box.classList.remove('on');
    this.node.replaceChildren();
    this.note.textContent = '';
  }
}
