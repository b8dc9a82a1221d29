// /annotate/: cluster annotation. Pick a neighbourhood and a group (or "Next group", leased
// to you), select masks in the grid of thumbnails (click, shift-click, a box, the keyboard),
// and label them with one class in one action. Every save is one decision on the server,
// answered only after it committed; a stale group (someone else saved first) is a 409 that
// names who, and keeps your selection.

import { currentUser } from '../shared/auth';
import {
  ConflictError, api, type Decision, type Group, type Mask, type Neighbourhood, type Project,
  type SaveOut, type User,
} from '../shared/client';
import { enlarge, enlargedOpen } from '../shared/enlarge';
import { addShortcuts } from '../shared/keys';
import { startTool } from '../shared/page';
import { byId, el, flash, param, pct, seconds, setParams } from '../shared/util';
import { Grid, areaText, type ClassInfo } from './grid';
import { dumpDecisions, loadDecisions } from './transfer';
import { errorText as errorTextOf } from './errors';
import { renderHistory } from './history';
import { ha, renderGroups, renderHoods } from './pickers';
import { ui } from './ui';
import { queueWrite, writesPending } from './writes';
import './annotate.css';

type Sort = 'confidence' | '-confidence' | 'area' | '-area' | 'id';
type StateFilter = 'all' | 'open' | 'decided' | 'refine';

const PER_PAGE = 48;
const HOODS_PER_PAGE = 12;

interface State {
  user: User;
  project: Project;
  hoodPage: number;
  hoodTotal: number;
  hoods: Neighbourhood[];
  hood: string | null;
  groups: Group[];
  group: Group | null;
  secondPass: boolean;
  leaseUntil: string | null;
  sort: Sort;
  filter: StateFilter;
  page: number;
  total: number;
  history: Decision[];
  /** Classes given in this tab's second labelling (not applied, so not on the masks). */
  secondLabels: Map<number, { class_id: number; fine: string | null }>;
  saving: boolean;
  fineOf: number;
  /** The last send to refinement made here (`u` takes it back before any older decision). */
  lastSend: { id: number; group: string; masks: number } | null;
}


let s: State;
let openSeq = 0;

/** A new opening (group, page, sort, filter): what is drawn later belongs to the latest one. */
function nextSeq(): number {
  openSeq += 1;
  ui.main.dataset.opening = String(openSeq);
  return openSeq;
}

const classes = (): ClassInfo[] => s.project.classes as unknown as ClassInfo[];
const className = (id: number): string => classes().find((c) => c.id === id)?.name ?? `class ${id}`;
const P = () => ({ project: s.project.id });
const G = () => ({ project: s.project.id, hood: s.group!.neighbourhood, group: s.group!.key });

const grid = new Grid({
  node: ui.grid,
  scroll: ui.scroll,
  band: ui.band,
  classes,
  shown: (mask) => {
    if (s.secondPass) { // an independent labelling: the first labeller's classes stay hidden
      const mine = s.secondLabels.get(mask.id);
      return mine ? { class_id: mine.class_id || null, fine: mine.fine, note: mine.class_id ? undefined : 'Unknown' }
        : { class_id: null, fine: null, note: 'not labelled (2nd pass)' };
    }
    return { class_id: mask.class_id ?? null, fine: mask.fine_class ?? null };
  },
  onSelection: () => showCount(),
  onEnlarge: (mask) => enlargeMask(mask),
});

function enlargeMask(mask: Mask): void {
  enlarge({ id: mask.id, thumbnail: mask.thumbnail, title: `${mask.patch}_${mask.mask_id}`,
    caption: `${mask.class_name ?? 'undecided'} · ${areaText(mask)} · confidence ${mask.confidence?.toFixed(2) ?? '–'}` });
}

const groupKey = (): string => (s.group ? `${s.group.neighbourhood}/${s.group.key}` : '');

// -- small displays ----------------------------------------------------------------------

