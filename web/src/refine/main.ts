// /refine/: correct single masks of a patch. The imagery on the left, its classification in the
// centre, the corrections on the right; a click on either image picks the mask under it
// (mask-at), marks it with a cross and adds a row; Save commits the ticked rows in one
// transaction. A pager over the patches, a locator on the city map, "fully checked".

import {
  ApiError, ConflictError, api, isAbort, urlOf, type PatchDetail, type PatchMask, type Project,
} from '../shared/client';
import { addShortcuts } from '../shared/keys';
import { startTool } from '../shared/page';
import { byId, el, fill, flash, inkOn, param, setParams, when } from '../shared/util';
import { conflictText, hideBanner, saveRows, setChecked, showBanner } from './actions';
import { Cursor } from './cursor';
import { patchAt, wireJump } from './jump';
import { Locator } from './locator';
import { FILTERS, PatchList, type Filter } from './patches';
import { Rows, seenOf, type ClassInfo, type Seen } from './rows';
import { Table } from './table';
import { page } from './state';
import { Views, type Pick } from './views';
import './refine.css';


const rows = new Rows();
const list = new PatchList();
const locator = new Locator();
const status = () => byId('save-status');
const table = new Table(rows, {
  select: (maskId, extend) => { rows.select(maskId, extend); redraw(false); },
  changed: () => redraw(false),
});
const views = new Views((pick) => { cursor.follow(pick.x, pick.y); void pickAt(pick); });
const cursor = new Cursor(views, (pick) => { void pickAt(pick); });

function classesOf(p: Project): ClassInfo[] {
  return p.classes.map((c) => ({ id: c.id, name: c.name, color: c.color }))
    .sort((a, b) => a.id - b.id);
}

function patchPath(rest: string): string {
  return `/api/projects/${encodeURIComponent(page.project.id)}/patches/${encodeURIComponent(page.detail?.name ?? '')}${rest}`;
}

function classificationPath(): string {
  const highlight = [...new Set(rows.all.map((r) => r.seen.mask_id))].sort((a, b) => a - b).slice(0, 200);
  const show = (byId<HTMLInputElement>('show-map')).checked ? 'map' : 'decided';
  return urlOf(patchPath('/classification.png'), { highlight, show });
}

// -- drawing -------------------------------------------------------------------------------


/** Redraw the rows, the crosses, the Save button; refresh the classification if its outlines changed. */
function redraw(freshClassification: boolean): void {
  table.render();
  views.drawMarks(rows.all, (m) => rows.isSelected(m));
  const ticked = rows.ticked.length;
  const save = byId<HTMLButtonElement>('save');
  save.disabled = page.saving || ticked === 0;
  save.textContent = ticked ? `Save ${ticked}` : 'Save';
  byId('hint').textContent = rows.length ? 'Digits set the class of the selected rows; Delete removes them.'
    : 'Click a mask on either image.';
  if (!page.detail) return;
  drawWaiting();
  const path = classificationPath();
  if (freshClassification || path !== page.shownClassification) {
    page.shownClassification = path;
    views.loadClassification(path, freshClassification).catch(report);
  }
}

function drawPatch(): void {
  if (!page.detail) return;
  const d = page.detail;
  byId('patch-name').textContent = `Patch ${d.name}`;
  byId('position').textContent = list.position;
  byId('position').title = list.waiting ? `${list.waiting} patch${list.waiting === 1 ? '' : 'es'} with masks waiting for refinement`
    : 'No patch of this list waits for refinement';
  byId<HTMLButtonElement>('prev').disabled = list.index <= 0;
  byId<HTMLButtonElement>('next').disabled = list.index >= list.items.length - 1;
  fill(byId('patch-stats'),
    el('span', { id: 'decided' }, `${d.decided} / ${d.masks} decided`),
    el('span', { id: 'decided-area', title: 'Area decided of the patch\'s masks' },
      ` · ${(d.decided_ha ?? 0).toFixed(2)} / ${(d.area_ha ?? 0).toFixed(2)} ha`),
    d.refine ? el('span', { class: 'waiting-count' }, ` · ${d.refine} waiting`) : null,
    el('span', { title: 'Neighbourhood' }, ` · hood ${d.neighbourhood}`));
  const check = byId<HTMLButtonElement>('checked');
  check.setAttribute('aria-pressed', d.checked ? 'true' : 'false');
  check.dataset.version = String(d.version);
  byId('checked-by').textContent = d.checked ? `checked by ${d.checked_by ?? 'someone'} ${when(d.checked_at)}`.trim()
    : 'not yet';
  drawWaiting();
}

