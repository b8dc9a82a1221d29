// The writes of /refine/: save the ticked rows (one transaction, POST .../corrections) and mark a
// patch fully checked (PUT .../checked), each naming the version it saw; a 409 becomes a banner
// that says who changed what and offers to reload the patch, keeping the rows.

import { ApiError, ConflictError, api, type Patch, type SaveOut } from '../shared/client';
import { el, flash } from '../shared/util';
import type { Row } from './rows';

const banner = () => document.getElementById('banner') as HTMLElement;
const status = () => document.getElementById('save-status') as HTMLElement;

export function hideBanner(): void {
  const node = banner();
  node.hidden = true;
  node.replaceChildren();
  delete node.dataset.kind;
}

export function showBanner(kind: 'conflict' | 'error' | 'info', text: string, ...actions: HTMLElement[]): void {
  const node = banner();
  node.dataset.kind = kind;
  node.replaceChildren(el('span', { class: 'text' }, text), ...actions,
    el('button', { type: 'button', class: 'button small ghost-dark', 'aria-label': 'Dismiss', onclick: hideBanner }, '✕'));
  node.hidden = false;
}

/** "bob changed mask 7 (correct, 14:02): it is now Water. Nothing was saved." */
export function conflictText(error: ConflictError, what: string, className: (id: number | null) => string): string {
  const c = error.lastChange;
  const current = error.current ?? {};
  const by = c?.user ? `${c.user} changed ${what}` : `${what} was changed by someone else`;
  const at = c ? ` (${c.action}, ${new Date(c.at).toLocaleTimeString()})` : '';
  const now = 'class_id' in current ? `: it is now ${className((current.class_id as number | null) ?? null)}` : '';
  return `${by}${at}${now}. Nothing was saved.`;
}

export interface SaveResult {
  out?: SaveOut;
  conflict?: ConflictError;
  error?: string;
}

/** Save `rows` of `patch` in one transaction; the status line says "Saved: N masks" only after the 201. */
export async function saveRows(project: string, patch: string, rows: readonly Row[]): Promise<SaveResult> {
  const line = status();
  flash(line, `Saving ${rows.length} mask${rows.length === 1 ? '' : 's'}…`, 'info');
  try {
    const out = await api.post('/api/projects/{project}/patches/{patch}/corrections', {
      path: { project, patch },
      body: { rows: rows.map((r) => ({ mask: r.seen.mask_id, class: r.classId ?? 0, fine_class: r.fine,
        version: r.seen.version })) },
    });
    flash(line, `Saved: ${rows.length} mask${rows.length === 1 ? '' : 's'} (${out.masks_changed} changed)`, 'ok');
    line.dataset.saved = String(rows.length);
    return { out };
  } catch (error) {
    if (error instanceof ConflictError) {
      flash(line, 'Not saved: someone changed a mask meanwhile (see above).', 'error');
      return { conflict: error };
    }
    const text = error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error);
    flash(line, `Not saved: ${text}`, 'error');
    return { error: text };
  }
}

export interface CheckResult {
  patch?: Patch;
  conflict?: ConflictError;
  error?: string;
}

export async function setChecked(project: string, patch: string, checked: boolean, version: number,
  override = false): Promise<CheckResult> {
  try {
    const out = await api.put('/api/projects/{project}/patches/{patch}/checked', {
      path: { project, patch }, body: { checked, version, override } });
    return { patch: out };
  } catch (error) {
    if (error instanceof ConflictError) return { conflict: error };
    return { error: error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error) };
  }
}