function showCount(): void {
  const n = grid.selected.size;
  const here = grid.masks.filter((m) => grid.selected.has(m.id)).length;
  const elsewhere = n - here;
  ui.count.textContent = `${n} selected` + (s?.total ? ` of ${s.total}` : '') + (elsewhere ? ` (${elsewhere} on other pages)` : '');
  ui.count.dataset.count = String(n);
}

function status(text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  flash(ui.status, text, kind);
}

function banner(content: (Node | string)[] | null, kind: 'warn' | 'info' | 'error' = 'warn'): void {
  if (!content) { ui.banner.hidden = true; ui.banner.replaceChildren(); return; }
  ui.banner.hidden = false;
  ui.banner.dataset.kind = kind;
  ui.banner.replaceChildren(...content);
}

const errorText = (error: unknown): string => errorTextOf(error, s.user.role);

// -- neighbourhoods and groups -----------------------------------------------------------

async function loadHoods(page = s.hoodPage): Promise<void> {
  const found = await api.get('/api/projects/{project}/neighbourhoods', { path: P(),
    query: { page, per_page: HOODS_PER_PAGE } });
  s.hoods = found.items;
  s.hoodTotal = found.total;
  s.hoodPage = page;
  drawHoods();
}

function drawHoods(): void {
  const pages = Math.max(1, Math.ceil(s.hoodTotal / HOODS_PER_PAGE));
  ui.hoodPage.textContent = `${s.hoodPage} / ${pages}`;
  ui.hoodPrev.disabled = s.hoodPage <= 1;
  ui.hoodNext.disabled = s.hoodPage >= pages;
  renderHoods(ui.hoods, s.hoods, s.hood, (name) => { void openHood(name); });
}

async function loadGroups(hood: string): Promise<Group[]> {
  const sort = byId<HTMLSelectElement>('group-sort').value as 'cluster' | '-area' | '-gain' | '-open-area';
  const min = Number(byId<HTMLInputElement>('group-min-ha').value);
  return api.get('/api/projects/{project}/neighbourhoods/{hood}/groups',
    { path: { ...P(), hood }, query: { sort, ...(min > 0 ? { min_area_ha: min } : {}) } });
}

function drawGroups(): void {
  renderGroups(ui.groups, s.hood, s.groups, s.group, s.user.name, (g) => { void openGroup(g.neighbourhood, g.key); });
}

async function openHood(hood: string, groupKey?: string): Promise<void> {
  s.hood = hood;
  drawHoods();
  s.groups = await loadGroups(hood);
  const target = s.groups.find((g) => g.key === groupKey) ?? s.groups.find((g) => g.decided < g.size) ?? s.groups[0];
  drawGroups();
  if (target) await openGroup(hood, target.key);
}

/** Make sure the neighbourhood page shows `hood` (searching the pages). */
async function showHood(hood: string): Promise<void> {
  if (s.hoods.some((h) => h.name === hood)) return;
  const pages = Math.ceil(s.hoodTotal / HOODS_PER_PAGE);
  for (let page = 1; page <= Math.min(pages, 200); page += 1) {
    await loadHoods(page);
    if (s.hoods.some((h) => h.name === hood)) return;
  }
}