/** The masks sent to refinement from /annotate/: a click adds a row (the cross at the box's centre). */
function drawWaiting(): void {
  const box = byId('waiting');
  const waiting = (page.detail?.mask_list ?? []).filter((m) => m.refine && m.class_id === null && !rows.find(m.mask_id));
  box.hidden = waiting.length === 0;
  const add = (m: PatchMask) => {
    const [x0, y0, x1, y1] = m.bbox; // the API's boxes are [x0, y0, x1, y1]: columns first
    addRow(seenOf(m), Math.floor((x0 + x1 - 1) / 2), Math.floor((y0 + y1 - 1) / 2), false);
  };
  fill(box, el('span', { class: 'note' }, 'Waiting for refinement:'),
    ...waiting.map((m) => el('button', { type: 'button', class: 'button small', 'data-mask': m.mask_id,
      title: `Add a row for mask ${m.mask_id}`, onclick: () => { add(m); redraw(false); } }, `#${m.mask_id}`)),
    waiting.length > 1 ? el('button', { type: 'button', class: 'button small', id: 'add-waiting',
      onclick: () => { waiting.forEach(add); redraw(false); } }, 'Add all') : null);
}

function drawLegend(classes: ClassInfo[]): void {
  byId('legend').replaceChildren(...classes.map((c) => el('button', { type: 'button', class: 'legend-class',
    'data-class': c.id, title: `Set the selected rows to ${c.name} (${c.id})`,
    style: `--class:${c.color};--class-ink:${inkOn(c.color)}`, onclick: () => setClass(c.id) },
  el('kbd', {}, String(c.id)), el('span', { class: 'chip', style: `background:${c.color}` }), c.name)));
}

function report(error: unknown): void {
  if (isAbort(error)) return;
  const text = error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error);
  showBanner('error', text);
}

// -- patches -------------------------------------------------------------------------------

async function loadDetail(name: string): Promise<PatchDetail> {
  const found = await api.get('/api/projects/{project}/patches/{patch}', { path: { project: page.project.id, patch: name } });
  page.masks = new Map(found.mask_list.map((m) => [m.mask_id, seenOf(m)]));
  return found;
}

async function openPatch(): Promise<void> {
  const current = list.current;
  const ticket = ++page.opening;
  hideBanner();
  flash(status(), '', 'info');
  views.reset();
  page.shownClassification = '';
  page.detail = null;
  byId('refine').dataset.patch = '';
  if (!current) {
    byId('patch-name').textContent = 'No patch';
    byId('position').textContent = list.position;
    byId('patch-stats').textContent = list.filter === 'refine' ? 'No patch waits for refinement.' : 'No patch here.';
    rows.open(page.project.id, '');
    redraw(false);
    return;
  }
  setParams({ patch: current.name, filter: list.filter === 'refine-first' ? null : list.filter });
  rows.open(page.project.id, current.name);
  const found = await loadDetail(current.name);
  if (ticket !== page.opening) return;
  page.detail = found;
  drawPatch();
  locator.show(found.bounds);
  await views.loadImage(patchPath('/image.png'), Number(page.project.grid.patch_size ?? 1024));
  if (ticket !== page.opening) return;
  redraw(false);
  cursor.redraw();
  byId('refine').dataset.patch = found.name;
}

/** Open the patch `name`: in the pager's list, else among every patch (the filter then says so). */
async function openByName(name: string): Promise<boolean> {
  if (!list.goTo(name)) {
    const filter = byId<HTMLSelectElement>('filter');
    filter.value = 'all';
    await list.load(page.project.id, 'all', name);
    if (!list.goTo(name)) return false;
  }
  await openPatch();
  return true;
}

function go(delta: number): void {
  if (list.move(delta)) openPatch().catch(report);
}

// -- rows ----------------------------------------------------------------------------------

function addRow(mask: Seen, x: number, y: number, extend: boolean): void {
  const { added } = rows.add(mask, x, y);
  rows.select(mask.mask_id, extend && !added ? true : extend);
  if (!added) flash(status(), `Mask ${mask.mask_id} has a row already: selected.`, 'info');
}

