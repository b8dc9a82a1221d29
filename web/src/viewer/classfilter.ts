// Client-side class filter for class-map tiles.
//
// The tile server renders class maps as paletted PNGs with exact class colours (nearest
// resampling), and its routes refuse unknown query parameters, so hiding or highlighting
// classes is done in the browser: while a layer has a filter, its raster source asks for
// `mcaecls://HOST/PATH#hide=1.3&hl=5` instead of `http://HOST/PATH`. The protocol handler
// below fetches the ordinary tile (same URL, so the HTTP cache is shared), maps every
// pixel's colour back to its class id through the layer's legend, makes hidden classes
// transparent, greys out the classes that are not highlighted, and hands MapLibre an
// ImageBitmap. Without a filter the source uses the plain tile URL and nothing is decoded.

import { addProtocol } from 'maplibre-gl';
import type { LegendClass } from './endpoints';

export const PROTOCOL = 'mcaecls';

const palettes = new Map<string, Map<number, number>>(); // layer key -> rgb -> class id

export function registerPalette(key: string, classes: LegendClass[]): void {
  const lookup = new Map<number, number>();
  for (const c of classes) lookup.set((c.rgb[0] << 16) | (c.rgb[1] << 8) | c.rgb[2], c.id);
  palettes.set(key, lookup);
}

export interface ClassFilter {
  hidden: number[];
  highlighted: number[];
}

export function isActive(filter: ClassFilter | undefined): boolean {
  return !!filter && (filter.hidden.length > 0 || filter.highlighted.length > 0);
}

/** The tile URL template of a layer, through the filter protocol when a filter is active. */
export function tileUrl(path: string, paletteKey: string, filter: ClassFilter | undefined): string {
  const plain = window.location.origin + path;
  if (!isActive(filter)) return plain;
  const params = new URLSearchParams({ key: paletteKey });
  if (filter!.hidden.length) params.set('hide', filter!.hidden.join('.'));
  if (filter!.highlighted.length) params.set('hl', filter!.highlighted.join('.'));
  return `${PROTOCOL}://${window.location.host}${path}#${params.toString()}`;
}

let canvas: OffscreenCanvas | HTMLCanvasElement | null = null;

function scratch(width: number, height: number): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D {
  if (!canvas) canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : document.createElement('canvas');
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true }) as
    | CanvasRenderingContext2D
    | OffscreenCanvasRenderingContext2D;
  context.clearRect(0, 0, width, height);
  return context;
}

function ids(text: string | null): Set<number> {
  return new Set((text ?? '').split('.').filter(Boolean).map(Number));
}

export function recolour(data: Uint8ClampedArray, lookup: Map<number, number>, hidden: Set<number>,
                         highlighted: Set<number>): void {
  const focus = highlighted.size > 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    const id = lookup.get((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    if (id === undefined) continue;
    if (hidden.has(id)) {
      data[i + 3] = 0;
    } else if (focus && !highlighted.has(id)) {
      const grey = Math.round(0.3 * data[i] + 0.59 * data[i + 1] + 0.11 * data[i + 2]);
      data[i] = data[i + 1] = data[i + 2] = 200 + Math.round(grey / 5);
      data[i + 3] = 90;
    }
  }
}

export function installClassFilterProtocol(): void {
  addProtocol(PROTOCOL, async (params, abortController) => {
    const [address, fragment = ''] = params.url.split('#');
    const url = window.location.protocol + address.slice(PROTOCOL.length + 1);
    const response = await fetch(url, { signal: abortController.signal });
    if (response.status === 204) return { data: new ArrayBuffer(0) };
    if (!response.ok) throw new Error(`tile ${response.status}: ${url}`);
    const options = new URLSearchParams(fragment);
    const lookup = palettes.get(options.get('key') ?? '');
    const bitmap = await createImageBitmap(await response.blob());
    if (!lookup) return { data: bitmap };
    const context = scratch(bitmap.width, bitmap.height);
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    const image = context.getImageData(0, 0, context.canvas.width, context.canvas.height);
    recolour(image.data, lookup, ids(options.get('hide')), ids(options.get('hl')));
    return { data: await createImageBitmap(image) };
  });
}