function describeGroup(): void {
  const g = s.group;
  if (!g) { ui.summary.textContent = ''; return; }
  ui.summary.replaceChildren(el('strong', {}, `${g.neighbourhood} / ${g.key}`), ' ', g.summary,
    el('br'), `${g.decided}/${g.size} decided · ${g.open} open · ${g.refine} to refine · version ${g.version}`,
    el('br'), el('span', { id: 'group-area' }, `${ha(g.area_ha)} (${pct(g.share ?? 0)} of the project's area) · `
      + `${ha(g.decided_ha)} decided · ${ha(g.open_ha)} open · map gain ${ha(g.gain_ha)}`));
  const rejected = (g.rejections ?? []).filter((r) => r.author === s.user.name);
  const lease = g.lease as { user?: string; until?: string } | null;
  if (rejected.length && !s.secondPass && !ui.banner.dataset.sticky) {
    const r = rejected[0];
    banner([el('strong', {}, `Rejected by ${r.reviewer ?? 'a reviewer'}: `),
      `your decision #${r.decision} (${r.class_name}, ${r.masks} mask${r.masks === 1 ? '' : 's'}) on this group`,
      r.comment ? el('q', { class: 'review-comment' }, r.comment) : ' (no comment)',
      rejected.length > 1 ? ` and ${rejected.length - 1} more rejection${rejected.length > 2 ? 's' : ''}` : '',
      '. Its masks are open again: label them anew.'], 'warn');
    ui.banner.dataset.rejection = String(r.decision);
  } else if (s.secondPass) {
    banner([el('strong', {}, 'Second, independent labelling. '),
      'This group is one of those labelled twice: label its masks as you see them. Your classes are compared with the first labelling, not applied; the first labeller\'s classes are hidden.'], 'info');
  } else if (lease?.user && lease.user !== s.user.name) {
    banner([`${lease.user} holds this group until ${new Date(lease.until ?? '').toLocaleTimeString()}: `,
      'you can still label it (a save made on an older version is refused, never lost), or take ',
      el('button', { type: 'button', class: 'button small', onclick: () => { void nextGroup(); } }, 'the next group'), '.'], 'info');
  } else if (!ui.banner.dataset.sticky) {
    banner(null);
  }
  ui.lease.textContent = s.leaseUntil && lease?.user === s.user.name
    ? `leased to you until ${new Date(s.leaseUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : '';
}

async function openGroup(hood: string, key: string, options: { secondPass?: boolean; keepSelection?: boolean; leaseUntil?: string | null } = {}): Promise<void> {
  const seq = nextSeq();
  const started = performance.now();
  const keep = options.keepSelection ? new Set(grid.selected) : null;
  const changed = s.group?.neighbourhood !== hood || s.group?.key !== key;
  if (changed || !keep) grid.reset();
  if (keep && !changed) keep.forEach((id) => grid.selected.add(id)); // a selection never crosses groups
  if (changed) {
    s.page = 1;
    s.history = [];
    s.secondLabels = new Map();
    s.secondPass = Boolean(options.secondPass);
    s.leaseUntil = options.leaseUntil ?? null;
    ui.banner.dataset.sticky = '';
    banner(null);
  }
  if (options.secondPass !== undefined) s.secondPass = options.secondPass;
  if (s.hood !== hood) {
    s.hood = hood;
    await showHood(hood);
    s.groups = await loadGroups(hood);
  }
  const group = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}',
    { path: { ...P(), hood, group: key } });
  if (seq !== openSeq) return;
  s.group = group;
  s.groups = s.groups.map((g) => (g.id === group.id ? group : g));
  setParams({ n: hood, g: key });
  drawHoods();
  drawGroups();
  describeGroup();
  ui.main.dataset.group = `${hood}/${key}`;
  await Promise.all([loadMasks(seq, started), loadHistory()]);
}

async function loadMasks(seq = openSeq, started = performance.now()): Promise<void> {
  if (!s.group) return;
  ui.grid.setAttribute('aria-busy', 'true');
  delete ui.grid.dataset.thumbsMs;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks', {
    path: G(), query: { sort: s.sort, state: s.filter, page: s.page, per_page: PER_PAGE } });
  if (seq !== openSeq) return;
  s.total = found.total;
  const pages = Math.max(1, Math.ceil(found.total / PER_PAGE));
  ui.pageInfo.textContent = `${s.page} / ${pages}`;
  ui.pagePrev.disabled = s.page <= 1;
  ui.pageNext.disabled = s.page >= pages;
  ui.empty.hidden = found.items.length > 0;
  ui.empty.textContent = found.items.length ? '' : (s.filter === 'all' ? 'This group has no masks.' : `No ${s.filter} masks in this group.`);
  let drawn: number;
  try {
    drawn = await grid.render(found.items);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') return; // another group opened
    throw error;
  }
  if (seq !== openSeq) return;
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

/** New mask data for the page shown (after a save): captions change, images stay. */
async function refreshMasks(): Promise<void> {
  if (!s.group) return;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks', {
    path: G(), query: { sort: s.sort, state: s.filter, page: s.page, per_page: PER_PAGE } });
  s.total = found.total;
  if (!grid.update(found.items)) await loadMasks();
  showCount();
}

async function refreshGroupList(): Promise<void> {
  if (!s.hood) return;
  const [groups] = await Promise.all([loadGroups(s.hood), loadHoods()]);
  s.groups = groups;
  const mine = groups.find((g) => g.id === s.group?.id);
  if (mine && s.group && mine.version >= s.group.version) s.group = mine;
  drawGroups();
  describeGroup();
}

// -- history and undo --------------------------------------------------------------------

async function loadHistory(): Promise<void> {
  if (!s.group) return;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/decisions', {
    path: G(), query: { per_page: 50 } });
  s.history = found.items;
  drawHistory();
}

function canUndo(d: Decision): boolean {
  return d.state === 'active' && (d.author === s.user.name || ['reviewer', 'admin'].includes(s.user.role));
}

function drawHistory(): void {
  renderHistory(ui.history, s.history, s.group?.rejections ?? [], classes(), canUndo, (d) => { void undo(d); });
}

async function undoSend(send: { id: number; masks: number }): Promise<void> {
  s.saving = true;
  status(`Taking back the send to refinement…`);
  try {
    const out = await api.post('/api/projects/{project}/refinements/{refinement}/undo',
      { path: { ...P(), refinement: send.id } });
    s.lastSend = null;
    status(`Undone: the send to refinement (${out.masks_changed} mask${out.masks_changed === 1 ? '' : 's'} open again).`, 'ok');
    await afterWrite(out);
  } catch (error) {
    status(`Undo failed: ${errorText(error)}`, 'error');
  } finally {
    s.saving = false;
  }
}

async function undo(decision?: Decision): Promise<void> {
  if (!s.group) return;
  if (!decision && s.lastSend && s.lastSend.group === groupKey()) { await undoSend(s.lastSend); return; }
  const target = decision ?? s.history.find((d) => canUndo(d) && d.author === s.user.name) ?? s.history.find(canUndo);
  if (!target) { status('Nothing to undo on this group.', 'info'); return; }
  s.saving = true;
  status(`Undoing decision #${target.id}…`);
  try {
    const out = await api.post('/api/projects/{project}/decisions/{decision}/undo',
      { path: { ...P(), decision: target.id } });
    if (target.second_pass) {
      out.decisions.forEach(() => undefined);
      s.secondLabels.clear();
    }
    status(`Undone: decision #${target.id} (${target.class_name}, ${target.masks} masks); ${out.masks_changed} masks changed back.`, 'ok');
    await afterWrite();
  } catch (error) {
    status(`Undo failed: ${errorText(error)}`, 'error');
  } finally {
    s.saving = false;
  }
}

