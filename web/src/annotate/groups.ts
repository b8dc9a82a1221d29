// The groups of the open neighbourhood: fetched with the order, search and class chosen (the
// server sorts and filters), and drawn as a row of buttons a chunk at a time: a city's
// neighbourhood has 800+ groups, so the row holds the first ones (and the open one) and adds the
// next chunk as it is scrolled to its end (or "+N more" is pressed).

import { api, type Group } from '../shared/client';
import { el } from '../shared/util';
import { openGroup } from './open';
import { groupButton } from './pickers';
import { P, classes, page } from './state';
import { ui } from './ui';

/** Buttons added at a time. */
export const GROUP_CHUNK = 120;

type GroupSort = 'cluster' | '-area' | '-gain' | '-open-area' | '-size' | '-doubt' | 'class';

let observer: IntersectionObserver | null = null;

/** Fetch the groups of `hood` as chosen (they become the page's list, drawn from the start). */
export async function loadGroups(hood: string): Promise<Group[]> {
  const seq = (page.groupsSeq = (page.groupsSeq ?? 0) + 1);
  const min = Number(ui.groupMin.value);
  const q = ui.groupQ.value.trim();
  const cls = ui.groupClass.value;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups', {
    path: { ...P(), hood },
    query: { sort: ui.groupSort.value as GroupSort, ...(min > 0 ? { min_area_ha: min } : {}), ...(q ? { q } : {}),
      ...(cls !== '' ? { class: Number(cls) } : {}) } });
  if (seq === page.groupsSeq && hood === page.hood) {
    page.groups = found;
    page.groupsShown = GROUP_CHUNK;
  }
  return found;
}

/** The list again with the choices changed (search, order, class, area). */
export async function reloadGroups(): Promise<void> {
  if (!page.hood) return;
  const hood = page.hood;
  const seq = (page.groupsSeq ?? 0) + 1;
  await loadGroups(hood);
  if (seq === page.groupsSeq && hood === page.hood) drawGroups();
}

/** The class filter's options: the project's classes. */
export function fillClassFilter(): void {
  ui.groupClass.replaceChildren(el('option', { value: '' }, 'All classes'),
    ...classes().filter((c) => c.id > 0).map((c) => el('option', { value: c.id }, c.name)));
}

const open = (g: Group) => { void openGroup(g.neighbourhood, g.key); };

/** Draw the row: the first chunks, and at least up to the open group. */
export function drawGroups(): void {
  const list = page.groups;
  const at = page.group ? list.findIndex((g) => g.id === page.group!.id) : -1;
  page.groupsShown = Math.min(list.length, Math.max(page.groupsShown ?? GROUP_CHUNK, GROUP_CHUNK,
    at >= 0 ? Math.ceil((at + 1) / GROUP_CHUNK) * GROUP_CHUNK : 0));
  ui.groups.dataset.hood = page.hood ?? '';
  ui.groups.replaceChildren(...list.slice(0, page.groupsShown).map((g) => groupButton(g, page.group, page.user.name, open)));
  addMore();
  const filtered = ui.groupQ.value.trim() !== '' || ui.groupClass.value !== '' || Number(ui.groupMin.value) > 0;
  ui.groupCount.textContent = `${list.length} group${list.length === 1 ? '' : 's'}${filtered ? ' found' : ''}`;
  ui.groupCount.dataset.total = String(list.length);
  ui.groups.dataset.shown = String(page.groupsShown);
  if (!list.length) ui.groups.append(el('span', { class: 'note' }, filtered ? 'No group matches.' : 'No group.'));
  ui.groups.querySelector<HTMLElement>('[aria-pressed="true"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

/** The next chunk of buttons, after those shown. */
export function showMore(): void {
  const list = page.groups;
  const from = page.groupsShown;
  if (from >= list.length) return;
  page.groupsShown = Math.min(list.length, from + GROUP_CHUNK);
  ui.groups.querySelector('.pick.more')?.remove();
  ui.groups.append(...list.slice(from, page.groupsShown).map((g) => groupButton(g, page.group, page.user.name, open)));
  ui.groups.dataset.shown = String(page.groupsShown);
  addMore();
}

/** "+N more" at the end of the row; scrolled into view, it adds the next chunk by itself. */
function addMore(): void {
  observer?.disconnect();
  const left = page.groups.length - page.groupsShown;
  if (left <= 0) return;
  const more = el('button', { type: 'button', class: 'pick more', title: 'Show more groups (they also come as you scroll)',
    onclick: () => showMore() }, `+${left} more`);
  ui.groups.append(more);
  if (typeof IntersectionObserver === 'undefined') return;
  observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) showMore();
  }, { root: ui.groups, rootMargin: '0px 300px 0px 0px' });
  observer.observe(more);
}
