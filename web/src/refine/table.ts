// The list of corrections on the right: a row per mask with its tick, the mask id and its
// current class, the coarse-class and fine-class dropdowns, and a delete button.

import { el, inkOn } from '../shared/util';
import type { ClassInfo, Row, Rows } from './rows';

export interface TableEvents {
  /** A row was clicked (selected); `extend` with Shift/Ctrl. */
  select: (maskId: number, extend: boolean) => void;
  changed: () => void;
}

export class Table {
  private readonly body = document.getElementById('row-body') as HTMLTableSectionElement;
  private readonly all = document.getElementById('all-rows') as HTMLInputElement;
  private readonly empty = document.getElementById('no-rows') as HTMLElement;
  private readonly count = document.getElementById('row-count') as HTMLElement;
  classes: ClassInfo[] = [];
  fine: Record<string, string[]> = {};

  constructor(private readonly rows: Rows, private readonly events: TableEvents) {
    this.all.addEventListener('change', () => {
      for (const row of this.rows.all) this.rows.update(row.seen.mask_id, { on: this.all.checked });
      this.render();
      this.events.changed();
    });
  }

  className(id: number | null | undefined): string {
    if (id === null || id === undefined) return 'undecided';
    return this.classes.find((c) => c.id === id)?.name ?? `class ${id}`;
  }

  colour(id: number | null | undefined): string {
    return this.classes.find((c) => c.id === id)?.color ?? '#000000';
  }

  private chip(id: number | null): HTMLElement {
    return el('span', { class: 'chip', style: `background:${id ? this.colour(id) : '#000'}` });
  }

  private now(row: Row): HTMLElement {
    const s = row.seen;
    const via = s.via ? ` (${s.via === 'mask' ? 'corrected' : 'by group'})` : '';
    const title = s.class_id === null ? `undecided; predicted ${this.className(s.pred_class)}` : `${this.className(s.class_id)}${via}`;
    return el('span', { class: 'now', title, 'data-class': s.class_id ?? '', 'data-via': s.via ?? '' },
      this.chip(s.class_id), s.class_id === null ? el('i', {}, 'undecided') : this.className(s.class_id),
      s.fine_class ? el('span', { class: 'note' }, ` · ${s.fine_class}`) : null);
  }

  private coarse(row: Row, index: number): HTMLSelectElement {
    const select = el('select', { class: 'coarse', 'aria-label': `Coarse class of mask ${row.seen.mask_id}`,
      'data-mask': row.seen.mask_id },
    el('option', { value: '', selected: row.classId === null }, '— choose —'),
    ...this.classes.map((c) => el('option', { value: c.id, selected: c.id === row.classId },
      `${c.id} · ${c.name}`)));
    select.style.setProperty('--class', this.colour(row.classId ?? 0));
    select.style.setProperty('--class-ink', inkOn(this.colour(row.classId ?? 0)));
    select.addEventListener('change', () => {
      const classId = select.value === '' ? null : Number(select.value);
      const fineNames = classId === null ? [] : this.fine[this.className(classId)] ?? [];
      this.rows.update(row.seen.mask_id, { classId, on: classId !== null,
        fine: row.fine && fineNames.includes(row.fine) ? row.fine : null });
      this.rows.select(row.seen.mask_id);
      this.render();
      this.events.changed();
      // keep the keyboard where it was: the same dropdown of the redrawn row
      (this.body.querySelectorAll<HTMLSelectElement>('select.coarse')[index])?.focus();
    });
    return select;
  }

  private fineSelect(row: Row): HTMLSelectElement {
    const names = row.classId === null ? [] : this.fine[this.className(row.classId)] ?? [];
    const select = el('select', { class: 'fine', 'aria-label': `Fine class of mask ${row.seen.mask_id}`,
      disabled: names.length === 0, title: names.length ? null : 'No fine classes for this class (an admin sets them)' },
    el('option', { value: '' }, names.length ? '—' : 'none'),
    ...names.map((n) => el('option', { value: n, selected: n === row.fine }, n)));
    select.addEventListener('change', () => {
      this.rows.update(row.seen.mask_id, { fine: select.value || null });
      this.events.changed();
    });
    return select;
  }

  render(): void {
    const list = this.rows.all;
    this.body.replaceChildren(...list.map((row, index) => {
      const id = row.seen.mask_id;
      const tick = el('input', { type: 'checkbox', class: 'tick', 'aria-label': `Save mask ${id}`, checked: row.on });
      tick.addEventListener('change', () => { this.rows.update(id, { on: tick.checked }); this.render(); this.events.changed(); });
      const remove = el('button', { type: 'button', class: 'button small danger delete', title: 'Remove this row (Delete)',
        'aria-label': `Remove the row of mask ${id}` }, '✕');
      remove.addEventListener('click', (event) => { event.stopPropagation(); this.rows.remove([id]); this.render(); this.events.changed(); });
      const tr = el('tr', { 'data-mask': id, 'data-class': row.classId, class: [this.rows.isSelected(id) ? 'selected' : '',
        row.on ? '' : 'off', row.changed ? 'changed' : ''].join(' ').trim() || null,
      'aria-selected': this.rows.isSelected(id) ? 'true' : 'false' },
      el('td', {}, tick),
      el('td', { class: 'mask' }, el('div', { class: 'mid' }, el('span', { class: 'num' }, String(index + 1)), ` #${id}`),
        this.now(row), row.changed ? el('div', { class: 'changed-note' }, row.changed) : null),
      el('td', {}, this.coarse(row, index)),
      el('td', {}, this.fineSelect(row)),
      el('td', {}, remove));
      tr.addEventListener('click', (event) => {
        const target = event.target as HTMLElement;
        if (target.closest('select, input, button')) return;
        this.events.select(id, event.shiftKey || event.ctrlKey || event.metaKey);
      });
      return tr;
    }));
    this.empty.hidden = list.length > 0;
    this.count.textContent = String(list.length);
    this.count.dataset.count = String(list.length);
    this.all.checked = list.length > 0 && list.every((r) => r.on);
    this.all.indeterminate = list.some((r) => r.on) && !list.every((r) => r.on);
    this.body.querySelector('tr.selected')?.scrollIntoView({ block: 'nearest' });
  }
}