async function pickAt(pick: Pick): Promise<void> {
  if (!page.detail) return;
  const name = page.detail.name;
  const found = await api.get('/api/projects/{project}/patches/{patch}/mask-at', {
    path: { project: page.project.id, patch: name }, query: { x: pick.x, y: pick.y } }).catch((e: unknown) => { report(e); return undefined; });
  if (found === undefined || page.detail?.name !== name) return;
  if (found.found === 'neighbour') {
    flash(status(), `The mask at (${pick.x}, ${pick.y}) belongs to a neighbouring patch: correct it there.`, 'info');
    return;
  }
  if (!found.mask) {
    flash(status(), `No mask of this patch at (${pick.x}, ${pick.y}): nothing to correct there.`, 'info');
    return;
  }
  const seen = seenOf(found.mask);
  const known = rows.find(seen.mask_id);
  if (known) {
    rows.select(seen.mask_id, pick.extend);
    flash(status(), `Mask ${seen.mask_id} has a row already: selected.`, 'info');
  } else {
    page.masks.set(seen.mask_id, seen);
    addRow(seen, pick.x, pick.y, pick.extend);
    flash(status(), '', 'info');
  }
  redraw(false);
}

function setClass(classId: number): void {
  const targets = rows.selected;
  if (!targets.length) {
    flash(status(), rows.length ? 'Select a row first (click it, or its mask).' : 'Click a mask first.', 'info');
    return;
  }
  if (!table.classes.some((c) => c.id === classId)) return;
  for (const row of targets) rows.update(row.seen.mask_id, { classId, fine: null, on: true });
  redraw(false);
}

function removeSelected(): void {
  const targets = rows.selected.map((r) => r.seen.mask_id);
  if (!targets.length) return;
  rows.remove(targets);
  redraw(false);
}

// -- writes --------------------------------------------------------------------------------

/** Reload the patch from the server, keeping the rows (their masks' current versions and classes). */
async function reloadKeepingRows(): Promise<void> {
  if (!page.detail) return;
  hideBanner();
  const found = await loadDetail(page.detail.name);
  page.detail = found;
  rows.refresh(page.masks, (m) => `changed on the server: now ${table.className(m.class_id)}`);
  list.replace(found);
  drawPatch();
  redraw(true);
  flash(status(), 'Reloaded: the rows are kept, with the masks as they are now.', 'info');
}

async function save(): Promise<void> {
  if (!page.detail || page.saving) return;
  const ticked = rows.ticked;
  if (!ticked.length) {
    flash(status(), 'Nothing to save: add a row (click a mask) or tick one.', 'info');
    return;
  }
  page.saving = true;
  redraw(false);
  const name = page.detail.name;
  try {
    const result = await saveRows(page.project.id, name, ticked);
    if (result.out) {
      hideBanner();
      rows.remove(ticked.map((r) => r.seen.mask_id));
      page.detail = await loadDetail(name);
      if (result.out.patch) list.replace(result.out.patch);
      drawPatch();
      page.saving = false;
      redraw(true);
    } else if (result.conflict) {
      const current = result.conflict.current ?? {};
      const what = 'mask' in current ? `mask ${String(current.mask)}` : `patch ${name}`;
      showBanner('conflict', conflictText(result.conflict, what, (id) => table.className(id)),
        el('button', { type: 'button', class: 'button small primary', id: 'reload-patch',
          onclick: () => { reloadKeepingRows().catch(report); } }, 'Reload the patch (keep my rows)'));
    }
  } finally {
    page.saving = false;
    redraw(false);
  }
}

function askOverride(text: string): void {
  showBanner('error', `Not marked fully checked: ${text}.`,
    el('button', { type: 'button', class: 'button small', id: 'check-anyway',
      onclick: () => { toggleChecked(true).catch(report); } }, 'Mark it checked anyway (recorded with my name)'));
}

async function toggleChecked(override = false): Promise<void> {
  if (!page.detail) return;
  const undecided = page.detail.masks - page.detail.decided;
  if (!page.detail.checked && !override && undecided > 0) { // the server refuses it too; ask before sending
    askOverride(`patch ${page.detail.name} has ${undecided} undecided masks (${page.detail.refine} waiting for refinement): `
      + 'a fully checked patch feeds the dense training set, so decide them first');
    return;
  }
  const button = byId<HTMLButtonElement>('checked');
  button.disabled = true;
  try {
    const result = await setChecked(page.project.id, page.detail.name, !page.detail.checked, page.detail.version, override);
    if (result.patch && page.detail) {
      page.detail = { ...page.detail, ...result.patch };
      list.replace(result.patch);
      drawPatch();
      hideBanner();
    } else if (result.conflict) {
      showBanner('conflict', conflictText(result.conflict, `patch ${page.detail.name}`, (id) => table.className(id)),
        el('button', { type: 'button', class: 'button small primary', id: 'reload-patch',
          onclick: () => { reloadKeepingRows().catch(report); } }, 'Reload the patch (keep my rows)'));
    } else if (result.error && result.error.includes('undecided masks')) {
      // the server's rule: a checked patch feeds the dense training set; an override is recorded
      askOverride(result.error);
    } else if (result.error) {
      showBanner('error', `Not marked: ${result.error}`);
    }
  } finally {
    button.disabled = false;
  }
}

