// The basemap: a map drawn under the layers when the server configures one (Settings.basemap,
// off by default: nothing is fetched from outside unless an operator says so). An XYZ template
// becomes one raster source; a MapLibre style URL's sources and layers are added, renamed, under
// the viewer's own. Its attribution is shown on the map and in the layer info.

import { AttributionControl, type LayerSpecification, type Map as MapLibre, type StyleSpecification } from 'maplibre-gl';

import { ApiError } from '../shared/client';
import type { Basemap } from './endpoints';

/** Everything the basemap adds stands below this layer of the viewer's style (and its maps). */
const BELOW = 'district-selected-fill';
const PREFIX = 'basemap-';

/** Its attribution as plain text (the setting may hold HTML links). */
export function attributionText(basemap: Basemap): string {
  return new DOMParser().parseFromString(basemap.attribution, 'text/html').body.textContent ?? '';
}

/** Where its tiles come from: the host of its URL ("this server" for a path). */
export function basemapSource(basemap: Basemap): string {
  return basemap.url.startsWith('/') ? 'this server' : new URL(basemap.url.replace(/[{}]/g, '')).host;
}

function addXyz(map: MapLibre, basemap: Basemap): void {
  map.addSource(PREFIX + 'xyz', { type: 'raster', tiles: [basemap.url], tileSize: 256, maxzoom: basemap.maxzoom });
  map.addLayer({ id: PREFIX + 'xyz', type: 'raster', source: PREFIX + 'xyz', paint: { 'raster-fade-duration': 0 } }, BELOW);
}

function addStyle(map: MapLibre, style: StyleSpecification): void {
  if (style.glyphs && !map.getGlyphs()) map.setGlyphs(style.glyphs);
  if (typeof style.sprite === 'string') map.setSprite(style.sprite); // the viewer's own style has none
  for (const [id, source] of Object.entries(style.sources)) map.addSource(PREFIX + id, source);
  for (const layer of style.layers) {
    const renamed = { ...layer, id: PREFIX + layer.id } as LayerSpecification & { source?: string };
    if ('source' in layer && typeof layer.source === 'string') renamed.source = PREFIX + layer.source;
    map.addLayer(renamed, BELOW);
  }
}

/** A style document, from this server or the configured origin (no token sent to either). */
async function fetchStyle(url: string): Promise<StyleSpecification> {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiError(response.status, `the basemap style answered ${response.status}`);
  return (await response.json()) as StyleSpecification;
}

/** Draw the basemap on both maps, under everything else, and show its attribution. */
export async function addBasemap(maps: MapLibre[], basemap: Basemap): Promise<void> {
  const style = basemap.kind === 'style' ? await fetchStyle(basemap.url) : null;
  maps.forEach((map, i) => {
    if (style) addStyle(map, style);
    else addXyz(map, basemap);
    if (i === maps.length - 1) { // one attribution, beside the zoom buttons
      map.addControl(new AttributionControl({ compact: false, customAttribution: basemap.attribution }), 'bottom-right');
    }
  });
}
