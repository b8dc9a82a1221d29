// Two MapLibre maps and the three ways of comparing them: swipe (the compare plugin), side by
// side (two synchronised maps), overlay (map B over map A with an opacity slider).

import {
  Map as MapLibre, NavigationControl, ScaleControl, setWorkerUrl,
  type GeoJSONSource, type LngLatBoundsLike, type RasterTileSource, type StyleSpecification,
} from 'maplibre-gl';
// MapLibre 6 finds its worker at run time; after a Vite build it must be told where it is.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import Compare from '@maplibre/maplibre-gl-compare';
import 'maplibre-gl/dist/maplibre-gl.css';
import '@maplibre/maplibre-gl-compare/dist/maplibre-gl-compare.css';

import { endpoints, type Layer } from './endpoints';
import { tileUrl, type ClassFilter } from './classfilter';
import type { Mode } from './state';

setWorkerUrl(workerUrl);

const EMPTY: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
const BACKGROUND = '#e7eaee';
/** How many zoom levels below a layer's own minzoom the viewer still asks for tiles. */
const OVERVIEW_ZOOMS = 3;

function baseStyle(): StyleSpecification {
  return {
    version: 8,
    sources: {
      districts: { type: 'geojson', data: EMPTY },
      drawn: { type: 'geojson', data: EMPTY },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': BACKGROUND } },
      { id: 'district-selected-fill', type: 'fill', source: 'districts', filter: ['==', ['get', 'id'], ''],
        paint: { 'fill-color': '#ffd84d', 'fill-opacity': 0.06 } },
      { id: 'districts-casing', type: 'line', source: 'districts',
        paint: { 'line-color': '#ffffff', 'line-width': 3.5, 'line-opacity': 0.85 } },
      { id: 'districts-line', type: 'line', source: 'districts',
        paint: { 'line-color': '#17212e', 'line-width': 1.4, 'line-dasharray': [3, 2] } },
      { id: 'district-selected', type: 'line', source: 'districts', filter: ['==', ['get', 'id'], ''],
        paint: { 'line-color': '#ffd84d', 'line-width': 4 } },
      { id: 'drawn-fill', type: 'fill', source: 'drawn', paint: { 'fill-color': '#2563eb', 'fill-opacity': 0.12 } },
      { id: 'drawn-casing', type: 'line', source: 'drawn', paint: { 'line-color': '#ffffff', 'line-width': 4 } },
      { id: 'drawn-line', type: 'line', source: 'drawn', paint: { 'line-color': '#2563eb', 'line-width': 2 } },
    ],
  };
}

interface Shown {
  layer: string; // city/layer (the version is in the URL)
  extent: string; // bounds and zoom range of the source
  url: string;
}

export interface MapPairOptions {
  center?: [number, number] | null;
  zoom?: number | null;
}

/** Keep two maps on the same centre and zoom (for side by side and overlay). */
function syncMaps(a: MapLibre, b: MapLibre): () => void {
  let busy = false;
  const follow = (from: MapLibre, to: MapLibre) => () => {
    if (busy) return;
    busy = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom(), bearing: from.getBearing(), pitch: from.getPitch() });
    busy = false;
  };
  const onA = follow(a, b);
  const onB = follow(b, a);
  a.on('move', onA);
  b.on('move', onB);
  return () => {
    a.off('move', onA);
    b.off('move', onB);
  };
}

export class MapPair {
  readonly a: MapLibre;
  readonly b: MapLibre;
  readonly wrapper: HTMLElement;
  compare: Compare | null = null;
  mode: Mode = 'swipe';
  /** Swipe handle position as a fraction of the width. */
  position = 0.5;
  opacity = 0.75;
  private unsync: (() => void) | null = null;
  private shown = new Map<MapLibre, Shown>();
  private onSlide: (fraction: number) => void = () => {};
  private firstTiles = false;

