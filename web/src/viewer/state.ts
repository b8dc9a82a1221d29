// The whole view lives in the URL hash, so a copied link opens the same view.
//   #city=demo-city&a=mcae&b=sinolc1&mode=swipe&pos=0.5&op=0.7&z=15.8&ll=118.78312,32.07097
//    &district=old-town&tab=legend&hide=mcae:1.3;sinolc1:2&hl=...

const ID = new RegExp(__MCAE_ID_PATTERN__); // the API's id rule (see vite.config.ts)

export type Mode = 'swipe' | 'side' | 'overlay';
export const MODES: Mode[] = ['swipe', 'side', 'overlay'];

/** The panel's tabs. */
export type Tab = 'legend' | 'areas' | 'download' | 'agreement';
export const TABS: Tab[] = ['legend', 'areas', 'download', 'agreement'];

export interface ViewState {
  city: string | null;
  a: string | null; // left / bottom layer
  b: string | null; // right / top layer
  mode: Mode | null; // null: the default for the screen
  pos: number; // swipe handle, fraction of the width (0..1)
  opacity: number; // overlay: opacity of layer b (0..1)
  zoom: number | null;
  center: [number, number] | null;
  district: string | null;
  tab: string | null;
  hidden: Record<string, number[]>; // layer id -> hidden class ids
  highlighted: Record<string, number[]>; // layer id -> highlighted class ids
}

export function defaultState(): ViewState {
  return {
    city: null, a: null, b: null, mode: null, pos: 0.5, opacity: 0.75, zoom: null, center: null,
    district: null, tab: null, hidden: {}, highlighted: {},
  };
}

function clamp01(value: number, fallback: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : fallback;
}

function parseClassMap(text: string | null): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  if (!text) return out;
  for (const part of text.split(';')) {
    const [layer, ids] = part.split(':');
    if (!layer || !ids) continue;
    const values = ids.split('.').map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 256);
    if (values.length) out[layer] = values;
  }
  return out;
}

function formatClassMap(map: Record<string, number[]>): string {
  return Object.entries(map)
    .filter(([, ids]) => ids.length)
    .map(([layer, ids]) => `${layer}:${[...ids].sort((x, y) => x - y).join('.')}`)
    .join(';');
}

export function parseHash(hash: string): ViewState {
  const state = defaultState();
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const id = (name: string) => {
    const value = params.get(name);
    return value && ID.test(value) ? value : null;
  };
  state.city = id('city');
  state.a = id('a');
  state.b = id('b');
  state.district = id('district');
  const mode = params.get('mode');
  state.mode = MODES.includes(mode as Mode) ? (mode as Mode) : null;
  if (params.has('pos')) state.pos = clamp01(Number(params.get('pos')), 0.5);
  if (params.has('op')) state.opacity = clamp01(Number(params.get('op')), 0.75);
  const zoom = Number(params.get('z'));
  state.zoom = params.has('z') && Number.isFinite(zoom) ? Math.min(24, Math.max(0, zoom)) : null;
  const ll = (params.get('ll') ?? '').split(',').map(Number);
  if (ll.length === 2 && ll.every(Number.isFinite) && Math.abs(ll[0]) <= 180 && Math.abs(ll[1]) <= 85) {
    state.center = [ll[0], ll[1]];
  }
  state.tab = params.get('tab');
  state.hidden = parseClassMap(params.get('hide'));
  state.highlighted = parseClassMap(params.get('hl'));
  return state;
}

export function formatHash(state: ViewState): string {
  const params = new URLSearchParams();
  if (state.city) params.set('city', state.city);
  if (state.a) params.set('a', state.a);
  if (state.b) params.set('b', state.b);
  if (state.mode) params.set('mode', state.mode);
  params.set('pos', state.pos.toFixed(3));
  params.set('op', state.opacity.toFixed(2));
  if (state.zoom !== null) params.set('z', state.zoom.toFixed(3));
  if (state.center) params.set('ll', `${state.center[0].toFixed(7)},${state.center[1].toFixed(7)}`);
  if (state.district) params.set('district', state.district);
  if (state.tab) params.set('tab', state.tab);
  const hide = formatClassMap(state.hidden);
  if (hide) params.set('hide', hide);
  const hl = formatClassMap(state.highlighted);
  if (hl) params.set('hl', hl);
  // keep ',', ':' and ';' readable in the link
  return '#' + params.toString().replace(/%2C/g, ',').replace(/%3A/g, ':').replace(/%3B/g, ';');
}
