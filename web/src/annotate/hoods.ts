// The neighbourhoods of the project: one page of them at a time (a row of buttons with their
// progress), narrowed by the jump-to field (the server's name search; Enter opens the first
// match), and the page that holds a given neighbourhood.

import { api } from '../shared/client';
import { markHoodMap } from './hoodmap';
import { status } from './notes';
import { openHood } from './open';
import { renderHoods } from './pickers';
import { HOODS_PER_PAGE, P, page } from './state';
import { ui } from './ui';

export async function loadHoods(at = page.hoodPage): Promise<void> {
  const q = page.hoodQuery;
  const found = await api.get('/api/projects/{project}/neighbourhoods', { path: P(),
    query: { page: at, per_page: HOODS_PER_PAGE, ...(q ? { q } : {}) } });
  if (q !== page.hoodQuery) return; // typed on meanwhile
  page.hoods = found.items;
  page.hoodTotal = found.total;
  page.hoodPage = at;
  drawHoods();
  if (q) ui.hoodNames.replaceChildren(...found.items.map((h) => Object.assign(document.createElement('option'), { value: h.name })));
}

export function drawHoods(): void {
  const pages = Math.max(1, Math.ceil(page.hoodTotal / HOODS_PER_PAGE));
  ui.hoodPage.textContent = `${page.hoodPage} / ${pages}`;
  ui.hoodPrev.disabled = page.hoodPage <= 1;
  ui.hoodNext.disabled = page.hoodPage >= pages;
  renderHoods(ui.hoods, page.hoods, page.hood, (name) => { void openHood(name); });
  ui.hoods.dataset.query = page.hoodQuery;
  markHoodMap();
}

/** The jump-to field changed: the row shows the neighbourhoods whose name contains it. */
export async function findHoods(text: string): Promise<void> {
  page.hoodQuery = text.trim();
  await loadHoods(1);
}

/** Enter in the jump-to field: open the neighbourhood of that name, or the first match. */
export async function jumpToTyped(): Promise<void> {
  const text = ui.hoodQ.value.trim();
  if (!text) return;
  if (page.hoodQuery !== text) await findHoods(text);
  const exact = page.hoods.find((h) => h.name.toLowerCase() === text.toLowerCase());
  const target = exact ?? page.hoods[0];
  if (!target) { status(`No neighbourhood's name contains "${text}".`, 'info'); return; }
  await openHood(target.name);
}

/** Make sure the neighbourhood row shows `hood` (from the full list if the map has it, else page by page). */
export async function showHood(hood: string): Promise<void> {
  if (page.hoods.some((h) => h.name === hood)) return;
  if (page.hoodQuery) { // not among the matches: back to every neighbourhood
    page.hoodQuery = '';
    ui.hoodQ.value = '';
  }
  const index = page.allHoods.findIndex((h) => h.name === hood);
  if (index >= 0) {
    await loadHoods(Math.floor(index / HOODS_PER_PAGE) + 1);
    if (page.hoods.some((h) => h.name === hood)) return;
  }
  const pages = Math.ceil(page.hoodTotal / HOODS_PER_PAGE);
  for (let at = 1; at <= Math.min(pages, 200); at += 1) {
    await loadHoods(at);
    if (page.hoods.some((h) => h.name === hood)) return;
  }
}