  constructor(wrapper: HTMLElement, options: MapPairOptions) {
    this.wrapper = wrapper;
    const common = {
      style: baseStyle(),
      attributionControl: false as const,
      maxZoom: 21,
      minZoom: 2,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      fadeDuration: 0,
      center: options.center ?? [110, 32],
      zoom: options.zoom ?? 3,
    };
    this.a = new MapLibre({ container: 'map-a', ...common });
    this.b = new MapLibre({ container: 'map-b', ...common });
    for (const map of [this.a, this.b]) {
      map.touchZoomRotate.disableRotation();
      map.keyboard.disableRotation();
      map.on('data', (event) => {
        if (!this.firstTiles && event.dataType === 'source' && (event as { sourceId?: string }).sourceId === 'layer'
            && (event as { tile?: unknown }).tile) {
          this.firstTiles = true;
          map.once('render', () => performance.mark('mcae-first-tiles'));
        }
      });
    }
    this.b.addControl(new NavigationControl({ showCompass: false }), 'bottom-right');
    this.a.addControl(new ScaleControl({ unit: 'metric', maxWidth: 120 }), 'bottom-left');
  }

  ready(): Promise<void> {
    const loaded = (map: MapLibre) => new Promise<void>((resolve) => (map.loaded() ? resolve() : map.once('load', () => resolve())));
    return Promise.all([loaded(this.a), loaded(this.b)]).then(() => undefined);
  }

  onSlideEnd(fn: (fraction: number) => void): void {
    this.onSlide = fn;
  }

  /** The map the user sees on top (for popups and the view of the statistics). */
  get main(): MapLibre {
    return this.a;
  }

  // -- layers ------------------------------------------------------------------------------

  setLayer(side: 'a' | 'b', city: string, layer: Layer | null, filter?: ClassFilter): void {
    const map = side === 'a' ? this.a : this.b;
    const url = layer ? tileUrl(endpoints.tilePath(city, layer.id, layer.version), `${city}/${layer.id}`, filter) : '';
    const extent = layer ? JSON.stringify([layer.bounds, layer.minzoom, layer.maxzoom]) : '';
    const current = this.shown.get(map);
    if (current && layer && current.layer === `${city}/${layer.id}` && current.extent === extent) {
      // a new class filter, or a new version of the same layer (a rebuilt map: new tile URLs):
      // the source stays, its tiles are reloaded in place (view, opacity and mode unchanged)
      if (current.url !== url) {
        (map.getSource('layer') as RasterTileSource).setTiles([url]);
        current.url = url;
      }
      return;
    }
    if (map.getLayer('layer')) map.removeLayer('layer');
    if (map.getSource('layer')) map.removeSource('layer');
    this.shown.delete(map);
    if (!layer) return;
    map.addSource('layer', {
      type: 'raster', tiles: [url], tileSize: 256, bounds: layer.bounds as [number, number, number, number],
      minzoom: Math.max(0, layer.minzoom - OVERVIEW_ZOOMS), maxzoom: layer.maxzoom,
    });
    const categorical = layer.kind !== 'imagery';
    map.addLayer({
      id: 'layer', type: 'raster', source: 'layer',
      paint: {
        'raster-resampling': categorical ? 'nearest' : 'linear',
        'raster-fade-duration': 0,
        'raster-opacity': side === 'b' && this.mode === 'overlay' ? this.opacity : 1,
      },
    }, 'district-selected-fill');
    this.shown.set(map, { layer: `${city}/${layer.id}`, extent, url });
  }

  setDistricts(data: GeoJSON.FeatureCollection): void {
    for (const map of [this.a, this.b]) (map.getSource('districts') as GeoJSONSource).setData(data);
  }

  selectDistrict(id: string | null): void {
    for (const map of [this.a, this.b]) {
      map.setFilter('district-selected', ['==', ['get', 'id'], id ?? '']);
      map.setFilter('district-selected-fill', ['==', ['get', 'id'], id ?? '']);
    }
  }

  setDrawn(data: GeoJSON.FeatureCollection | GeoJSON.Feature | null): void {
    for (const map of [this.a, this.b]) (map.getSource('drawn') as GeoJSONSource).setData(data ?? EMPTY);
  }

  // -- modes -------------------------------------------------------------------------------

