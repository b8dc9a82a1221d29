// Small DOM and formatting helpers of every page (the viewer and the expert tools).

type Attr = string | number | boolean | null | undefined | EventListener;
type Child = Node | string | number | null | undefined | false;

/** Create an element: el('button', {class: 'x', onclick: fn}, 'text', child). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, Attr> = {},
  ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value as EventListener);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'number' ? String(child) : child);
  }
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

/** Remove every child of `node` and append `children`. */
export function fill(node: Element, ...children: Child[]): void {
  node.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false)
    .map((c) => (typeof c === 'number' ? String(c) : c)));
}

export function pct(value: number, digits = 0): string {
  return `${(value * 100).toFixed(digits)} %`;
}

/** A small share of a whole (a group of a city): two significant digits below 1 %, never a bare "0 %". */
export function sharePct(value: number): string {
  if (value <= 0) return '0 %';
  if (value >= 0.01) return pct(value);
  return `${(value * 100).toPrecision(2)} %`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "3 min ago", "at 14:02" for an ISO time. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const ago = (Date.now() - t.getTime()) / 1000;
  if (ago < 45) return 'just now';
  if (ago < 3600) return `${Math.round(ago / 60)} min ago`;
  const sameDay = new Date().toDateString() === t.toDateString();
  return sameDay ? `at ${t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : t.toLocaleString();
}

/** Black or white text, whichever reads better on `hex`. */
export function inkOn(hex: string): string {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex);
  if (!m) return '#000';
  const n = parseInt(m[1], 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#111' : '#fff';
}

/** Offer `data` as a file download. */
export function download(data: Blob, name: string): void {
  const url = URL.createObjectURL(data);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Read and write this page's query string (state worth a reload: project, group, ...). */
export function param(name: string): string | null {
  return new URL(window.location.href).searchParams.get(name);
}

export function setParams(values: Record<string, string | null | undefined>): void {
  const url = new URL(window.location.href);
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === '') url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  window.history.replaceState(window.history.state, '', url);
}

/** A toast-like status line: `flash(node, 'Saved', 'ok')`. */
export function flash(node: HTMLElement, text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  node.textContent = text;
  node.dataset.kind = kind;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  let timer: number | undefined;
  return (...args: A) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

export function formatKm2(m2: number): string {
  const km2 = m2 / 1e6;
  if (km2 === 0) return '0 km²';
  const digits = km2 >= 100 ? 0 : km2 >= 1 ? 2 : km2 >= 0.01 ? 3 : 4;
  return `${km2.toFixed(digits)} km²`;
}

export function formatPercent(value: number, digits = 1): string {
  return `${value.toFixed(digits)} %`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} kB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

export function formatInt(value: number): string {
  return value.toLocaleString('en-US');
}

export function csvCell(value: unknown): string {
  const text = String(value ?? '');
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const narrowQuery = window.matchMedia('(max-width: 760px)');
export const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
