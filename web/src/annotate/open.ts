// Opening things: a neighbourhood, a group (its masks page by page, its history), the next
// group to label (leased), the next or previous group of the list (j/k), a page of masks.

import { api } from '../shared/client';
import { seconds, setParams } from '../shared/util';
import { grid, showCount } from './cards';
import { drawGroups, loadGroups } from './groups';
import { drawHoods, loadHoods, showHood } from './hoods';
import { banner, describeGroup, errorText, status } from './notes';
import { G, HOODS_PER_PAGE, P, PER_PAGE, nextSeq, page } from './state';
import { ui } from './ui';
import { loadHistory } from './undo';

export async function openHood(hood: string, groupKey?: string): Promise<void> {
  page.hood = hood;
  drawHoods();
  page.groups = await loadGroups(hood);
  const target = page.groups.find((g) => g.key === groupKey) ?? page.groups.find((g) => g.decided < g.size) ?? page.groups[0];
  drawGroups();
  if (target) await openGroup(hood, target.key);
}

export async function openGroup(hood: string, key: string,
  options: { secondPass?: boolean; keepSelection?: boolean; leaseUntil?: string | null } = {}): Promise<void> {
  const seq = nextSeq();
  const started = performance.now();
  const keep = options.keepSelection ? new Set(grid.selected) : null;
  const changed = page.group?.neighbourhood !== hood || page.group?.key !== key;
  if (changed || !keep) grid.reset();
  if (keep && !changed) keep.forEach((id) => grid.selected.add(id)); // a selection never crosses groups
  if (changed) {
    page.page = 1;
    page.history = [];
    page.secondLabels = new Map();
    page.secondPass = Boolean(options.secondPass);
    page.leaseUntil = options.leaseUntil ?? null;
    ui.banner.dataset.sticky = '';
    banner(null);
  }
  if (options.secondPass !== undefined) page.secondPass = options.secondPass;
  if (page.hood !== hood) {
    page.hood = hood;
    await showHood(hood);
    page.groups = await loadGroups(hood);
  }
  const group = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}',
    { path: { ...P(), hood, group: key } });
  if (seq !== page.opening) return;
  page.group = group;
  page.groups = page.groups.map((g) => (g.id === group.id ? group : g));
  setParams({ n: hood, g: key });
  drawHoods();
  drawGroups();
  describeGroup();
  ui.main.dataset.group = `${hood}/${key}`;
  await Promise.all([loadMasks(seq, started), loadHistory()]);
}

/** Fetch and draw the page of masks shown; `seq` is the opening it belongs to. */
export async function loadMasks(seq = page.opening, started = performance.now()): Promise<void> {
  if (!page.group) return;
  ui.grid.setAttribute('aria-busy', 'true');
  delete ui.grid.dataset.thumbsMs;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks', {
    path: G(), query: { sort: page.sort, state: page.filter, page: page.page, per_page: PER_PAGE } });
  if (seq !== page.opening) return;
  page.total = found.total;
  const pages = Math.max(1, Math.ceil(found.total / PER_PAGE));
  ui.pageInfo.textContent = `${page.page} / ${pages}`;
  ui.pagePrev.disabled = page.page <= 1;
  ui.pageNext.disabled = page.page >= pages;
  ui.empty.hidden = found.items.length > 0;
  ui.empty.textContent = found.items.length ? '' : (page.filter === 'all' ? 'This group has no masks.' : `No ${page.filter} masks in this group.`);
  let drawn: number;
  try {
    drawn = await grid.render(found.items);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') return; // another group opened
    throw error;
  }
  if (seq !== page.opening) return;
  const ms = performance.now() - started;
  ui.grid.removeAttribute('aria-busy');
  ui.grid.dataset.thumbs = String(drawn);
  ui.grid.dataset.thumbsMs = ms.toFixed(0);
  ui.grid.dataset.seq = String(seq); // which opening (group, page, sort) this figure is of
  ui.timing.textContent = `${drawn} thumbnails in ${seconds(ms)}`;
  ui.timing.title = 'From opening the group (or page) to every thumbnail drawn';
  performance.mark('mcae-thumbs-drawn', { detail: { thumbs: drawn, ms } });
  showCount();
}

/** New mask data for the page shown (a write whose effect on the masks the page cannot know). */
export async function refreshMasks(): Promise<void> {
  if (!page.group) return;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks', {
    path: G(), query: { sort: page.sort, state: page.filter, page: page.page, per_page: PER_PAGE } });
  page.total = found.total;
  if (!grid.update(found.items)) await loadMasks();
  showCount();
}

/** The previous or next page of masks. */
export function turn(delta: number): void {
  const pages = Math.max(1, Math.ceil(page.total / PER_PAGE));
  const at = Math.max(1, Math.min(pages, page.page + delta));
  if (at === page.page) return;
  page.page = at;
  grid.focus = 0;
  void loadMasks(nextSeq());
}

export async function nextGroup(): Promise<void> {
  try {
    const out = await api.post('/api/projects/{project}/next-group', { path: P() });
    if (!out.group) {
      status('Nothing left to label in this project: every group is decided or held by someone else.', 'info');
      return;
    }
    status(`Next group: ${out.group.neighbourhood} / ${out.group.key}` +
      `${out.second_pass ? ' (second, independent labelling)' : ''}; ${out.remaining} group${out.remaining === 1 ? '' : 's'} to go.`);
    await openGroup(out.group.neighbourhood, out.group.key, { secondPass: out.second_pass, leaseUntil: out.lease_until ?? null });
    if (page.group?.id === out.group.id) { page.leaseUntil = out.lease_until ?? null; describeGroup(); }
  } catch (error) {
    status(`Next group failed: ${errorText(error)}`, 'error');
  }
}

/** j/k: the next or previous group of the neighbourhood, then of the next neighbourhood. */
export async function stepGroup(delta: number): Promise<void> {
  if (!page.group) return;
  const at = page.groups.findIndex((g) => g.id === page.group!.id);
  const next = page.groups[at + delta];
  if (next) { await openGroup(next.neighbourhood, next.key); return; }
  const hoodAt = page.hoods.findIndex((h) => h.name === page.hood);
  let hood = page.hoods[hoodAt + delta];
  if (!hood) {
    const pages = Math.ceil(page.hoodTotal / HOODS_PER_PAGE);
    const to = page.hoodPage + delta;
    if (to < 1 || to > pages) { status(delta > 0 ? 'That was the last group.' : 'That was the first group.'); return; }
    await loadHoods(to);
    hood = delta > 0 ? page.hoods[0] : page.hoods[page.hoods.length - 1];
  }
  if (!hood) return;
  page.hood = hood.name;
  page.groups = await loadGroups(hood.name);
  const target = delta > 0 ? page.groups[0] : page.groups[page.groups.length - 1];
  if (target) await openGroup(hood.name, target.key);
}

/** Select every mask of the group (every page); a class key pressed meanwhile waits for it. */
export function selectAll(): Promise<void> {
  const selecting = selectEveryPage().finally(() => { page.selecting = null; });
  page.selecting = selecting;
  return selecting;
}

async function selectEveryPage(): Promise<void> {
  if (!page.group) return;
  if (page.total <= grid.masks.length) { grid.set(grid.masks.map((m) => m.id), true); return; }
  const ids: number[] = [];
  for (let at = 1; ids.length < page.total && at <= 1000; at += 1) {
    const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks', {
      path: G(), query: { sort: 'id', state: page.filter, page: at, per_page: 500 } });
    ids.push(...found.items.map((m) => m.id));
    if (found.items.length < 500) break;
  }
  grid.set(ids, true);
}