// -- start ---------------------------------------------------------------------------------

function shortcuts(): void {
  const digits = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
  addShortcuts(
    { keys: digits, label: 'Set the class of the selected rows (0: Unknown, takes a label back)', group: 'Corrections',
      run: (e) => setClass(Number(e.key)) },
    { keys: ['Delete', 'Backspace'], label: 'Remove the selected rows', group: 'Corrections', run: removeSelected },
    { keys: ['ArrowUp', 'k'], label: 'Select the previous row', group: 'Corrections', run: () => { rows.step(-1); redraw(false); } },
    { keys: ['ArrowDown', 'j'], label: 'Select the next row', group: 'Corrections', run: () => { rows.step(1); redraw(false); } },
    { keys: ['x'], label: 'Tick or untick the selected rows (only ticked rows are saved)', group: 'Corrections',
      run: () => { rows.selected.forEach((r) => rows.update(r.seen.mask_id, { on: !r.on })); redraw(false); } },
    { keys: ['Escape'], label: 'Select no row', group: 'Corrections', run: () => { rows.select(null); redraw(false); } },
    { keys: ['s', 'Ctrl+s'], label: 'Save the ticked rows (one transaction)', group: 'Corrections', inFields: true,
      run: () => { save().catch(report); } },
    { keys: ['ArrowLeft', '['], label: 'Previous patch', group: 'Patches', run: () => go(-1) },
    { keys: ['ArrowRight', ']'], label: 'Next patch', group: 'Patches', run: () => go(1) },
    { keys: ['c'], label: 'Mark the patch fully checked, or not', group: 'Patches', run: () => { toggleChecked().catch(report); } },
    { keys: ['g'], label: 'Jump to a patch by name (Enter opens it)', group: 'Patches',
      run: () => { const field = byId<HTMLInputElement>('patch-q'); field.focus(); field.select(); } },
    { keys: ['b'], label: 'Blend the classification over the imagery, or not', group: 'View', run: () => views.toggleBlend() },
    { keys: ['+', '='], label: 'Zoom in (also the mouse wheel; drag to pan)', group: 'View', run: () => views.zoom.zoomAt(1.5) },
    { keys: ['-'], label: 'Zoom out', group: 'View', run: () => views.zoom.zoomAt(1 / 1.5) },
    { keys: ['z'], label: 'Fit the whole patch again', group: 'View', run: () => views.zoom.reset() },
    { keys: ['p'], label: 'Show the predictions where no expert decided, or not', group: 'View',
      run: () => { const box = byId<HTMLInputElement>('show-map'); box.checked = !box.checked; redraw(false); } },
  );
  cursor.addKeys();
}

async function start(): Promise<void> {
  const { nav } = await startTool('refine', (next) => {
    window.location.href = `/refine/?project=${encodeURIComponent(next.id)}`;
  });
  page.project = nav.project;
  const classes = classesOf(page.project);
  table.classes = classes;
  table.fine = page.project.fine_classes ?? {};
  drawLegend(classes);
  byId('refine').hidden = false;
  shortcuts();

  byId('prev').addEventListener('click', () => go(-1));
  byId('next').addEventListener('click', () => go(1));
  byId('save').addEventListener('click', () => { save().catch(report); });
  byId('clear-rows').addEventListener('click', () => { rows.clear(); redraw(false); });
  byId('checked').addEventListener('click', () => { toggleChecked().catch(report); });
  byId('show-map').addEventListener('change', () => redraw(false));
  const filter = byId<HTMLSelectElement>('filter');
  const wanted = param('filter') as Filter | null;
  filter.value = wanted && FILTERS.includes(wanted) ? wanted : 'refine-first';
  filter.addEventListener('change', () => {
    list.load(page.project.id, filter.value as Filter, page.detail?.name).then(openPatch).catch(report);
  });

  wireJump(() => page.project.id, openByName, (text) => flash(status(), text, 'info'));
  locator.onPick = (lon, lat) => {
    const found = page.detail ? patchAt(list.items, page.detail, views, page.project.grid, lon, lat) : undefined;
    if (found) openByName(found.name).catch(report);
    else flash(status(), 'No patch of this list there.', 'info');
  };
  locator.open(page.project.city).catch(() => undefined);
  await list.load(page.project.id, filter.value as Filter, param('patch'));
  await openPatch();
}

start().catch((error: unknown) => {
  if (error instanceof Error && error.message === 'no project') return;
  if (!(error instanceof ConflictError)) report(error);
});
