// The locator of the neighbourhoods: a small map (SVG) of every neighbourhood's bounds, shaded
// by progress, the open one outlined; a click (or Enter on a focused one) opens it.

import { api, type Neighbourhood } from '../shared/client';
import { svg, title } from '../shared/svg';
import { pct } from '../shared/util';
import { openHood } from './open';
import { P, page } from './state';
import { ui } from './ui';
import { showHood } from './hoods';

const WIDTH = 120;
const MAX_HEIGHT = 64;
const PER_PAGE = 500;

/** Every neighbourhood with its bounds (a city has hundreds: a few pages of stored counters). */
export async function loadHoodMap(): Promise<void> {
  const all: Neighbourhood[] = [];
  for (let at = 1; at <= 40; at += 1) {
    const found = await api.get('/api/projects/{project}/neighbourhoods', { path: P(), query: { page: at, per_page: PER_PAGE } });
    all.push(...found.items);
    if (all.length >= found.total || !found.items.length) break;
  }
  page.allHoods = all;
  drawHoodMap();
}

async function jump(name: string): Promise<void> {
  await showHood(name);
  await openHood(name);
}

export function drawHoodMap(): void {
  const boxes = page.allHoods.filter((h) => h.bounds?.length === 4) as (Neighbourhood & { bounds: number[] })[];
  ui.hoodLocator.hidden = boxes.length === 0;
  if (!boxes.length) return;
  const w = Math.min(...boxes.map((h) => h.bounds[0]));
  const s = Math.min(...boxes.map((h) => h.bounds[1]));
  const e = Math.max(...boxes.map((h) => h.bounds[2]));
  const n = Math.max(...boxes.map((h) => h.bounds[3]));
  const squeeze = Math.cos((((s + n) / 2) * Math.PI) / 180); // a degree of longitude is shorter than one of latitude
  const spanX = Math.max(1e-9, (e - w) * squeeze);
  const spanY = Math.max(1e-9, n - s);
  const scale = Math.min(WIDTH / spanX, MAX_HEIGHT / spanY);
  const map = ui.hoodMap;
  map.setAttribute('width', String(Math.round(spanX * scale)));
  map.setAttribute('height', String(Math.round(spanY * scale)));
  map.setAttribute('viewBox', `0 0 ${spanX * scale} ${spanY * scale}`);
  map.replaceChildren(...boxes.map((h) => {
    const [hw, hs, he, hn] = h.bounds;
    const rect = svg('rect', {
      x: (hw - w) * squeeze * scale, y: (n - hn) * scale,
      width: Math.max(1, (he - hw) * squeeze * scale), height: Math.max(1, (hn - hs) * scale),
      class: `hood-cell${h.progress >= 1 ? ' done' : ''}`, 'data-hood': h.name, tabindex: 0, role: 'button',
      'aria-label': `Open neighbourhood ${h.name} (${pct(h.progress)} decided)`,
      style: `--progress:${h.progress}`,
    }, title(`${h.name}: ${h.decided}/${h.masks} masks decided (${pct(h.progress)})`));
    rect.addEventListener('click', () => { void jump(h.name); });
    rect.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      event.preventDefault();
      event.stopPropagation();
      void jump(h.name);
    });
    return rect;
  }));
  markHoodMap();
}

/** Outline the open neighbourhood; shade each by its progress as the page knows it. */
export function markHoodMap(): void {
  for (const rect of ui.hoodMap.querySelectorAll<SVGRectElement>('.hood-cell')) {
    const name = rect.dataset.hood ?? rect.getAttribute('data-hood');
    rect.classList.toggle('current', name === page.hood);
    const known = page.hoods.find((h) => h.name === name) ?? page.allHoods.find((h) => h.name === name);
    if (known) {
      rect.style.setProperty('--progress', String(known.progress));
      rect.classList.toggle('done', known.progress >= 1);
    }
  }
  ui.hoodMap.dataset.current = page.hood ?? '';
}