// -- saving ------------------------------------------------------------------------------

async function afterWrite(out?: SaveOut): Promise<void> {
  if (out?.group && s.group && out.group.id === s.group.id) s.group = out.group;
  else if (s.group) {
    s.group = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}', { path: G() });
  }
  describeGroup();
  await Promise.all([refreshMasks(), loadHistory(), refreshGroupList()]);
}

function conflict(error: ConflictError, what: string): void {
  const kept = grid.selected.size;
  status(`Save: conflict, nothing saved (${error.who()})`, 'error');
  ui.banner.dataset.sticky = '1';
  banner([el('strong', {}, `${what} was not saved: `),
    `${error.who()} since you opened it. Nothing of theirs or yours was overwritten`,
    kept ? `; your selection (${kept} mask${kept === 1 ? '' : 's'}) is kept.` : '.',
    ' ',
    el('button', { type: 'button', class: 'button small primary', id: 'conflict-reload', onclick: () => {
      ui.banner.dataset.sticky = '';
      banner(null);
      if (s.group) void openGroup(s.group.neighbourhood, s.group.key, { keepSelection: true });
    } }, 'Reload the group'),
  ], 'warn');
}

async function assign(classId: number, fine: string | null = null, chosen?: number[]): Promise<void> {
  if (selecting) await selecting;
  if (!s.group) return;
  const ids = chosen?.length ? chosen : [...grid.selected];
  const label = classId === 0 ? 'Unknown (label taken back)' : className(classId) + (fine ? `, ${fine}` : '');
  if (!ids.length) {
    status('Select masks first: click, shift-click, drag a box over them, or press a for all.', 'info');
    return;
  }
  s.saving = true;
  s.lastSend = null;
  document.body.classList.add('saving');
  status(`Saving ${ids.length} mask${ids.length === 1 ? '' : 's'} as ${label}…`);
  const group = s.group;
  const body = s.secondPass
    ? { class: classId, fine_class: fine, masks: ids, model_version: group.model_version, second_pass: true }
    : { class: classId, fine_class: fine, masks: ids, version: group.version, model_version: group.model_version };
  try {
    const out = await api.post('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/decisions',
      { path: G(), body });
    const decision = out.decisions[0];
    if (s.secondPass) ids.forEach((id) => s.secondLabels.set(id, { class_id: classId, fine }));
    else { // the cards at once (a mask correction beats a group decision); refreshMasks() reconciles
      const chosen = new Set(ids);
      for (const mask of grid.masks) {
        if (!chosen.has(mask.id) || mask.via === 'mask') continue;
        Object.assign(mask, { class_id: classId || null, class_name: classId ? className(classId) : null,
          fine_class: classId ? fine : null, decision_id: classId ? (decision?.id ?? null) : null,
          via: classId ? 'group' : null });
      }
    }
    grid.refreshCaptions();
    grid.clear();
    status(`Save: success. ${ids.length} mask${ids.length === 1 ? '' : 's'} → ${label}` +
      (decision ? ` (decision #${decision.id}${s.secondPass ? ', second labelling' : ''})` : ''), 'ok');
    ui.status.dataset.decision = String(decision?.id ?? '');
    if (!s.secondPass && ui.banner.dataset.sticky) { ui.banner.dataset.sticky = ''; banner(null); }
    await afterWrite(out);
    if (s.secondPass) grid.refreshCaptions();
  } catch (error) {
    if (error instanceof ConflictError) conflict(error, `${label} for ${ids.length} masks`);
    else status(`Save failed: ${errorText(error)}`, 'error');
  } finally {
    s.saving = false;
    document.body.classList.remove('saving');
  }
}

