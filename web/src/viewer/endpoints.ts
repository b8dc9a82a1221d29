// What the viewer asks the platform API, through the one client (shared/client.ts) and the
// types generated from the OpenAPI document. Everything the viewer shows comes from here.

import { api, fillPath, send, sendJson, urlOf, type Job, type RawOptions, type Schemas } from '../shared/client';

export type City = Schemas['CityOut'];
export type Layer = Schemas['LayerOut'];
export type LayerKind = Layer['kind'];
export type Legend = Schemas['LayerLegendOut'];
export type LegendClass = Schemas['ClassEntry'];
export type Statistics = Schemas['StatisticsOut'];
export type StatClass = Schemas['StatisticsClass'];
export type Estimate = Schemas['BundleEstimateOut'];
export type IdentifyEntry = Schemas['IdentifyEntry'];
export type AgreementSummary = Schemas['AgreementSummary'];
export type CompareReport = Schemas['CompareReportOut'];
export type LayerAssessment = Schemas['LayerAssessmentOut'];
export type Basemap = Schemas['BasemapOut'];
export type ViewerConfig = Schemas['ViewerConfigOut'];

/** A bundle job: a JobOut with the bundle's own fields (which JobOut carries as extras). */
export type BundleJob = Job & { layer?: string; format?: string; bytes?: number; tiles_written?: number };

const enc = encodeURIComponent;
const CITY = '/api/cities/{city}';
const LAYER = '/api/cities/{city}/layers/{layer}';

/** A city with only the layers whose files the server can read. */
const readable = (city: City): City => ({ ...city, layers: city.layers.filter((l) => l.available !== false) });

export const endpoints = {
  /** The viewer's settings (the basemap, null unless the server configures one). */
  config: () => api.get('/api/viewer/config', {}),
  /** Every city, with only the layers whose files the server can read. */
  cities: async () => (await api.get('/api/cities', {})).map(readable),
  /** One city as the catalog has it now, or null while it is unchanged since `etag` (304). */
  city: async (id: string, etag: string | null): Promise<{ city: City; etag: string | null } | null> => {
    const response = await send('GET', fillPath(CITY, { city: id }), { headers: etag ? { 'If-None-Match': etag } : {} });
    if (response.status === 304) return null;
    return { city: readable((await response.json()) as City), etag: response.headers.get('etag') };
  },
  districts: async (city: string) =>
    (await api.get('/api/cities/{city}/districts.geojson', { path: { city } })) as unknown as GeoJSON.FeatureCollection,
  legend: (city: string, layer: string) => api.get('/api/cities/{city}/layers/{layer}/legend', { path: { city, layer } }),
  identify: (city: string, lon: number, lat: number) => api.get('/api/cities/{city}/identify',
    { path: { city }, query: { lon: Number(lon.toFixed(7)), lat: Number(lat.toFixed(7)) } }),
  compare: (city: string) => api.get('/api/cities/{city}/compare', { path: { city } }),
  assessment: (city: string, layer: string) =>
    api.get('/api/cities/{city}/layers/{layer}/assessment', { path: { city, layer } }),
  /** A JSON answer at a path (and query) built here: statistics of an area, an estimate, a job. */
  json: <T>(method: 'GET' | 'POST', path: string, options: RawOptions = {}) => sendJson<T>(method, path, options),
  statisticsPath: (city: string, layer: string) => `${fillPath(LAYER, { city, layer })}/statistics`,
  comparePath: (city: string) => `${fillPath(CITY, { city })}/compare`,
  layerPath: (city: string, layer: string) => fillPath(LAYER, { city, layer }),
  /** Tiles of one version of a layer: immutable on the server, so a rebuilt map gets new URLs. */
  tilePath: (city: string, layer: string, version: string | null | undefined) =>
    `/cities/${enc(city)}/layers/${enc(layer)}/tiles/WebMercatorQuad/{z}/{x}/{y}.png${version ? `?v=${enc(version)}` : ''}`,
  tilejson: (city: string, layer: string) => `/cities/${enc(city)}/layers/${enc(layer)}/WebMercatorQuad/tilejson.json`,
  wmts: (city: string, layer: string) => `/cities/${enc(city)}/layers/${enc(layer)}/WebMercatorQuad/WMTSCapabilities.xml`,
  cityWmts: (city: string) => `/cities/${enc(city)}/WebMercatorQuad/WMTSCapabilities.xml`,
};

/** A file the server answers (GET or POST): the blob and the server's file name. */
export async function fetchFile(method: 'GET' | 'POST', path: string, options: RawOptions = {})
  : Promise<{ blob: Blob; name: string | null }> {
  const response = await send(method, urlOf(path, options.query), { ...options, query: undefined,
    headers: { Accept: '*/*', ...(options.headers ?? {}) } });
  const match = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '');
  return { blob: await response.blob(), name: match ? match[1] : null };
}

/** Absolute URL of an API path (for links users copy into QGIS). */
export function absolute(path: string): string {
  return new URL(path, window.location.href).toString();
}
