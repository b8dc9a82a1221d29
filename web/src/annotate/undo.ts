// The group's history (its decisions, newest first) and taking a decision, or a send to
// refinement, back.

import { api, type Decision } from '../shared/client';
import { grid } from './cards';
import { renderHistory } from './history';
import { errorText, status } from './notes';
import { applySaved } from './save';
import { G, P, classes, groupKey, page } from './state';
import { ui } from './ui';

export async function loadHistory(): Promise<void> {
  if (!page.group) return;
  const found = await api.get('/api/projects/{project}/neighbourhoods/{hood}/groups/{group}/decisions', {
    path: G(), query: { per_page: 50 } });
  page.history = found.items;
  drawHistory();
}

function canUndo(d: Decision): boolean {
  return d.state === 'active' && (d.author === page.user.name || ['reviewer', 'admin'].includes(page.user.role));
}

export function drawHistory(): void {
  renderHistory(ui.history, page.history, page.group?.rejections ?? [], classes(), canUndo, (d) => { void undo(d); });
}

async function undoSend(send: { id: number; masks: number }): Promise<void> {
  page.saving = true;
  status(`Taking back the send to refinement…`);
  try {
    const out = await api.post('/api/projects/{project}/refinements/{refinement}/undo',
      { path: { ...P(), refinement: send.id } });
    page.lastSend = null;
    status(`Undone: the send to refinement (${out.masks_changed} mask${out.masks_changed === 1 ? '' : 's'} open again).`, 'ok');
    await applySaved(out, 'unknown');
  } catch (error) {
    status(`Undo failed: ${errorText(error)}`, 'error');
  } finally {
    page.saving = false;
  }
}

/** Undo `decision`, or (`u`) this tab's last send to refinement, else the user's latest decision. */
export async function undo(decision?: Decision): Promise<void> {
  if (!page.group) return;
  if (!decision && page.lastSend && page.lastSend.group === groupKey()) { await undoSend(page.lastSend); return; }
  const target = decision ?? page.history.find((d) => canUndo(d) && d.author === page.user.name) ?? page.history.find(canUndo);
  if (!target) { status('Nothing to undo on this group.', 'info'); return; }
  page.saving = true;
  status(`Undoing decision #${target.id}…`);
  try {
    const out = await api.post('/api/projects/{project}/decisions/{decision}/undo',
      { path: { ...P(), decision: target.id } });
    if (target.second_pass) {
      page.secondLabels.clear();
      grid.refreshCaptions();
    }
    status(`Undone: decision #${target.id} (${target.class_name}, ${target.masks} masks); ${out.masks_changed} masks changed back.`, 'ok');
    // what the masks are now, only the server knows (the decisions under this one): one GET of the page shown
    await applySaved(out, target.second_pass ? 'known' : 'unknown');
  } catch (error) {
    status(`Undo failed: ${errorText(error)}`, 'error');
  } finally {
    page.saving = false;
  }
}
