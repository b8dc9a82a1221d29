// The platform API, as the viewer uses it. Everything the viewer shows comes from here.

export type LayerKind = 'imagery' | 'mcae' | 'sinolc1' | 'agreement' | 'other';

export interface Layer {
  id: string;
  kind: LayerKind;
  title: string;
  scheme: string | null;
  bounds: [number, number, number, number];
  minzoom: number;
  maxzoom: number;
  provenance: 'real' | 'synthetic';
  version: string | null;
  available?: boolean; // false while the layer's file is missing on the server
  description?: string;
}

export interface City {
  id: string;
  name: string;
  provenance: 'real' | 'synthetic';
  description?: string;
  layers: Layer[];
  districts: { id: string; name: string }[];
}

export interface LegendClass {
  id: number;
  name: string;
  color: string;
  rgb: [number, number, number];
}

export interface Legend {
  id: string;
  name: string;
  description?: string;
  classes: LegendClass[];
}

export interface StatClass {
  id: number;
  name: string;
  color: string;
  pixels: number;
  area_m2: number;
  percent: number;
}

export interface Statistics {
  city: string;
  layer: string;
  scheme: string;
  provenance: string;
  area: { type: string; bbox?: number[]; id?: string; name?: string };
  area_m2: { inside: number; nodata: number; classified: number };
  classes: StatClass[];
  method?: string;
}

export interface Job {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed' | string;
  progress: number;
  tiles_done: number;
  tiles_total: number;
  tiles_written?: number;
  layer?: string;
  bytes: number;
  error: string | null;
  format: string;
  links: { self: string; download?: string };
}

export interface Estimate {
  count: number;
  estimated_bytes: number;
  cap: number;
  allowed: boolean;
  per_zoom?: Record<string, number>;
}

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

async function failure(response: Response): Promise<ApiError> {
  let detail = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.detail) detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  } catch {
    /* not JSON */
  }
  return new ApiError(response.status, detail);
}

export async function getJSON<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, ...init });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

export async function postJSON<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

/** A POST whose answer is a file: returns the blob and the server's file name. */
export async function postForBlob(path: string, body: unknown): Promise<{ blob: Blob; name: string | null }> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  const disposition = response.headers.get('content-disposition') ?? '';
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return { blob: await response.blob(), name: match ? match[1] : null };
}

const enc = encodeURIComponent;

/** A city with only the layers whose files the server can read. */
const readable = (city: City): City => ({ ...city, layers: city.layers.filter((l) => l.available !== false) });

export const api = {
  /** Every city, with only the layers whose files the server can read. */
  cities: async () => (await getJSON<City[]>('/api/cities')).map(readable),
  /** One city as the catalog has it now, or null while it is unchanged since `etag` (304). */
  city: async (id: string, etag: string | null): Promise<{ city: City; etag: string | null } | null> => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (etag) headers['If-None-Match'] = etag;
    const response = await fetch(`/api/cities/${enc(id)}`, { headers, cache: 'no-store' });
    if (response.status === 304) return null;
    if (!response.ok) throw await failure(response);
    return { city: readable((await response.json()) as City), etag: response.headers.get('etag') };
  },
  districts: (city: string) => getJSON<GeoJSON.FeatureCollection>(`/api/cities/${enc(city)}/districts.geojson`),
  legend: (city: string, layer: string) => getJSON<Legend>(`/api/cities/${enc(city)}/layers/${enc(layer)}/legend`),
  identify: (city: string, lon: number, lat: number) =>
    getJSON<{ layers: IdentifyEntry[] }>(`/api/cities/${enc(city)}/identify?lon=${lon.toFixed(7)}&lat=${lat.toFixed(7)}`),
  statisticsPath: (city: string, layer: string) => `/api/cities/${enc(city)}/layers/${enc(layer)}/statistics`,
  compare: (city: string) => getJSON<CompareReport>(`/api/cities/${enc(city)}/compare`),
  comparePath: (city: string) => `/api/cities/${enc(city)}/compare`,
  layerPath: (city: string, layer: string) => `/api/cities/${enc(city)}/layers/${enc(layer)}`,
  /** Tiles of one version of a layer: immutable on the server, so a rebuilt map gets new URLs. */
  tilePath: (city: string, layer: string, version: string | null) =>
    `/cities/${enc(city)}/layers/${enc(layer)}/tiles/WebMercatorQuad/{z}/{x}/{y}.png${version ? `?v=${enc(version)}` : ''}`,
  tilejson: (city: string, layer: string) => `/cities/${enc(city)}/layers/${enc(layer)}/WebMercatorQuad/tilejson.json`,
  wmts: (city: string, layer: string) => `/cities/${enc(city)}/layers/${enc(layer)}/WebMercatorQuad/WMTSCapabilities.xml`,
  cityWmts: (city: string) => `/cities/${enc(city)}/WebMercatorQuad/WMTSCapabilities.xml`,
};

export interface IdentifyEntry {
  layer: string;
  title: string;
  kind: LayerKind;
  value?: number | null;
  class?: string | null;
  color?: string | null;
  rgb?: number[] | null;
}

export interface AgreementClass {
  id: number;
  name: string;
  sinolc1_pixels: number;
  mcae_pixels: number;
  agree_pixels: number;
  agreement_of_sinolc1: number | null;
  agreement_of_mcae: number | null;
}

export interface AgreementSummary {
  scope: string;
  name: string;
  pixels: { grid: number; nodata: number; compared: number; excluded: number };
  overall_agreement: number | null;
  kappa: number | null;
  classes: AgreementClass[];
  harmonised?: { rows: string; columns: string; class_names: string[]; counts: number[][] };
  contingency?: { row_names: string[]; column_names: string[]; counts: number[][] };
}

export interface CompareReport {
  city: string;
  city_name: string;
  provenance: string;
  method: string;
  summary: AgreementSummary;
  districts?: AgreementSummary[];
}

/** Absolute URL of an API path (for links users copy into QGIS). */
export function absolute(path: string): string {
  return new URL(path, window.location.href).toString();
}