  setMode(mode: Mode): void {
    this.mode = mode;
    this.compare?.remove();
    this.compare = null;
    this.unsync?.();
    this.unsync = null;
    this.a.getContainer().style.clip = '';
    this.b.getContainer().style.clip = '';
    this.wrapper.classList.remove('mode-swipe', 'mode-side', 'mode-overlay');
    this.wrapper.classList.add(`mode-${mode}`);
    this.a.resize();
    this.b.resize();
    this.b.jumpTo({ center: this.a.getCenter(), zoom: this.a.getZoom() });
    const overlay = mode === 'overlay';
    this.b.setLayoutProperty('background', 'visibility', overlay ? 'none' : 'visible');
    for (const id of ['districts-casing', 'districts-line', 'district-selected', 'district-selected-fill',
      'drawn-fill', 'drawn-casing', 'drawn-line']) {
      // in overlay mode outlines are drawn once, on top (map B), not faded under it
      this.a.setLayoutProperty(id, 'visibility', overlay ? 'none' : 'visible');
    }
    if (this.b.getLayer('layer')) this.b.setPaintProperty('layer', 'raster-opacity', overlay ? this.opacity : 1);
    if (mode === 'swipe') {
      this.compare = new Compare(this.a, this.b, this.wrapper, {});
      this.setPosition(this.position);
      const swiper = this.wrapper.querySelector<HTMLElement>('.compare-swiper-vertical');
      if (swiper) this.makeAccessible(swiper);
      this.compare.on('slideend', (event: { currentPosition: number }) => {
        this.position = this.fraction(event.currentPosition);
        this.updateSwiperLabel();
        this.onSlide(this.position);
      });
      this.b.on('resize', this.keepPosition);
    } else {
      this.b.off('resize', this.keepPosition);
      this.unsync = syncMaps(this.a, this.b);
    }
  }

  private keepPosition = () => {
    if (this.compare) this.compare.setSlider(this.position * this.wrapper.clientWidth);
  };

  private fraction(px: number): number {
    const width = this.wrapper.clientWidth || 1;
    return Math.min(1, Math.max(0, px / width));
  }

  setPosition(fraction: number): void {
    this.position = Math.min(1, Math.max(0, fraction));
    this.compare?.setSlider(this.position * this.wrapper.clientWidth);
    this.updateSwiperLabel();
  }

  /** The swipe handle as a keyboard slider (arrow keys, Home, End). */
  private makeAccessible(swiper: HTMLElement): void {
    swiper.tabIndex = 0;
    swiper.setAttribute('role', 'slider');
    swiper.setAttribute('aria-label', 'Swipe position: map A left of the handle, map B right of it');
    swiper.setAttribute('aria-valuemin', '0');
    swiper.setAttribute('aria-valuemax', '100');
    swiper.addEventListener('keydown', (event) => {
      const steps: Record<string, number> = { ArrowLeft: -0.05, ArrowDown: -0.05, ArrowRight: 0.05, ArrowUp: 0.05 };
      let next: number | null = null;
      if (event.key in steps) next = this.position + steps[event.key] * (event.shiftKey ? 0.2 : 1);
      if (event.key === 'Home') next = 0;
      if (event.key === 'End') next = 1;
      if (next === null) return;
      event.preventDefault();
      this.setPosition(next);
      this.onSlide(this.position);
    });
    this.updateSwiperLabel();
  }

  private updateSwiperLabel(): void {
    const swiper = this.wrapper.querySelector<HTMLElement>('.compare-swiper-vertical');
    if (!swiper) return;
    const value = Math.round(this.position * 100);
    swiper.setAttribute('aria-valuenow', String(value));
    swiper.setAttribute('aria-valuetext', `${value} % of the width shows map A`);
  }

  setOpacity(value: number): void {
    this.opacity = Math.min(1, Math.max(0, value));
    if (this.mode === 'overlay' && this.b.getLayer('layer')) {
      this.b.setPaintProperty('layer', 'raster-opacity', this.opacity);
    }
  }

  resize(): void {
    this.a.resize();
    this.b.resize();
  }

  fit(bounds: LngLatBoundsLike, animate: boolean): void {
    const narrow = this.wrapper.clientWidth < 500;
    const padding = { top: 64, bottom: narrow && this.mode === 'overlay' ? 84 : 28, left: 24, right: 24 };
    this.a.fitBounds(bounds, { padding, duration: animate ? 700 : 0, maxZoom: 18 });
  }
}