async function sendRestToRefine(): Promise<void> {
  if (!s.group) return;
  if (!s.group.open) { status('No open mask left in this group.', 'info'); return; }
  s.saving = true;
  try {
    const out = await api.post('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/refine',
      { path: G(), body: { version: s.group.version } });
    if (out.refinement) s.lastSend = { id: out.refinement, group: groupKey(), masks: out.masks_changed };
    status(`Sent to refinement: ${out.masks_changed} open mask${out.masks_changed === 1 ? '' : 's'} (the Refine page shows them; u takes it back).`, 'ok');
    await afterWrite(out);
  } catch (error) {
    if (error instanceof ConflictError) conflict(error, 'Sending the rest to refinement');
    else status(`Refinement failed: ${errorText(error)}`, 'error');
  } finally {
    s.saving = false;
  }
}

async function nextGroup(): Promise<void> {
  try {
    const out = await api.post('/api/projects/{project}/next-group', { path: P() });
    if (!out.group) {
      status('Nothing left to label in this project: every group is decided or held by someone else.', 'info');
      return;
    }
    status(`Next group: ${out.group.neighbourhood} / ${out.group.key}` +
      `${out.second_pass ? ' (second, independent labelling)' : ''}; ${out.remaining} group${out.remaining === 1 ? '' : 's'} to go.`);
    await openGroup(out.group.neighbourhood, out.group.key, { secondPass: out.second_pass, leaseUntil: out.lease_until ?? null });
    if (s.group?.id === out.group.id) { s.leaseUntil = out.lease_until ?? null; describeGroup(); }
  } catch (error) {
    status(`Next group failed: ${errorText(error)}`, 'error');
  }
}

