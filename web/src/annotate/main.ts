// /annotate/: cluster annotation. Pick a neighbourhood and a group (or "Next group", leased
// to you), select masks in the grid of thumbnails (click, shift-click, a box, the keyboard),
// and label them with one class in one action. Every save is one decision on the server,
// answered only after it committed; a stale group (someone else saved first) is a 409 that
// names who, and keeps your selection.
//
// The page's modules: state.ts (the one state object), ui.ts (its elements), hoods.ts and
// groups.ts (the pickers), open.ts (opening a group, its masks, moving), cards.ts + grid.ts
// (the thumbnails and the selection), save.ts (labelling, refinement, a save's answer),
// undo.ts + history.ts (the history), classbar.ts, shortcuts.ts, notes.ts, transfer.ts.

import { currentUser } from '../shared/auth';
import type { Project, User } from '../shared/client';
import { startTool } from '../shared/page';
import { debounce, flash, param, setParams } from '../shared/util';
import { grid } from './cards';
import { armFine, drawClassButtons } from './classbar';
import { fillClassFilter, reloadGroups } from './groups';
import { findHoods, jumpToTyped, loadHoods, showHood } from './hoods';
import { loadHoodMap } from './hoodmap';
import { errorText, status } from './notes';
import { loadMasks, nextGroup, openHood, selectAll, turn } from './open';
import { reloadGroup, sendRestToRefine } from './save';
import { addAnnotateShortcuts } from './shortcuts';
import { begin, nextSeq, page, type Sort, type StateFilter } from './state';
import { dumpDecisions, loadDecisions } from './transfer';
import { ui } from './ui';
import { undo } from './undo';
import { queueWrite } from './writes';
import './annotate.css';

function wire(): void {
  ui.hoodPrev.addEventListener('click', () => { void loadHoods(page.hoodPage - 1); });
  ui.hoodNext.addEventListener('click', () => { void loadHoods(page.hoodPage + 1); });
  ui.nextGroup.addEventListener('click', () => { void nextGroup(); });
  ui.sort.addEventListener('change', () => { page.sort = ui.sort.value as Sort; page.page = 1; void loadMasks(nextSeq()); });
  ui.state.addEventListener('change', () => { page.filter = ui.state.value as StateFilter; page.page = 1; void loadMasks(nextSeq()); });
  ui.pagePrev.addEventListener('click', () => turn(-1));
  ui.pageNext.addEventListener('click', () => turn(1));
  ui.selectAll.addEventListener('click', () => { void selectAll(); });
  ui.selectNone.addEventListener('click', () => grid.clear());
  ui.undo.addEventListener('click', () => { queueWrite('Undo', () => undo(), (t) => status(t)); });
  ui.refine.addEventListener('click', () => { queueWrite('Rest to refine', sendRestToRefine, (t) => status(t)); });
  for (const node of [ui.groupSort, ui.groupMin, ui.groupClass]) node.addEventListener('change', () => { void reloadGroups(); });
  ui.groupQ.addEventListener('input', debounce(() => { void reloadGroups(); }, 250));
  ui.hoodQ.addEventListener('input', debounce(() => { void findHoods(ui.hoodQ.value); }, 250));
  ui.hoodQ.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); void jumpToTyped(); }
  });
  ui.fineOf.addEventListener('change', () => armFine(Number(ui.fineOf.value)));
  ui.dump.addEventListener('click', () => { void dumpDecisions(page.project.id, ui.loadStatus); });
  ui.load.addEventListener('click', () => ui.loadFile.click());
  ui.loadFile.addEventListener('change', () => {
    const file = ui.loadFile.files?.[0];
    if (file) void loadDecisions(page.project.id, file, ui.loadStatus, ui.loadFile, reloadGroup);
  });
}

async function startProject(project: Project, user: User): Promise<void> {
  begin(project, user);
  drawClassButtons();
  fillClassFilter();
  await loadHoods(1);
  loadHoodMap().catch((error: unknown) => status(`The neighbourhoods' map could not load: ${errorText(error)}`, 'error'));
  const hood = param('n');
  const group = param('g');
  if (hood) {
    await showHood(hood);
    await openHood(hood, group ?? undefined).catch(async (error: unknown) => {
      status(`Could not open ${hood}/${group ?? ''}: ${errorText(error)}`, 'error');
      if (page.hoods[0]) await openHood(page.hoods[0].name);
    });
  } else if (page.hoods.length) {
    const first = page.hoods.find((h) => h.progress < 1) ?? page.hoods[0];
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
  page.project = nav.project; // the classes, for the shortcuts
  wire();
  addAnnotateShortcuts();
  await startProject(nav.project, currentUser() ?? user);
}

main().catch((error: unknown) => {
  if (error instanceof Error && error.message === 'no project') return;
  console.warn('annotate:', error);
  const note = document.getElementById('save-status');
  if (note) flash(note, `The page could not load: ${errorText(error)}`, 'error');
});
