// The corrections of one patch: one row per mask (no duplicates), each with the class the
// expert chose, whether it is ticked for saving, and where it was clicked. Unsaved rows are
// kept per patch for the tab (sessionStorage), so paging away or reloading loses nothing.

import type { Mask, PatchMask } from '../shared/client';
export type { ClassInfo } from '../shared/client';

/** What the expert saw of a mask when the row was made (or the patch was last reloaded). */
export interface Seen {
  id: number;
  mask_id: number;
  version: number;
  class_id: number | null;
  class_name: string | null;
  fine_class: string | null;
  pred_class: number;
  via: string | null;
  bbox: number[];
}

export interface Row {
  seen: Seen;
  /** The class to save: none until the expert chooses one (a row never starts with the model's guess). */
  classId: number | null;
  fine: string | null;
  /** Ticked: saved with the next Save. */
  on: boolean;
  /** The click, in patch pixels (column x, row y). */
  x: number;
  y: number;
  /** The mask changed on the server since the row was made (set after a 409 and a reload). */
  changed?: string;
}

export function seenOf(mask: Mask | PatchMask): Seen {
  return {
    id: mask.id, mask_id: mask.mask_id, version: mask.version, class_id: mask.class_id ?? null,
    class_name: mask.class_name ?? null, fine_class: mask.fine_class ?? null, pred_class: mask.pred_class,
    via: mask.via ?? null, bbox: [...mask.bbox],
  };
}


export class Rows {
  private list: Row[] = [];
  private picked = new Set<number>(); // mask ids of the selected rows
  private key = '';

  /** Switch to the rows of `project`/`patch` (restored from this tab's storage). */
  open(project: string, patch: string): void {
    this.key = `mcae-refine:${project}:${patch}`;
    this.picked.clear();
    try {
      const raw = window.sessionStorage.getItem(this.key);
      this.list = raw ? (JSON.parse(raw) as Row[]) : [];
    } catch {
      this.list = [];
    }
  }

  private store(): void {
    if (!this.key) return;
    try {
      if (this.list.length) window.sessionStorage.setItem(this.key, JSON.stringify(this.list));
      else window.sessionStorage.removeItem(this.key);
    } catch { /* storage full or off: rows stay in memory */ }
  }

  get all(): readonly Row[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  find(maskId: number): Row | undefined {
    return this.list.find((r) => r.seen.mask_id === maskId);
  }

  /** Add a row for `mask` (or return the one it has): `added` says which. */
  add(mask: Seen, x: number, y: number): { row: Row; added: boolean } {
    const known = this.find(mask.mask_id);
    if (known) return { row: known, added: false };
    const row: Row = { seen: mask, classId: null, fine: null, on: false, x, y };
    this.list.push(row);
    this.store();
    return { row, added: true };
  }

  remove(maskIds: Iterable<number>): number {
    const drop = new Set(maskIds);
    const before = this.list.length;
    this.list = this.list.filter((r) => !drop.has(r.seen.mask_id));
    drop.forEach((m) => this.picked.delete(m));
    this.store();
    return before - this.list.length;
  }

  clear(): void {
    this.list = [];
    this.picked.clear();
    this.store();
  }

  update(maskId: number, change: Partial<Pick<Row, 'classId' | 'fine' | 'on' | 'changed'>>): void {
    const row = this.find(maskId);
    if (!row) return;
    Object.assign(row, change);
    this.store();
  }

  /** Take the server's current state of each row's mask (after a reload); the chosen classes stay. */
  refresh(masks: Map<number, Seen>, who: (mask: Seen) => string | undefined): void {
    for (const row of this.list) {
      const now = masks.get(row.seen.mask_id);
      if (!now) continue;
      if (now.version !== row.seen.version) row.changed = who(now);
      row.seen = now;
    }
    this.list = this.list.filter((r) => masks.has(r.seen.mask_id));
    this.store();
  }

  // -- selection -------------------------------------------------------------------------

  get selected(): Row[] {
    return this.list.filter((r) => this.picked.has(r.seen.mask_id));
  }

  isSelected(maskId: number): boolean {
    return this.picked.has(maskId);
  }

  select(maskId: number | null, extend = false): void {
    if (!extend) this.picked.clear();
    if (maskId === null) return;
    if (extend && this.picked.has(maskId)) this.picked.delete(maskId);
    else this.picked.add(maskId);
  }

  /** Move the selection up or down the list (one row selected). */
  step(delta: number): void {
    if (!this.list.length) return;
    const at = this.list.findIndex((r) => this.picked.has(r.seen.mask_id));
    const next = at < 0 ? (delta > 0 ? 0 : this.list.length - 1)
      : Math.min(this.list.length - 1, Math.max(0, at + delta));
    this.select(this.list[next].seen.mask_id);
  }

  /** The rows to save: ticked ones with a class chosen. */
  get ticked(): Row[] {
    return this.list.filter((r) => r.on && r.classId !== null);
  }
}