/** j/k: the next or previous group of the neighbourhood, then of the next neighbourhood. */
async function stepGroup(delta: number): Promise<void> {
  if (!s.group) return;
  const at = s.groups.findIndex((g) => g.id === s.group!.id);
  const next = s.groups[at + delta];
  if (next) { await openGroup(next.neighbourhood, next.key); return; }
  const hoodAt = s.hoods.findIndex((h) => h.name === s.hood);
  let hood = s.hoods[hoodAt + delta];
  if (!hood) {
    const pages = Math.ceil(s.hoodTotal / HOODS_PER_PAGE);
    const page = s.hoodPage + delta;
    if (page < 1 || page > pages) { status(delta > 0 ? 'That was the last group.' : 'That was the first group.'); return; }
    await loadHoods(page);
    hood = delta > 0 ? s.hoods[0] : s.hoods[s.hoods.length - 1];
  }
  if (!hood) return;
  s.hood = hood.name;
  s.groups = await loadGroups(hood.name);
  const target = delta > 0 ? s.groups[0] : s.groups[s.groups.length - 1];
  if (target) await openGroup(hood.name, target.key);
}

let selecting: Promise<void> | null = null; // a "select all" still fetching the other pages' ids

/** Select every mask of the group (every page); a class key pressed meanwhile waits for it. */
function selectAll(): Promise<void> {
  selecting = selectEveryPage().finally(() => { selecting = null; });
  return selecting;
}

async function selectEveryPage(): Promise<void> {
  if (!s.group) return;
  if (s.total <= grid.masks.length) { grid.set(grid.masks.map((m) => m.id), true); return; }
  const ids: number[] = [];
  for (let page = 1; ids.length < s.total && page <= 1000; page += 1) {
    const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/masks', {
      path: G(), query: { sort: 'id', state: s.filter, page, per_page: 500 } });
    ids.push(...found.items.map((m) => m.id));
    if (found.items.length < 500) break;
  }
  grid.set(ids, true);
}

// -- the class buttons -------------------------------------------------------------------

function drawClassButtons(): void {
  const list = [...classes()].sort((a, b) => a.id - b.id);
  ui.coarse.replaceChildren(...list.map((c) => el('button', {
    type: 'button', class: 'button class-button', 'data-class': c.id,
    title: c.id === 0 ? 'Unknown: takes a label back (0)' : `${c.name} (${c.id})`,
    onclick: () => { grid.moveFocus(grid.focus, false); queueWrite(c.name, () => assign(c.id), (t) => status(t)); },
    onpointerenter: () => armFine(c.id), onfocus: () => armFine(c.id),
  }, el('span', { class: 'chip', style: `background:${c.id === 0 ? 'transparent' : c.color}` }),
  el('span', { class: 'name' }, c.name), el('kbd', {}, String(c.id)))));
  ui.fineOf.replaceChildren(...list.filter((c) => c.id > 0).map((c) => el('option', { value: c.id }, c.name)));
  armFine(s.group?.pred_class || 5);
}

function armFine(classId: number): void {
  if (classId === 0) return;
  s.fineOf = classId;
  ui.fineOf.value = String(classId);
  const name = className(classId);
  const fine = s.project.fine_classes[name] ?? [];
  ui.fine.replaceChildren(...(fine.length ? fine.map((f) => el('button', {
    type: 'button', class: 'button class-button fine-button', 'data-fine': f, title: `${name}, ${f}`,
    onclick: () => { grid.moveFocus(grid.focus, false); queueWrite(f, () => assign(classId, f), (t) => status(t)); },
  }, el('span', { class: 'name' }, f))) : [el('p', { class: 'note' }, `No fine classes for ${name}.`)]));
}

