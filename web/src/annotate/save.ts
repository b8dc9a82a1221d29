// Saving: a class for the selected masks (one decision), the rest of a group to refinement, and
// what the page does with a save's answer. A committed write answers with what changed
// (SaveOut: the decision, the group's new state); the page takes it in and asks nothing again,
// except the masks of the page shown when it cannot know them (an undo, a filtered view).

import { ConflictError, api, type Decision, type Group, type SaveOut } from '../shared/client';
import { el } from '../shared/util';
import { grid, showCount } from './cards';
import { drawGroups, loadGroups } from './groups';
import { drawHoods, loadHoods } from './hoods';
import { banner, describeGroup, errorText, status } from './notes';
import { openGroup, refreshMasks } from './open';
import { G, className, groupKey, page } from './state';
import { ui } from './ui';
import { drawHistory, loadHistory } from './undo';

/** A group's new state: the open group, its button, and its neighbourhood's progress. */
function takeGroup(group: Group): void {
  const before = page.group?.id === group.id ? page.group : page.groups.find((g) => g.id === group.id);
  if (before && group.version < before.version) return; // an older answer than what is shown
  if (page.group?.id === group.id) page.group = group;
  page.groups = page.groups.map((g) => (g.id === group.id ? group : g));
  for (const hood of [page.hoods, page.allHoods].map((list) => list.find((h) => h.name === group.neighbourhood))) {
    if (!hood || !before) continue;
    hood.decided += group.decided - before.decided;
    hood.decided_ha = (hood.decided_ha ?? 0) + (group.decided_ha ?? 0) - (before.decided_ha ?? 0);
    hood.progress = hood.masks ? hood.decided / hood.masks : 1;
  }
  drawGroups();
  drawHoods();
}

function takeDecision(decision: Decision): void {
  const at = page.history.findIndex((d) => d.id === decision.id);
  if (at >= 0) page.history[at] = decision;
  else page.history.unshift(decision);
}

/**
 * Take in a write's answer. `masks`: 'known' when the cards already show the change (a label,
 * a send to refinement), 'unknown' when only the server knows it (an undo): then, and when the
 * page shows a filtered list the write may have changed, the page of masks is fetched again.
 */
export async function applySaved(out: SaveOut, masks: 'known' | 'unknown'): Promise<void> {
  if (out.group) takeGroup(out.group);
  out.decisions.forEach(takeDecision);
  describeGroup();
  drawHistory();
  if (masks === 'unknown' || page.filter !== 'all') await refreshMasks();
  else showCount();
}

/** Everything of the open group again (after loading a file of decisions, which may touch any). */
export async function reloadGroup(): Promise<void> {
  if (!page.group) return;
  page.group = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}', { path: G() });
  describeGroup();
  const [groups] = await Promise.all([loadGroups(page.group.neighbourhood), loadHoods(), refreshMasks(), loadHistory()]);
  page.groups = groups;
  drawGroups();
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
      if (page.group) void openGroup(page.group.neighbourhood, page.group.key, { keepSelection: true });
    } }, 'Reload the group'),
  ], 'warn');
}

/** Label the selection (or `chosen`, the masks selected when the key was pressed) `classId`. */
export async function assign(classId: number, fine: string | null = null, chosen?: number[]): Promise<void> {
  if (page.selecting) await page.selecting;
  if (!page.group) return;
  const ids = chosen?.length ? chosen : [...grid.selected];
  const label = classId === 0 ? 'Unknown (label taken back)' : className(classId) + (fine ? `, ${fine}` : '');
  if (!ids.length) {
    status('Select masks first: click, shift-click, drag a box over them, or press a for all.', 'info');
    return;
  }
  page.saving = true;
  page.lastSend = null;
  document.body.classList.add('saving');
  status(`Saving ${ids.length} mask${ids.length === 1 ? '' : 's'} as ${label}…`);
  const group = page.group;
  const body = page.secondPass
    ? { class: classId, fine_class: fine, masks: ids, model_version: group.model_version, second_pass: true }
    : { class: classId, fine_class: fine, masks: ids, version: group.version, model_version: group.model_version };
  try {
    const out = await api.post('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/decisions',
      { path: G(), body });
    const decision = out.decisions[0];
    if (page.secondPass) ids.forEach((id) => page.secondLabels.set(id, { class_id: classId, fine }));
    else { // the cards, as the server applied it: a mask correction beats a group decision
      const picked = new Set(ids);
      for (const mask of grid.masks) {
        if (!picked.has(mask.id) || mask.via === 'mask') continue;
        Object.assign(mask, { class_id: classId || null, class_name: classId ? className(classId) : null,
          fine_class: classId ? fine : null, decision_id: classId ? (decision?.id ?? null) : null,
          via: classId ? 'group' : null });
      }
    }
    grid.refreshCaptions();
    grid.clear();
    status(`Save: success. ${ids.length} mask${ids.length === 1 ? '' : 's'} → ${label}` +
      (decision ? ` (decision #${decision.id}${page.secondPass ? ', second labelling' : ''})` : ''), 'ok');
    ui.status.dataset.decision = String(decision?.id ?? '');
    if (!page.secondPass && ui.banner.dataset.sticky) { ui.banner.dataset.sticky = ''; banner(null); }
    await applySaved(out, 'known');
  } catch (error) {
    if (error instanceof ConflictError) conflict(error, `${label} for ${ids.length} masks`);
    else status(`Save failed: ${errorText(error)}`, 'error');
  } finally {
    page.saving = false;
    document.body.classList.remove('saving');
  }
}

/** `r`: the group's open masks go to refinement (one step `u` takes back). */
export async function sendRestToRefine(): Promise<void> {
  if (!page.group) return;
  if (!page.group.open) { status('No open mask left in this group.', 'info'); return; }
  page.saving = true;
  try {
    const out = await api.post('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/refine',
      { path: G(), body: { version: page.group.version } });
    if (out.refinement) page.lastSend = { id: out.refinement, group: groupKey(), masks: out.masks_changed };
    for (const mask of grid.masks) if (mask.class_id === null || mask.class_id === undefined) mask.refine = true;
    grid.refreshCaptions();
    status(`Sent to refinement: ${out.masks_changed} open mask${out.masks_changed === 1 ? '' : 's'} (the Refine page shows them; u takes it back).`, 'ok');
    await applySaved(out, 'known');
  } catch (error) {
    if (error instanceof ConflictError) conflict(error, 'Sending the rest to refinement');
    else status(`Refinement failed: ${errorText(error)}`, 'error');
  } finally {
    page.saving = false;
  }
}
