// The neighbourhoods of the project: one page of them at a time (a row of buttons with their
// progress), and the page that holds a given neighbourhood.

import { api } from '../shared/client';
import { openHood } from './open';
import { renderHoods } from './pickers';
import { HOODS_PER_PAGE, P, page } from './state';
import { ui } from './ui';

export async function loadHoods(at = page.hoodPage): Promise<void> {
  const found = await api.get('/api/projects/{project}/neighbourhoods', { path: P(),
    query: { page: at, per_page: HOODS_PER_PAGE } });
  page.hoods = found.items;
  page.hoodTotal = found.total;
  page.hoodPage = at;
  drawHoods();
}

export function drawHoods(): void {
  const pages = Math.max(1, Math.ceil(page.hoodTotal / HOODS_PER_PAGE));
  ui.hoodPage.textContent = `${page.hoodPage} / ${pages}`;
  ui.hoodPrev.disabled = page.hoodPage <= 1;
  ui.hoodNext.disabled = page.hoodPage >= pages;
  renderHoods(ui.hoods, page.hoods, page.hood, (name) => { void openHood(name); });
}

/** Make sure the neighbourhood page shows `hood` (searching the pages). */
export async function showHood(hood: string): Promise<void> {
  if (page.hoods.some((h) => h.name === hood)) return;
  const pages = Math.ceil(page.hoodTotal / HOODS_PER_PAGE);
  for (let at = 1; at <= Math.min(pages, 200); at += 1) {
    await loadHoods(at);
    if (page.hoods.some((h) => h.name === hood)) return;
  }
}