// -- dump and load (transfer.ts) ---------------------------------------------------------

function dump(): Promise<void> {
  return dumpDecisions(s.project.id, ui.loadStatus);
}

function load(file: File): Promise<void> {
  return loadDecisions(s.project.id, file, ui.loadStatus, ui.loadFile, async () => { if (s.group) await afterWrite(); });
}

// -- wiring ------------------------------------------------------------------------------

function wire(): void {
  ui.hoodPrev.addEventListener('click', () => { void loadHoods(s.hoodPage - 1); });
  ui.hoodNext.addEventListener('click', () => { void loadHoods(s.hoodPage + 1); });
  ui.nextGroup.addEventListener('click', () => { void nextGroup(); });
  ui.sort.addEventListener('change', () => { s.sort = ui.sort.value as Sort; s.page = 1; void loadMasks(nextSeq()); });
  ui.state.addEventListener('change', () => { s.filter = ui.state.value as StateFilter; s.page = 1; void loadMasks(nextSeq()); });
  const turn = (delta: number) => {
    const pages = Math.max(1, Math.ceil(s.total / PER_PAGE));
    const page = Math.max(1, Math.min(pages, s.page + delta));
    if (page === s.page) return;
    s.page = page;
    grid.focus = 0;
    void loadMasks(nextSeq());
  };
  ui.pagePrev.addEventListener('click', () => turn(-1));
  ui.pageNext.addEventListener('click', () => turn(1));
  ui.selectAll.addEventListener('click', () => { void selectAll(); });
  ui.selectNone.addEventListener('click', () => grid.clear());
  ui.undo.addEventListener('click', () => { queueWrite('Undo', () => undo(), (t) => status(t)); });
  ui.refine.addEventListener('click', () => { queueWrite('Rest to refine', sendRestToRefine, (t) => status(t)); });
  for (const id of ['group-sort', 'group-min-ha']) {
    byId(id).addEventListener('change', () => {
      if (s.hood) void loadGroups(s.hood).then((groups) => { s.groups = groups; drawGroups(); });
    });
  }
  ui.fineOf.addEventListener('change', () => armFine(Number(ui.fineOf.value)));
  ui.dump.addEventListener('click', () => { void dump(); });
  ui.load.addEventListener('click', () => ui.loadFile.click());
  ui.loadFile.addEventListener('change', () => { const f = ui.loadFile.files?.[0]; if (f) void load(f); });

  const open = () => Boolean(s.group);
  addShortcuts(
    ...classes().map((c) => ({ keys: [String(c.id)], label: c.id === 0 ? 'Label the selection Unknown (takes labels back)'
      : `Label the selection ${c.name}`, group: 'Label', when: open, run: () => {
      const chosen = writesPending() ? [...grid.selected] : undefined; // what was selected when the key was pressed
      queueWrite(`${c.name} (${c.id})`, () => assign(c.id, null, chosen), (t) => status(t));
    } })),
    { keys: ['r'], label: 'Send the rest of the group (its open masks) to refinement (u takes it back)', group: 'Label', when: open,
      run: () => { queueWrite('Rest to refine (r)', sendRestToRefine, (t) => status(t)); } },
    { keys: ['u', 'Ctrl+z'], label: 'Undo the last decision or send to refinement on this group', group: 'Label', when: open,
      run: () => { queueWrite('Undo (u)', () => undo(), (t) => status(t)); } },
    { keys: ['v'], label: 'Enlarge the focused thumbnail with its surroundings (or click its ⤢)', group: 'Select', when: open,
      run: () => { const m = grid.masks[grid.focus]; if (m && !enlargedOpen()) enlargeMask(m); } },
    { keys: ['a', 'Ctrl+a'], label: 'Select all masks of the group', group: 'Select', when: open, run: () => { void selectAll(); } },
    { keys: ['Escape'], label: 'Unselect all', group: 'Select', run: () => grid.clear() },
    { keys: ['i'], label: 'Invert the selection on this page', group: 'Select', when: open,
      run: () => grid.masks.forEach((m) => grid.set([m.id], !grid.selected.has(m.id))) },
    { keys: ['Space', 'Enter'], label: 'Select or unselect the focused mask', group: 'Select', when: open,
      run: () => grid.toggleFocused() },
    { keys: ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'], shown: '← → ↑ ↓', label: 'Move the focus in the grid', group: 'Select',
      when: open, run: (e) => arrow(e, false) },
    { keys: ['Shift+ArrowLeft', 'Shift+ArrowRight', 'Shift+ArrowUp', 'Shift+ArrowDown'], shown: 'Shift + ← → ↑ ↓',
      label: 'Move the focus, selecting on the way', group: 'Select', when: open, run: (e) => arrow(e, true) },
    { keys: ['Shift+click'], shown: 'Shift + click', label: 'Select every mask from the last one clicked (mouse)', group: 'Select', when: () => false, run: () => undefined },
    { keys: ['drag'], shown: 'drag a box', label: 'Draw a box over masks to select them (Alt: unselect)', group: 'Select', when: () => false, run: () => undefined },
    { keys: ['n'], label: 'Next group to label (leased to you)', group: 'Move', run: () => { void nextGroup(); } },
    { keys: ['j', 'PageDown'], label: 'Next group of the list', group: 'Move', when: open, run: () => { void stepGroup(1); } },
    { keys: ['k', 'PageUp'], label: 'Previous group of the list', group: 'Move', when: open, run: () => { void stepGroup(-1); } },
    { keys: [']'], label: 'Next page of masks', group: 'Move', when: open, run: () => turn(1) },
    { keys: ['['], label: 'Previous page of masks', group: 'Move', when: open, run: () => turn(-1) },
  );
}

function arrow(event: KeyboardEvent, extend: boolean): void {
  const d: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const [dx, dy] = d[event.key] ?? [0, 0];
  grid.step(dx, dy, extend);
}

async function startProject(project: Project, user: User): Promise<void> {
  s = {
    user, project, hoodPage: 1, hoodTotal: 0, hoods: [], hood: null, groups: [], group: null, secondPass: false,
    leaseUntil: null, sort: (ui.sort.value as Sort) || 'confidence', filter: 'all', page: 1, total: 0, history: [],
    secondLabels: new Map(), saving: false, fineOf: 5, lastSend: null,
  };
  drawClassButtons();
  await loadHoods(1);
  const hood = param('n');
  const group = param('g');
  if (hood) {
    await showHood(hood);
    await openHood(hood, group ?? undefined).catch(async (error: unknown) => {
      status(`Could not open ${hood}/${group ?? ''}: ${errorText(error)}`, 'error');
      if (s.hoods[0]) await openHood(s.hoods[0].name);
    });
  } else if (s.hoods.length) {
    const first = s.hoods.find((h) => h.progress < 1) ?? s.hoods[0];
    await openHood(first.name);
  } else {
    ui.empty.hidden = false;
    ui.empty.textContent = 'This project has no neighbourhoods.';
  }
}

async function main(): Promise<void> {
  const { user, nav } = await startTool('annotate', (project) => {
    setParams({ project: project.id, n: null, g: null });
    window.location.reload();
  });
  ui.main.hidden = false;
  s = { project: nav.project } as State; // classes for the shortcuts
  wire();
  await startProject(nav.project, currentUser() ?? user);
}

main().catch((error: unknown) => {
  if (error instanceof Error && error.message === 'no project') return;
  console.warn('annotate:', error);
  const note = document.getElementById('save-status');
  if (note) flash(note, `The page could not load: ${errorText(error)}`, 'error');
});
